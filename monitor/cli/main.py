"""The ``monitor`` command line. Thin: parses options, calls the service, prints.

Heavy libraries (sqlmodel, apprise, feedparser, httpx) are imported inside commands, never at module import,
so ``monitor --help`` and ``monitor --version`` stay fast. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or
invalid configuration (the message names the field and how to fix it; no traceback).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor import __version__

if TYPE_CHECKING:
    from monitor.config.schema import Settings
    from monitor.store.db import Store

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command needs: the config path, loaded lazily."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from monitor.config.load import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def open_store(self, url: str | None = None) -> Store:
        from monitor.store.db import Store

        return Store.open(url or self.settings.monitor.database_url)


def handle_errors(func: F) -> F:
    """Turn our own errors into a message and the right exit code (2 for configuration), with no traceback."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from monitor.errors import MonitorError

        try:
            return func(*args, **kwargs)
        except MonitorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


class _MessageOnly(logging.Handler):
    """A log record as its one-line message on stderr, without the stack trace."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(record.getMessage(), err=True)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def log_lines_without_traces() -> Iterator[None]:
    """While a command runs with no logging configured (by hand, from cron): print WARNING and worse as one
    line each on stderr, as Python's last-resort handler would, but without stack traces. A feed's contained
    failure is named in its line of the output already; its trace is for the daemon's log (``monitor run``)."""
    root = logging.getLogger()
    if root.handlers:  # logging is configured (the daemon, an embedding program): leave it to that
        yield
        return
    handler = _MessageOnly(logging.WARNING)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=False))


def print_table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """A Rich table on a terminal; plain tab-separated lines otherwise (pipes, tests)."""
    from monitor.notify.render import terminal_safe

    cols = list(columns)
    clean_rows = [[terminal_safe("" if v is None else str(v)) for v in row] for row in rows]
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(rich_table(title, cols, clean_rows))
        return
    click.echo(f"# {title}")
    click.echo("\t".join(cols))
    for row in clean_rows:
        click.echo("\t".join(row))


def rich_table(title: str, columns: list[str], rows: list[list[str]]) -> Any:
    """A Rich table whose cells are text, never markup: a headline or URL holding "[/x]" from a feed is shown
    as written instead of raising MarkupError."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    for col in columns:
        table.add_column(escape(col))
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=lambda: os.environ.get("MONITOR_CONFIG", "config/monitor.toml"),
    show_default="$MONITOR_CONFIG or config/monitor.toml",
    help="Configuration file.",
)
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """Watch feeds for the moves of a developing story and alert once per move."""
    ctx.obj = Context(config_path)


# ------------------------------------------------------------------------------------------- config
@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handle_errors
def config_check(obj: Context, as_json: bool) -> None:
    """Validate the configuration and print a readable summary (secrets masked)."""
    from monitor.cli.reports import config_summary

    summary = config_summary(obj.settings, obj.config_path)
    if as_json:
        echo_json(summary)
        return
    from monitor.cli.reports import format_config_summary

    click.echo(format_config_summary(summary))


# ------------------------------------------------------------------------------------------- status
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--check", is_flag=True, help="Exit 1 when the daemon is down, stalled or blind (for healthchecks).")
@click.pass_obj
@handle_errors
def status(obj: Context, as_json: bool, check: bool) -> None:
    """Stories, thread states, deadline countdowns, feeds, deliveries and the daemon's health."""
    from monitor.cli.reports import format_status, status_report
    from monitor.clock import system_clock

    settings = obj.settings
    store = obj.open_store()
    try:
        report = status_report(settings, store, system_clock())
    finally:
        store.close()
    if as_json:
        echo_json(report)
    else:
        click.echo(format_status(report))
    if check and not report["health"]["ok"]:
        click.echo(f"unhealthy: {report['health']['reason']}", err=True)
        sys.exit(1)


# --------------------------------------------------------------------------------------------- poll
@main.command()
@click.option("--feed", "feed_ids", multiple=True, help="Poll only this feed id (repeatable).")
@click.option(
    "--record", "record_dir", type=click.Path(file_okay=False), help="Write fetched bodies to a replay archive."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.pass_obj
@handle_errors
def poll(obj: Context, feed_ids: tuple[str, ...], record_dir: str | None, as_json: bool) -> None:
    """Run one tick now: poll feeds (all, or --feed), process items, check deadlines, deliver the outbox."""
    from monitor.app.service import Service
    from monitor.clock import system_clock

    settings = obj.settings
    unknown = [f for f in feed_ids if f not in {feed.id for feed in settings.feeds}]
    if unknown:
        click.echo(f"error: unknown feed id(s) {', '.join(unknown)}; see `monitor feeds`", err=True)
        sys.exit(2)
    store = obj.open_store()
    try:
        service = Service(settings, store, clock=system_clock, record_dir=Path(record_dir) if record_dir else None)
        with log_lines_without_traces():
            reports = service.tick(feed_ids=feed_ids or None, force=True)
    finally:
        store.close()
    for report in reports.polls:
        if as_json:
            echo_json(report.to_json())
        else:
            click.echo(report.line())
    if not as_json:
        click.echo(
            f"{len(reports.developments)} development(s), {reports.delivered} delivery(ies) sent, "
            f"{reports.delivery_failures} failed"
        )


# -------------------------------------------------------------------------------------------- feeds
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print feed health as JSON.")
@click.pass_obj
@handle_errors
def feeds(obj: Context, as_json: bool) -> None:
    """Feed health: last poll, status, failures, next poll, current URL."""
    from monitor.cli.reports import feeds_report
    from monitor.clock import system_clock

    store = obj.open_store()
    try:
        rows = feeds_report(obj.settings, store, system_clock())
    finally:
        store.close()
    if as_json:
        for row in rows:
            echo_json(row)
        return
    print_table(
        "feeds",
        ["id", "state", "last status", "failures", "last success", "next poll", "items", "url", "last error"],
        [
            [
                r["id"],
                r["state"],
                r["last_status"],
                r["consecutive_failures"],
                r["last_success_at"] or "never",
                r["next_poll_at"],
                r["items_seen"],
                r["url"],
                r["last_error"] or "",
            ]
            for r in rows
        ],
    )


# ---------------------------------------------------------------------------------------------- run
@main.command()
@click.option(
    "--record", "record_dir", type=click.Path(file_okay=False), help="Write fetched bodies to a replay archive."
)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics on PORT.")
@click.option("--metrics-address", default="127.0.0.1", show_default=True,
              help="Address for the metrics server (0.0.0.0 inside a container, for a Prometheus beside it).")
@click.option("--once", is_flag=True, help="Run one tick and exit (for cron-style use).")
@click.pass_obj
@handle_errors
def run(obj: Context, record_dir: str | None, log_format: str, metrics_port: int | None, metrics_address: str,
        once: bool) -> None:
    """Run the monitor as a daemon until SIGTERM/SIGINT (SIGHUP reloads the config)."""
    from monitor.app.daemon import run_daemon

    obj.settings  # noqa: B018 - validate before anything starts; a bad config exits 2 here
    code = run_daemon(
        obj.config_path,
        record_dir=Path(record_dir) if record_dir else None,
        log_format=log_format,
        metrics_port=metrics_port,
        metrics_address=metrics_address,
        once=once,
    )
    sys.exit(code)


# ------------------------------------------------------------------------------------------- replay
@main.command()
@click.argument("archive", type=click.Path(exists=True, file_okay=False))
@click.option("--db", "db_url", help="Database URL to replay into (default: a temporary SQLite file).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per development.")
@click.pass_obj
@handle_errors
def replay(obj: Context, archive: str, db_url: str | None, as_json: bool) -> None:
    """Process a replay archive in time order with a simulated clock; nothing is sent."""
    from monitor.app.replay import replay_archive

    show_progress = sys.stderr.isatty() and not as_json
    developments = replay_archive(obj.settings, Path(archive), db_url=db_url, progress=show_progress)
    _print_developments(developments, as_json, "developments (replay)")


# ------------------------------------------------------------------------------------------ history
@main.command()
@click.option("--story", "story_id", help="Only this story.")
@click.option("--since", help="Only developments at or after this ISO time, or this long ago ('2d').")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per development.")
@click.option("--atom", is_flag=True, help="Write an Atom feed of the developments to stdout.")
@click.pass_obj
@handle_errors
def history(obj: Context, story_id: str | None, since: str | None, as_json: bool, atom: bool) -> None:
    """Stored developments, oldest first."""
    from monitor.cli.reports import parse_since
    from monitor.clock import system_clock

    now = system_clock()
    since_at = parse_since(since, now) if since else None
    store = obj.open_store()
    try:
        with store.read() as tx:
            developments = tx.developments(story_id=story_id, since=since_at)
    finally:
        store.close()
    if atom:
        from monitor.cli.atom import developments_atom

        sys.stdout.buffer.write(developments_atom(obj.settings, developments, now))
        return
    _print_developments(developments, as_json, "developments")


def _print_developments(developments: Iterable[Any], as_json: bool, title: str) -> None:
    devs = list(developments)
    if as_json:
        for dev in devs:
            echo_json(dev.to_json())
        return
    print_table(
        title,
        ["at (UTC)", "kind", "story", "thread", "from -> to", "confidence", "severity", "title"],
        [
            [
                dev.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                dev.kind.value,
                dev.story_id,
                dev.thread_id or "",
                f"{dev.from_state} -> {dev.to_state}" if dev.to_state else "",
                dev.confidence.value,
                dev.severity.label,
                dev.title,
            ]
            for dev in devs
        ],
    )


# ------------------------------------------------------------------------------------------ explain
@main.command()
@click.argument("title", required=False)
@click.option("--summary", default="", help="The item's summary, read like a feed's description.")
@click.option("--story", "story_id", help="Only this story (default: every configured story).")
@click.option("--item", "item_key", metavar="FEED:ITEM_ID", help="Explain a stored item instead of TITLE.")
@click.option("--development", "development_key", metavar="KEY",
              help="Show a stored development and the evidence it was decided on.")
@click.option("--fresh", is_flag=True, help="Judge TITLE against the story's initial state, not the stored one.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story (or the development).")
@click.pass_obj
@handle_errors
def explain(obj: Context, title: str | None, summary: str, story_id: str | None, item_key: str | None,
            development_key: str | None, fresh: bool, as_json: bool) -> None:
    """Why a headline would (or would not) move the story: relevance, signals, the reducer's verdict.

    Nothing is stored or sent. TITLE is judged as if one ordinary outlet had just published it, against the
    stored story state (the database in the config, when it exists) or, with --fresh, the initial state.
    """
    from monitor.app.explain import development_evidence, explain_item, explain_text
    from monitor.clock import system_clock

    chosen = [x for x in (title, item_key, development_key) if x]
    if len(chosen) != 1:
        click.echo("error: give exactly one of TITLE, --item FEED:ITEM_ID or --development KEY", err=True)
        sys.exit(2)
    now = system_clock()
    if development_key:
        store = obj.open_store()
        try:
            found = development_evidence(store, development_key)
        finally:
            store.close()
        if as_json:
            echo_json(found)
            return
        click.echo(f"development {found['key']}: [{found['severity']}/{found['confidence']}] {found['title']}")
        for ev in (found.get("details") or {}).get("evidence") or []:
            qualifier = f", qualified by {ev['qualifier']!r}" if ev.get("qualifier") else ""
            click.echo(f"  {ev['action']} on item {ev['item']}: {ev['mode']} of {ev['cue']!r}{qualifier}")
        for source in found.get("sources") or []:
            click.echo(f"  source: {source['outlet']}: {source['title']}")
        return
    reader = None if (fresh and not item_key) or not _database_exists(obj) else obj.open_store()
    try:
        if item_key:
            if reader is None:
                click.echo("error: no database yet; run the monitor first (or explain a TITLE)", err=True)
                sys.exit(1)
            results = explain_item(obj.settings, reader, item_key, story_id, now)
        else:
            results = explain_text(obj.settings, reader, title or "", summary, story_id, now)
    finally:
        if reader is not None:
            reader.close()
    for result in results:
        if as_json:
            echo_json(result.to_json())
        else:
            click.echo("\n".join(result.lines()))


def _database_exists(obj: Context) -> bool:
    """Whether the configured database is there to read (a SQLite file is never created just to explain)."""
    url = obj.settings.monitor.database_url
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return path not in ("", ":memory:") and Path(path).exists()
    return True


# ----------------------------------------------------------------------------------------- calendar
@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.pass_obj
@handle_errors
def calendar(obj: Context, output: str | None) -> None:
    """Write the deadlines and their reminders as an iCalendar file."""
    from monitor.app.deadlines import load_deadline_states
    from monitor.cli.calendar import deadlines_calendar
    from monitor.clock import system_clock

    store = obj.open_store()
    try:
        states = load_deadline_states(obj.settings, store)
    finally:
        store.close()
    data = deadlines_calendar(obj.settings, states, system_clock())
    if output:
        Path(output).write_bytes(data)
        click.echo(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data)


# ------------------------------------------------------------------------------------ notify/outbox
@main.group()
def notify() -> None:
    """Notification channels."""


@notify.command("test")
@click.option("--channel", "channel_ids", multiple=True, help="Only this channel id (repeatable).")
@click.pass_obj
@handle_errors
def notify_test(obj: Context, channel_ids: tuple[str, ...]) -> None:
    """Send a test message to each channel and print the per-target result."""
    from monitor.app.deliver import send_test_message
    from monitor.clock import system_clock

    results = send_test_message(obj.settings, channel_ids or None, system_clock())
    failed = 0
    for channel_id, target_results in results.items():
        for result in target_results:
            state = "ok" if result.ok else f"FAILED: {result.error}"
            failed += 0 if result.ok else 1
            click.echo(f"{channel_id}\t{result.target}\t{state}")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery.")
@click.option("--all", "show_all", is_flag=True, help="Include sent deliveries.")
@click.pass_obj
@handle_errors
def outbox(obj: Context, as_json: bool, show_all: bool) -> None:
    """Pending, retrying and dead-lettered deliveries (secrets masked)."""
    from monitor.cli.reports import outbox_report

    store = obj.open_store()
    try:
        rows = outbox_report(store, include_sent=show_all)
    finally:
        store.close()
    if as_json:
        for row in rows:
            echo_json(row)
        return
    print_table(
        "outbox",
        ["id", "status", "channel", "development", "attempts", "next attempt", "targets", "last error"],
        [
            [r["id"], r["status"], r["channel"], r["development"], r["attempts"], r["next_attempt_at"] or "",
             r["targets_summary"], r["last_error"] or ""]
            for r in rows
        ],
    )


@main.command()
@click.argument("development")
@click.pass_obj
@handle_errors
def ack(obj: Context, development: str) -> None:
    """Acknowledge a development (its key or number): stops repeats of a critical alert."""
    from monitor.clock import system_clock

    store = obj.open_store()
    try:
        with store.write() as tx:
            done = tx.acknowledge(development, system_clock())
    finally:
        store.close()
    if not done:
        click.echo(f"error: no development {development!r}; see `monitor history`", err=True)
        sys.exit(2)
    click.echo(f"acknowledged {development}")

