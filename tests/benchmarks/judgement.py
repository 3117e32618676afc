"""Judgement benchmark: replay each story of the judgement corpus through the whole pipeline and score the alerts.

Run:  .venv/bin/python tests/benchmarks/judgement.py [--split dev|test|all] [--markdown] [--json]

For each story under tests/judgement/stories/ (items.yaml with labels, config.toml written blind):

1. build a replay archive: one sub-directory per feed; an empty fetch of every feed an hour before the first
   item (so no item is swallowed by the seed poll), then a fetch five minutes after each item showing the
   feed's items up to then, newest first, at most 20 (as real feeds repeat their recent items);
2. run ``monitor replay --json`` in-process on it with the story's config;
3. tie each alert to items through its sources (every item's link names its id) and score it against the
   labels (tests/judgement/GUIDE.md).

Figures per story: key developments (K), caught (an alert citing one of its act items, or for a deadline
passing a ``deadline.passed``, within one poll of the first report), right (caught with the labelled thread and
state, or the labelled new due time), late (the right alert, but only after one poll and within a day),
false acts (a thread move decided by an item that is not labelled an act of that state: hedged, denied, a
mention, irrelevant or another actor), false critical (a false act whose alert is critical as finally stored:
one held at warning for confirmation and never confirmed is not), noise (an alert whose items are all
irrelevant), wrong due (a deadline moved to a time no item gave), alerts (every story alert: thread moves, new
developments, deadline changes, passing and resolution; not reminders) and alerts per key development. The
keyword baseline is what a plain keyword alert does: one alert per new item that matches every relevance group
of the story's config (a party term and a threat term). It makes no claims, so it has no "right" column.

Not collected by pytest (the file name does not start with ``test_``); tests/story/test_judgement_floor.py runs
the dev stories and keeps their figures from falling below the recorded ones (tests/judgement/recorded.json).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.cli.main import main as cli
from monitor.config.load import load_settings
from monitor.config.schema import Settings, StoryConfig

CORPUS = Path(__file__).resolve().parents[1] / "judgement" / "stories"
FETCH_LAG = timedelta(minutes=5)
WINDOW_ITEMS = 20
DUE_TOLERANCE = timedelta(hours=12)
LATE = timedelta(hours=24)  # a right alert after one poll but within this is counted as late, not caught
PASSED_SLACK = timedelta(hours=6)
STORY_KINDS = {"thread.changed", "story.new_development", "deadline.changed", "deadline.passed",
               "deadline.resolved"}


# ------------------------------------------------------------------------------------------------ corpus
@dataclass(frozen=True)
class Story:
    id: str
    split: str
    items: list[dict[str, Any]]
    key_developments: list[dict[str, Any]]
    never_happened: list[dict[str, Any]]
    config: Path

    @property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {item["id"]: item for item in self.items}


def load_story(folder: Path) -> Story:
    data = yaml.safe_load((folder / "items.yaml").read_text(encoding="utf-8"))
    items = sorted(data["items"], key=lambda i: _time(i["published"]))
    return Story(folder.name, data.get("split", "dev"), items, data.get("key_developments") or [],
                 data.get("never_happened") or [], folder / "config.toml")


def stories(split: str = "all") -> list[Story]:
    found = [load_story(p) for p in sorted(CORPUS.iterdir()) if (p / "items.yaml").exists()]
    return [s for s in found if split == "all" or s.split == split]


def _time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _domain(outlet: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", outlet.lower()).strip("-") + ".example"


def item_link(story: Story, item: dict[str, Any]) -> str:
    return f"https://{_domain(item['outlet'])}/{story.id}/{item['id']}"


def _item_xml(story: Story, item: dict[str, Any], search: bool) -> str:
    title = item["title"]
    if search and not title.endswith(f" - {item['outlet']}"):
        title = f"{title} - {item['outlet']}"
    source = (f"<source url={quoteattr('https://' + _domain(item['outlet']))}>{escape(item['outlet'])}</source>"
              if search else "")
    return (f"<item><title>{escape(title)}</title><link>{escape(item_link(story, item))}</link>"
            f'<guid isPermaLink="false">{escape(story.id + ":" + item["id"])}</guid>'
            f"<pubDate>{format_datetime(_time(item['published']), usegmt=True)}</pubDate>"
            f"<description>{escape(item.get('summary') or '')}</description>{source}</item>")


def _feed_xml(story: Story, feed_id: str, items: list[dict[str, Any]], at: datetime) -> bytes:
    search = feed_id == "search" or feed_id.endswith("search")
    body = "".join(_item_xml(story, i, search) for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(feed_id)}</title>'
            f"<link>https://{feed_id}.example/</link><description>{escape(story.id)}</description>"
            f"<lastBuildDate>{format_datetime(at, usegmt=True)}</lastBuildDate>{body}</channel></rss>").encode()


def build_archive(story: Story, settings: Settings, root: Path) -> None:
    """Write the story's replay archive under ``root`` (format: docs/operations.md, replay)."""
    feed_ids = [f.id for f in settings.feeds]
    items_of: dict[str, list[dict[str, Any]]] = {f: [] for f in feed_ids}
    for item in story.items:
        feed = item.get("feed") or "search"
        items_of.setdefault(feed if feed in items_of else feed_ids[0], []).append(item)
    start = _time(story.items[0]["published"]) - timedelta(hours=1)
    for feed_id, items in items_of.items():
        folder = root / feed_id
        folder.mkdir(parents=True, exist_ok=True)
        fetches = {start: []} | {
            _time(i["published"]) + FETCH_LAG: [] for i in items
        }
        for at in sorted(fetches):
            shown = [i for i in items if _time(i["published"]) + FETCH_LAG <= at]
            shown = sorted(shown, key=lambda i: _time(i["published"]), reverse=True)[:WINDOW_ITEMS]
            (folder / f"{at:%Y%m%dT%H%M%SZ}.xml").write_bytes(_feed_xml(story, feed_id, shown, at))


def replay(story: Story) -> tuple[Settings, list[dict[str, Any]]]:
    """Replay the story with its blind config; return the settings and the developments as JSON objects."""
    settings = load_settings(story.config, env={})
    with tempfile.TemporaryDirectory(prefix=f"judgement-{story.id}-") as tmp:
        root = Path(tmp) / "archive"
        build_archive(story, settings, root)
        result = CliRunner().invoke(cli, ["--config", str(story.config), "replay", str(root), "--json"],
                                    env={"MONITOR_DATABASE_URL": f"sqlite:///{Path(tmp) / 'replay.db'}"})
    if result.exit_code != 0:
        raise RuntimeError(f"{story.id}: replay failed ({result.exit_code}): {result.output[-2000:]}")
    return settings, [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


# ----------------------------------------------------------------------------------------------- scoring
@dataclass
class Score:
    story: str
    split: str
    items: int = 0
    key: int = 0
    caught: int = 0
    right: int = 0
    false_acts: int = 0
    false_critical: int = 0
    noise: int = 0
    wrong_due: int = 0
    late: int = 0
    alerts: int = 0
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def per_development(self) -> float:
        return self.alerts / self.key if self.key else 0.0

    def add(self, other: Score) -> None:
        for name in ("items", "key", "caught", "right", "late", "false_acts", "false_critical", "noise", "wrong_due",
                     "alerts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _poll(settings: Settings) -> timedelta:
    return max([settings.monitor.poll_interval, *(f.poll_interval for f in settings.feeds if f.poll_interval)])


def _item_ids(story: Story, dev: dict[str, Any]) -> list[str]:
    links = {item_link(story, i): i["id"] for i in story.items}
    return [links[s["link"]] for s in dev.get("sources") or [] if s.get("link") in links]


def _supports(story_cfg: StoryConfig | None, item: dict[str, Any], thread: str, state: str) -> bool:
    label = (item.get("threads") or {}).get(thread)
    if not label or not item.get("relevant", True):
        return False
    if label.get("state") == state and label.get("label") == "act":
        return True
    if story_cfg is not None and thread in story_cfg.threads:  # a move to a threat-kind state on a threat
        kinds = {s.id: s.kind.value for s in story_cfg.threads[thread].states}
        return kinds.get(state) == "threat" and label.get("label") in ("threat", "act")
    return False


def score(story: Story, settings: Settings, developments: list[dict[str, Any]]) -> Score:
    result = Score(story.id, story.split, items=len(story.items), key=len(story.key_developments))
    items = story.by_id
    story_cfg = next((s for s in settings.stories), None)
    alerts = [d for d in developments if d["kind"] in STORY_KINDS]
    result.alerts = len(alerts)
    window = _poll(settings) + FETCH_LAG
    labelled_dues = [_time(i["deadline"]["new_due"]) for i in story.items
                     if isinstance(i.get("deadline"), dict) and i["deadline"].get("new_due")]
    for dev in alerts:
        ids = _item_ids(story, dev)
        cited = [items[i] for i in ids]
        if dev["kind"] == "thread.changed":
            decider = cited[0] if cited else None
            if decider is None or not _supports(story_cfg, decider, dev["thread"], dev["to"]):
                result.false_acts += 1
                result.false_critical += dev.get("severity") == "critical"
                result.false.append(f"{dev['thread']}->{dev['to']} on {ids[0] if ids else '?'}: {dev['title']}")
        if cited and not any(i.get("relevant", True) for i in cited):
            result.noise += 1
        if dev["kind"] == "deadline.changed":
            new_due = (dev.get("details") or {}).get("new_due")
            if not new_due or not any(abs(_time(new_due) - d) <= DUE_TOLERANCE for d in labelled_dues):
                result.wrong_due += 1
                result.false.append(f"deadline moved to {new_due}: {dev['title']}")
    for key in story.key_developments:
        at = _time(key["at"])
        in_time = [d for d in alerts if at - timedelta(minutes=1) <= _time(d["at"]) <= at + window]
        later = [d for d in alerts if at + window < _time(d["at"]) <= at + LATE]
        if key.get("passed"):
            # labellers put the due time or the first report's time: the passing itself is due-time driven
            hit = [d for d in alerts if d["kind"] == "deadline.passed" and f":{key['deadline']}:" in f"{d['key']}:"
                   and at - PASSED_SLACK <= _time(d["at"]) <= at + window]
            caught = right = bool(hit)
        elif key.get("deadline"):
            key_items = set(key.get("items") or [])
            hit = [d for d in in_time if key_items & set(_item_ids(story, d))]
            caught = bool(hit)
            due = _time(key["new_due"]) if key.get("new_due") else None
            right = any(d["kind"] == "deadline.changed" and due is not None
                        and abs(_time((d.get("details") or {}).get("new_due") or "1970-01-01T00:00:00Z") - due)
                        <= DUE_TOLERANCE for d in in_time)
            caught = caught or right
        else:
            key_items = set(key.get("items") or [])
            hit = [d for d in in_time if key_items & set(_item_ids(story, d))]
            right = any(d["kind"] == "thread.changed" and d["thread"] == key["thread"] and d["to"] == key["state"]
                        for d in in_time)
            caught = bool(hit) or right
            if not right and any(d["kind"] == "thread.changed" and d["thread"] == key["thread"]
                                 and d["to"] == key["state"] for d in later):
                result.late += 1
        result.caught += caught
        result.right += right
        if not right:
            state = key.get("state") or ("passed" if key.get("passed") else "moved")
            what = f"{key.get('thread') or key.get('deadline')}.{state}"
            result.missed.append(f"{what} at {key['at']}{' (alerted, wrong claim)' if caught else ''}")
    return result


def baseline(story: Story, settings: Settings) -> Score:
    """One alert per new item matching every relevance group (a keyword alert)."""
    result = Score(story.id, story.split, items=len(story.items), key=len(story.key_developments))
    groups = [[t.lower() for t in group] for s in settings.stories for group in s.relevance.require]
    fired: set[str] = set()
    for item in story.items:
        text = f"{item['title']} {item.get('summary') or ''}".lower()
        if groups and all(any(term in text for term in group) for group in groups):
            fired.add(item["id"])
            result.alerts += 1
            labels = item.get("threads") or {}
            if not item.get("relevant", True):
                result.noise += 1
            elif not any(label.get("label") == "act" for label in labels.values()):
                result.false_acts += 1
    for key in story.key_developments:
        result.caught += bool(set(key.get("items") or []) & fired) or bool(key.get("passed") and False)
    return result


# -------------------------------------------------------------------------------------------------- main
def run(split: str = "all") -> list[tuple[Score, Score]]:
    out = []
    for story in stories(split):
        settings, developments = replay(story)
        out.append((score(story, settings, developments), baseline(story, settings)))
    return out


def markdown(rows: list[tuple[Score, Score]]) -> str:
    head = ("| story | split | items | key | caught | right | late | false acts | false critical | noise | wrong due | "
            "alerts | alerts/key | baseline caught | baseline false acts | baseline noise | baseline alerts |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for split in ("dev", "test"):
        total, base_total = Score("total " + split, split), Score("total " + split, split)
        for s, b in rows:
            if s.split != split:
                continue
            total.add(s)
            base_total.add(b)
            lines.append(_row(s, b))
        if total.key:
            lines.append(_row(total, base_total, bold=True))
    return head + "\n".join(lines) + "\n"


def _row(s: Score, b: Score, bold: bool = False) -> str:
    name = f"**{s.story}**" if bold else s.story
    return (f"| {name} | {s.split} | {s.items} | {s.key} | {s.caught} | {s.right} | {s.late} | {s.false_acts} | "
            f"{s.false_critical} | {s.noise} | "
            f"{s.wrong_due} | {s.alerts} | {s.per_development:.1f} | {b.caught} | {b.false_acts} | {b.noise} | "
            f"{b.alerts} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="all")
    parser.add_argument("--markdown", action="store_true", help="print the docs/benchmarks.md table")
    parser.add_argument("--json", action="store_true", help="print one JSON object per story")
    parser.add_argument("--why", action="store_true", help="list the misses and false alerts per story")
    args = parser.parse_args()
    rows = run(args.split)
    if args.json:
        for s, b in rows:
            print(json.dumps({"score": asdict(s), "baseline": asdict(b)}))
        return
    print(markdown(rows))
    if args.why:
        for s, _ in rows:
            print(f"\n## {s.story} ({s.split})")
            for line in s.missed:
                print(f"- missed: {line}")
            for line in s.false:
                print(f"- false: {line}")


if __name__ == "__main__":
    main()
