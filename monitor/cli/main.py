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

    def __init__(self, config_path: str, log_level: str | None = None) -> None:
        self.config_path = config_path
        self.log_level = log_level  # from --log-level, -v, -q or $MONITOR_LOG_LEVEL; None: the command's default
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from monitor.app.logs import use_settings
            from monitor.config.load import load_settings

            self._settings = load_settings(self.config_path)
            use_settings(self._settings)  # its secrets are redacted from every log line from now on
        return self._settings

    def open_store(self, url: str | None = None, *, create: bool = False) -> Store:
        """The configured (or given) database. Only commands that do the monitor's work (``create``) may create
        it: a read-only command on a database that is not there says so instead of reading a new empty one."""
        from monitor.errors import MonitorError
        from monitor.store.db import Store
        from monitor.store.locking import sqlite_file

        url = url or self.settings.monitor.database_url
        path = sqlite_file(url)
        if not create and path is not None and not Path(path).exists():
            raise MonitorError(f"no database at {path} yet; `monitor poll` or `monitor run` with this config "
                               f"({self.config_path}) creates it, or point $MONITOR_DATABASE_URL at yours")
        return Store.open(url)


INTERNAL_ERROR = "internal error (a bug: please report it with the output of -vv)"


def handle_errors(func: F) -> F:
    """The CLI's error boundary: no traceback reaches a user. Our own errors print their message and exit with
    their code (2 for configuration); a database that cannot be read (corrupt, not a database, gone) and an
    operating-system failure (a path that cannot be written, a port in use) are one line and exit 1; anything
    else is an internal error, one line and exit 1, with its trace logged at DEBUG (``-vv``)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from monitor.errors import MonitorError

        try:
            return func(*args, **kwargs)
        except MonitorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            logging.getLogger("monitor.cli").debug("trace of the error above", exc_info=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _one_line(exc: Exception) -> str:
    """What went wrong, in one line, for the three kinds of unexpected failure."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    # stored JSON (story, deadline and outbox state) is the only JSON the CLI reads: unreadable, it is damage
    stored_json = isinstance(exc, json.JSONDecodeError)
    if type(exc).__module__.startswith("sqlalchemy") or stored_json:
        detail = str(getattr(exc, "orig", None) or detail).strip().splitlines()[0][:300]
        return (f"the database cannot be read or written ({detail}); if the file is damaged, restore a backup "
                "or move it aside to start afresh")
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or detail}{where}"
    return f"{INTERNAL_ERROR}: {type(exc).__name__}: {detail}"


@contextlib.contextmanager
def command_logging(level: str) -> Iterator[None]:
    """While a command runs: log records at ``level`` and worse as one line each on stderr, redacted, without
    stack traces (a feed's contained failure is named in its line of the output already; its trace is for the
    daemon's log). The logging set up before (an embedding program's, a test runner's) is restored after."""
    from monitor.app.logs import NOISY_LOGGERS, setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    setup_logging("plain", level)
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, value in saved[2].items():
            logging.getLogger(name).setLevel(value)


def resolve_log_level(log_level: str | None, verbose: int, quiet: bool) -> str | None:
    """--log-level, else -q (ERROR), else -v (INFO) / -vv (DEBUG), else $MONITOR_LOG_LEVEL, else None."""
    from monitor.app.logs import LEVELS

    if log_level:
        return log_level.upper()
    if quiet:
        return "ERROR"
    if verbose:
        return "DEBUG" if verbose > 1 else "INFO"
    env = os.environ.get("MONITOR_LOG_LEVEL", "").strip().upper()
    if env and env not in LEVELS:
        raise click.BadParameter(f"MONITOR_LOG_LEVEL={env!r}: use one of {', '.join(LEVELS)}")
    return env or None


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
@click.option("-v", "--verbose", count=True, help="More log lines on stderr: -v info, -vv debug.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
              default=None,
              help="Log level (overrides -v/-q). [default: $MONITOR_LOG_LEVEL, else WARNING; INFO for run]")
@click.pass_context
def main(ctx: click.Context, config_path: str, verbose: int, quiet: bool, log_level: str | None) -> None:
    """Watch feeds for the moves of a developing story and alert once per move."""
    level = resolve_log_level(log_level, verbose, quiet)
    ctx.obj = Context(config_path, level)
    if ctx.invoked_subcommand != "run":  # the daemon sets up its own log (format, timestamps, tracebacks)
        ctx.with_resource(command_logging(level or "WARNING"))


# ------------------------------------------------------------------------------------------- config
@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handle_errors
def config_check(obj: Context, as_json: bool) -> None:
    """Validate the configuration and print a readable summary (secrets masked).

    Beyond what every command checks on loading it, each notification URL must be one apprise can use and each
    channel template must render (sandboxed); every problem is listed at once (exit code 2).
    """
    from monitor.cli.reports import config_summary
    from monitor.config.load import ChannelChecks, load_settings
    from monitor.notify.apprise import target_problem
    from monitor.notify.render import check_templates

    # every problem at once, apprise's and the templates' with the others; then loaded as every command does
    load_settings(obj.config_path, checks=ChannelChecks(url=target_problem, templates=check_templates))
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
    store = obj.open_store(create=True)
    try:
        service = Service(settings, store, clock=system_clock, record_dir=Path(record_dir) if record_dir else None)
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
                r["last_error"] or (f"note: {r['notice']}" if r.get("notice") else ""),
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
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None, help="Serve Prometheus metrics on PORT.")
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
        log_level=obj.log_level or "INFO",
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
    from monitor.store.locking import sqlite_file

    path = sqlite_file(obj.settings.monitor.database_url)
    return path is None or Path(path).exists()


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

    if _database_exists(obj):
        store = obj.open_store()
        try:
            states = load_deadline_states(obj.settings, store)
        finally:
            store.close()
    else:  # before the first run: the deadlines as configured (no database is created to read them)
        from monitor.story.deadlines import initial_deadline_state

        states = {(story.id, d.id): initial_deadline_state(story, d) for story in obj.settings.stories
                  for d in story.deadlines}
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

