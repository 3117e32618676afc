"""Test helpers for whole-pipeline tests: a small story config pointing at local peers, and RSS bodies.

The story: the city of Riverton threatens to ban Acme Robotics' delivery drones. One thread ("ban": none ->
threatened -> banned -> lifted) and a deadline. Everything is fictional.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from monitor.config.load import load_settings
from monitor.config.schema import Settings

STORY = """
[[stories]]
id = "acme-ban"
title = "Riverton drone ban"
zone = "America/Chicago"

[stories.relevance]
require = [["Acme", "Acme Robotics"], ["Riverton", "city council", "drone ban", "mayor"]]

[stories.threads.ban]
title = "Drone ban"
objects = ["Acme", "drones", "drone", "delivery drones"]
transitions = {{ none = ["threatened", "banned"], threatened = ["banned", "lifted"], banned = ["lifted"] }}

[[stories.threads.ban.states]]
id = "none"
level = 0
kind = "initial"

[[stories.threads.ban.states]]
id = "threatened"
title = "ban threatened"
level = 1
kind = "threat"
cues = ["threatens to ban"]

[[stories.threads.ban.states]]
id = "banned"
title = "drones banned"
level = 3
kind = "act"
cues = ["ban", "bar"]

[[stories.threads.ban.states]]
id = "lifted"
title = "ban lifted"
level = 0
kind = "act"
cues = ["lifts the ban", "lift the ban", "lifts ban"]

[[stories.deadlines]]
id = "permit"
title = "Acme permit deadline"
due = {due}
zone = "America/Chicago"
reminders = ["24h", "1h"]
resolved_by = ["ban.lifted"]
"""


def write_config(
    folder: Path,
    *,
    feeds: Sequence[tuple[str, str, str]],
    channels: str = "",
    monitor: str = "",
    due: str = "2030-06-01T17:00:00",
    poll_interval: str = "1m",
    feed_extra: str = "",
) -> Path:
    """Write a config with ``feeds`` as (id, url, source kind) and return its path."""
    lines = ["[monitor]", f'database_url = "sqlite:///{folder / "monitor.db"}"', 'contact = "test@example.test"']
    lines.append(monitor)
    for feed_id, url, source in feeds:
        lines += ["[[feeds]]", f'id = "{feed_id}"', f'url = "{url}"', f'source = "{source}"']
        lines += [f'poll_interval = "{poll_interval}"', feed_extra]
    text = "\n".join(lines) + "\n" + STORY.format(due=due) + "\n" + channels
    path = folder / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(path: Path) -> Settings:
    return load_settings(path, env={})


def rss(title: str, items: Iterable[tuple[str, str, datetime]], link: str = "https://feeds.example.test/") -> bytes:
    """An RSS 2.0 document; ``items`` are (title, link, published)."""
    entries = []
    for item_title, item_link, published in items:
        entries.append(
            "<item>"
            f"<title>{escape(item_title)}</title><link>{escape(item_link)}</link>"
            f"<guid>{escape(item_link)}</guid>"
            f"<pubDate>{format_datetime(published.astimezone(UTC), usegmt=True)}</pubDate>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test</description>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


def at(text: str) -> datetime:
    """``at("2030-05-30T12:00")`` -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
