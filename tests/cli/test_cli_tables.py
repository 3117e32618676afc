"""The tables of ``monitor feeds``, ``history`` and ``outbox`` on a terminal: they fit 80 columns with every id
whole (the long text wraps, or goes below the table under its row's id), ``--wide`` shows every column
unwrapped, and text from feeds is shown as written (markup) or made harmless (terminal control), never a crash.

The tables are rendered as the commands render them, by ``monitor.cli.main.rich_table`` into a Rich console of a
given width (a forced terminal for the hostile strings); the plain output of a pipe is checked through the CLI.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from rich.console import Console
from rich.measure import Measurement

from monitor.cli import main as cli
from monitor.domain import Confidence, Development, DevelopmentKind, Severity
from tests.clirunner import DATA, Replayed, monitor

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
LONG_IDS = ["gnews-anthropic-supply-chain-risk", "courtlistener-docket-ndcal", "federal-register-anthropic"]
LONG_ERROR = ("HTTP 500 Internal Server Error: the server answered with an HTML page that is not a feed after three "
              "redirects via https://consent.example.org/ml?continue=https://news.example.org/rss/search?q=anthropic")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def feed_row(feed_id: str, error: str | None = LONG_ERROR, **changes: Any) -> dict[str, Any]:
    row = {"id": feed_id, "url": f"https://news.example.org/rss/search?q={feed_id}&hl=en-US&gl=US&ceid=US:en",
           "configured_url": "", "state": "failing" if error else "ok", "enabled": True, "disabled_reason": None,
           "last_status": 500 if error else 200, "consecutive_failures": 12 if error else 0,
           "last_attempt_at": "2026-12-02T14:58:00Z", "last_success_at": "2026-12-01T09:00:00Z",
           "next_poll_at": "2026-12-02T15:14:00Z", "last_error": error, "items_seen": 12345,
           "conditional_get": True, "notice": None}
    return {**row, **changes}


def outbox_row(number: int, channel: str, error: str | None = LONG_ERROR, **changes: Any) -> dict[str, Any]:
    key = f"anthropic-pentagon:designation:designated:{number}"
    row: dict[str, Any] = {
        "id": number, "status": "retrying" if error else "pending", "channel": channel, "development": key,
        "development_id": f"{number:08x}", "confidence": "confirmed", "attempts": 3 if error else 0,
        "created_at": "2026-12-02T14:00:00Z", "next_attempt_at": "2026-12-02T15:04:00Z", "sent_at": None,
        "last_error": error, "targets": [],
        "targets_summary": "json://***@chat.example.org/*** = failed, mailtos://***@smtp.example.org = not tried"}
    return {**row, **changes}


def development(key: str, title: str, story: str = "anthropic-pentagon") -> Development:
    return Development(key=key, kind=DevelopmentKind.THREAD_CHANGE, story_id=story, at=NOW - timedelta(hours=3),
                       title=title, severity=Severity.CRITICAL, confidence=Confidence.CONFIRMED,
                       thread_id="designation", from_state="threatened", to_state="designated")


def feeds_table(rows: list[dict[str, Any]], wide: bool = False) -> Any:
    return cli.rich_table("feeds", cli.FEED_COLUMNS, cli.feed_rows(rows, NOW), wide=wide)


def history_table(devs: list[Development], wide: bool = False) -> Any:
    return cli.rich_table("developments", cli.DEVELOPMENT_COLUMNS, cli.development_rows(devs), wide=wide)


def outbox_table(rows: list[dict[str, Any]], wide: bool = False) -> Any:
    return cli.rich_table("outbox", cli.OUTBOX_COLUMNS, cli.outbox_rows(rows, NOW), wide=wide)


def render(table: Any, width: int = 80, *, terminal: bool = False) -> str:
    out = StringIO()
    Console(file=out, width=width, force_terminal=terminal, color_system="standard" if terminal else None).print(table)
    return out.getvalue()


def lines_of(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


def assert_fits_with_ids_whole(text: str, ids: list[str], width: int) -> None:
    lines = lines_of(text)
    assert max(len(line) for line in lines) <= width, text
    for one in ids:
        assert any(one in line for line in lines), f"{one} is cut:\n{text}"


@pytest.mark.parametrize("width", [80, 100, 120])
def test_feeds_table_fits_the_terminal_with_every_feed_id_whole_and_errors_below(width: int) -> None:
    rows = [feed_row(LONG_IDS[0]), feed_row(LONG_IDS[1], error=None),
            feed_row(LONG_IDS[2], state="disabled", enabled=False, error="HTTP 410 Gone: feed removed; disabled")]
    text = render(feeds_table(rows), width)
    assert_fits_with_ids_whole(text, LONG_IDS, width)
    lines = lines_of(text)
    header = next(line for line in lines if line.startswith("id "))
    for column in ("state", "fails", "last ok", "next poll", "items"):
        assert column in header
    [row] = [line for line in lines if line.startswith(LONG_IDS[0] + " ")]
    assert "failing" in row and "12" in row and "in 14 min" in row and "12345" in row
    # the error is below the table, under its feed's id, whole (folded at the width, never cut)
    below = lines[lines.index(row) + 1:]
    start = next(i for i, line in enumerate(below) if line.strip() == LONG_IDS[0])
    joined = "".join(line.strip() for line in below[start + 1:])
    assert LONG_ERROR.replace(" ", "") in joined.replace(" ", "")
    assert "url" not in header  # only with --wide


TITLE = ("Supply chain risk designation: designated a supply chain risk by the Department of War (was: designation "
         "threatened), confirmed by a second outlet")


@pytest.mark.parametrize("width", [80, 120])
def test_history_table_fits_the_terminal_with_every_id_whole_and_titles_wrapped(width: int) -> None:
    devs = [development(f"anthropic-pentagon:designation:designated:{n}", TITLE) for n in range(3)]
    text = render(history_table(devs), width)
    assert_fits_with_ids_whole(text, [row[0] for row in cli.development_rows(devs)], width)
    lines = lines_of(text)
    header = next(line for line in lines if line.startswith("id "))
    assert all(column in header for column in ("at (UTC)", "confidence", "severity", "title"))
    assert "story" not in header and "kind" not in header  # with --wide
    assert TITLE.replace(" ", "") in "".join(line[header.index("title"):] for line in lines).replace(" ", "")


def test_history_of_several_stories_on_a_terminal_is_a_table_per_story() -> None:
    devs = [development("a:1", TITLE), development("b:1", "Drones banned", story="gnews-anthropic-supply-chain-risk"),
            development("a:2", TITLE), development("ops:blind:1", "Monitor is blind", story="")]
    tables = cli.development_tables(devs, "developments", by_story=True)
    assert [(title, [d.key for d in group]) for title, group in tables] == [
        ("developments: anthropic-pentagon", ["a:1", "a:2"]),
        ("developments: gnews-anthropic-supply-chain-risk", ["b:1"]), ("developments: operations", ["ops:blind:1"])]
    for title, group in tables:
        text = render(cli.rich_table(title, cli.DEVELOPMENT_COLUMNS, cli.development_rows(group)))
        assert_fits_with_ids_whole(text, [title, *(row[0] for row in cli.development_rows(group))], 80)
    assert cli.development_tables(devs, "developments", by_story=False) == [("developments", devs)]  # pipes, --wide


@pytest.mark.parametrize("width", [80, 120])
def test_outbox_table_fits_the_terminal_with_every_id_whole_and_errors_below(width: int) -> None:
    rows = [outbox_row(7, "gnews-anthropic-desk-email"), outbox_row(12, "chat", error=None)]
    text = render(outbox_table(rows), width)
    assert_fits_with_ids_whole(text, ["gnews-anthropic-desk-email", "00000007", "0000000c"], width)
    lines = lines_of(text)
    assert any(line.strip() == "#7" for line in lines)  # the row's notes below the table
    assert "not tried" in text and "last error:" in text


def test_a_table_of_named_columns_keeps_long_ids_whole_and_fits_80_columns() -> None:
    """Any command's table (columns given by name): the id is never cut to "gnews…", the error never wrapped
    over five lines beside it."""
    rows = [[feed_id, "failing", LONG_ERROR] for feed_id in LONG_IDS]
    text = render(cli.rich_table("feeds", ["id", "state", "last error"], rows))
    assert_fits_with_ids_whole(text, LONG_IDS, 80)
    assert "…" not in text
    rows_with_error = [line for line in lines_of(text) if "HTTP 500" in line]
    assert len(rows_with_error) == len(LONG_IDS)  # each error below the table, under its id, not in a narrow column


def test_a_terminal_too_narrow_for_the_short_columns_moves_them_below_and_keeps_ids_whole() -> None:
    text = render(feeds_table([feed_row(LONG_IDS[0])]), 50)
    assert_fits_with_ids_whole(text, [LONG_IDS[0]], 50)
    assert "items: 12345" in text  # moved below, not cut


@pytest.mark.parametrize("table", ["feeds", "history", "outbox"])
def test_wide_tables_show_every_column_unwrapped(table: str) -> None:
    if table == "feeds":
        rendered, columns = feeds_table([feed_row(LONG_IDS[0])], wide=True), ["url", "last error", "last status"]
        whole = [LONG_ERROR, feed_row(LONG_IDS[0])["url"]]
    elif table == "history":
        title = "Supply chain risk designation: designated a supply chain risk by the Department of War"
        rendered, columns = history_table([development("k:1", title)], wide=True), ["kind", "story", "thread"]
        whole = [title, "threatened -> designated"]
    else:
        rendered, columns = outbox_table([outbox_row(7, "desk")], wide=True), ["key", "targets", "last error"]
        whole = [LONG_ERROR, "anthropic-pentagon:designation:designated:7"]
    text = render(rendered, wide_width(rendered))
    header = next(line for line in lines_of(text) if line.startswith("id "))
    assert all(column in header for column in columns)
    assert all(any(piece in line for line in lines_of(text)) for piece in whole)  # each on one line


def wide_width(rendered: Any) -> int:
    """The width ``print_table`` gives a console for a --wide table: as much as the table needs."""
    console = Console(file=StringIO(), width=80)
    return int(Measurement.get(console, console.options.update_width(1_000_000), rendered).maximum)


HOSTILE = ["[/x]", "[bold]", "[link=https://evil.example]click[/link]", "\x1b[31mred\x1b[0m", "x" * 5000,
           "a\nb\tc", "\u202eevil"]


@pytest.mark.parametrize("wide", [False, True], ids=["narrow", "wide"])
@pytest.mark.parametrize("hostile", HOSTILE, ids=["close-tag", "bold", "link", "ansi", "5000", "newline", "bidi"])
def test_hostile_text_from_feeds_is_shown_as_written_in_every_table(hostile: str, wide: bool) -> None:
    feeds = feeds_table([feed_row(LONG_IDS[0], error=hostile, url=hostile)], wide=wide)
    history = history_table([development(hostile, hostile)], wide=wide)
    outbox = outbox_table([outbox_row(1, "desk", error=hostile, targets_summary=hostile)], wide=wide)
    for table in (feeds, history, outbox):
        width = wide_width(table) if wide else 80
        text = render(table, width, terminal=True)
        plain = ANSI.sub("", text)
        assert "\x1b[31m" not in text and "\u202e" not in text and "]8;" not in text  # no color, bidi or link
        assert max(len(line) for line in plain.splitlines()) <= width
        squeezed = re.sub(r"\s", "", plain)
        if hostile.startswith("["):
            assert hostile.replace(" ", "") in squeezed  # markup shown as written (wrapped, maybe)
        if hostile.startswith("x"):
            assert "x" * 5000 in squeezed  # folded, never cut
        if hostile.startswith("\x1b"):
            assert "red" in plain


def test_plain_output_of_a_pipe_is_tab_separated_with_the_wide_columns(fixture_replay: Replayed) -> None:
    config = str(DATA / "fictional.toml")
    feeds = monitor("--config", config, "feeds", db=fixture_replay.db)
    assert feeds.stdout.splitlines()[1].split("\t") == [
        "id", "state", "last status", "failures", "last success", "next poll", "items", "url", "last error"]
    history = monitor("--config", config, "history", "--wide", db=fixture_replay.db)
    assert history.stdout.splitlines()[1].split("\t")[:3] == ["id", "at (UTC)", "kind"]
    outbox = monitor("--config", config, "outbox", "--wide", db=fixture_replay.db)
    assert outbox.exit_code == 0 and "key" in outbox.stdout.splitlines()[1].split("\t")
