"""The ``monitor`` command line. Thin: parses options, calls the service, prints.

Heavy libraries (sqlmodel, apprise, feedparser, httpx) are imported inside commands, never at module import,
so ``monitor --help`` and ``monitor --version`` stay fast. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or
invalid configuration (the message names the field and how to fix it; no traceback).
"""

from __future__ import annotations

import contextlib
import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column. ``kind``: ``id`` (shown whole: never wrapped nor cut), ``short`` (never wrapped; below the
    table when the terminal is too narrow for it), ``long`` (wraps in the room the others leave; below the table
    when that room is too small) or ``note`` (long text: below the table, under its row's id, except with
    ``--wide``). ``view``: ``both``, ``narrow`` (only the default terminal table) or ``wide`` (only ``--wide``
    and plain output)."""

    name: str
    kind: str = "short"
    view: str = "both"

    def shown(self, wide: bool) -> bool:
        return self.view == "both" or self.view == ("wide" if wide else "narrow")


MIN_LONG_WIDTH = 24  # a long column with less room than this goes below the table instead
COLUMN_GAP = 2  # between two columns of the table (collapsed padding and the separator)


def _columns(columns: Iterable[str | Column]) -> list[Column]:
    """Columns given by name are short ones, and a column named "id" an id column."""
    return [c if isinstance(c, Column) else Column(c, "id" if c == "id" else "short") for c in columns]


def _cells(rows: Iterable[Iterable[Any]]) -> list[list[str]]:
    """Table cells as one line of text each, with nothing in them that could drive a terminal."""
    from monitor.notify.render import terminal_safe

    return [[terminal_safe("" if v is None else str(v), keep_newlines=False) for v in row] for row in rows]


def print_table(title: str, columns: Iterable[str | Column], rows: Iterable[Iterable[Any]], *,
                wide: bool = False) -> None:
    """A Rich table on a terminal, fit to its width (``wide``: every column, unwrapped, however wide); plain
    tab-separated lines otherwise (pipes, tests), with the columns of the wide table."""
    cols = _columns(columns)
    clean_rows = _cells(rows)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.measure import Measurement

        console = Console()
        table = rich_table(title, cols, clean_rows, wide=wide)
        if wide:  # as wide as the table needs: the terminal wraps or `less -S` scrolls the rest
            needed = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
            console = Console(width=max(console.width, needed))
        console.print(table)
        return
    shown = [i for i, c in enumerate(cols) if c.shown(wide=True)]
    click.echo(f"# {title}")
    click.echo("\t".join(cols[i].name for i in shown))
    for row in clean_rows:
        click.echo("\t".join(row[i] for i in shown))


def rich_table(title: str, columns: Iterable[str | Column], rows: Iterable[Iterable[Any]], *,
               wide: bool = False) -> Any:
    """A Rich renderable: a table that fits the console it is printed on. Cells are text, never markup (a
    headline holding "[/x]" is shown as written) nor terminal control (escape sequences are removed). Id columns
    are never cut: the long column wraps in the room left, and what does not fit goes below the table, under
    its row's id. With ``wide``, every column of the wide view, unwrapped."""
    return _TableView(title, _columns(columns), _cells(rows), wide)


class _TableView:
    def __init__(self, title: str, columns: list[Column], rows: list[list[str]], wide: bool) -> None:
        self.title, self.columns, self.rows, self.wide = title, columns, rows, wide

    def _width(self, i: int) -> int:
        return max([len(self.columns[i].name), *(len(row[i]) for row in self.rows)])

    def _layout(self, max_width: int) -> tuple[list[int], list[int]]:
        """(columns in the table, columns below it), as indexes."""
        cols = self.columns
        if self.wide:
            return [i for i, c in enumerate(cols) if c.shown(wide=True)], []
        shown = [i for i, c in enumerate(cols) if c.shown(wide=False)]
        below = [i for i in shown if cols[i].kind == "note"]
        inline = [i for i in shown if cols[i].kind != "note"]
        fixed = [i for i in inline if cols[i].kind != "long"]
        longs = [i for i in inline if cols[i].kind == "long"]
        room = max_width - sum(self._width(i) for i in fixed) - COLUMN_GAP * (len(fixed) + len(longs) - 1)
        while room < (MIN_LONG_WIDTH * len(longs) if longs else 0):
            shorts = [i for i in fixed if cols[i].kind == "short"]
            if longs:  # the long text goes below before anything else does
                below += longs
                room += COLUMN_GAP * len(longs)
                longs = []
            elif shorts:
                fixed.remove(shorts[-1])
                below.append(shorts[-1])
                room += self._width(shorts[-1]) + COLUMN_GAP
            else:
                break  # ids alone are wider than the terminal: nothing else to move
        return [i for i in inline if i in fixed or i in longs], sorted(below)

    def _table(self, inline: list[int]) -> Any:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(self.title), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      collapse_padding=True)
        for i in inline:
            column = self.columns[i]
            if self.wide or column.kind in ("id", "short"):
                table.add_column(Text(column.name), no_wrap=True, overflow="fold",
                                 min_width=self._width(i) if column.kind == "id" else None)
            else:
                table.add_column(Text(column.name), overflow="fold")
        for row in self.rows:
            table.add_row(*(Text(row[i]) for i in inline))
        return table

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self._table(self._layout(options.max_width)[0]))

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.padding import Padding
        from rich.text import Text

        inline, below = self._layout(options.max_width)
        yield self._table(inline)
        for row in self.rows:
            notes = [(self.columns[i].name, row[i]) for i in below if row[i]]
            if notes:
                yield Text(f"#{row[0]}" if row[0].isdigit() else row[0], style="bold", overflow="fold")
                for name, text in notes:
                    yield Padding(Text(f"{name}: {text}", overflow="fold"), (0, 0, 0, 4))


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
    from monitor.cli.reports import check_ids
    from monitor.clock import system_clock

    settings = obj.settings
    check_ids("feed", feed_ids, [feed.id for feed in settings.feeds], "; see `monitor feeds`")
    store = obj.open_store(create=True)
    try:
        service = Service(settings, store, clock=system_clock, record_dir=Path(record_dir) if record_dir else None)
        with poll_progress() as progress:
            reports = service.tick(feed_ids=feed_ids or None, force=True, progress=progress)
    finally:
        store.close()
    for report in reports.polls:
        if as_json:
            echo_json(report.to_json())
        else:
            click.echo(report.line())
    if not as_json:
        click.echo(f"{developments_summary(reports.developments)}, {reports.delivered} delivery(ies) sent, "
                   f"{reports.delivery_failures} failed")


DEVELOPMENT_GROUPS = {"thread": "thread move", "story": "new development", "deadline": "deadline event",
                      "ops": "ops alert"}


def developments_summary(developments: Iterable[Any]) -> str:
    """``3 development(s) (2 thread moves, 1 ops alert)``: what a tick created, by what it is about."""
    counts: dict[str, int] = {}
    for dev in developments:
        group = DEVELOPMENT_GROUPS.get(dev.kind.value.split(".")[0], "other")
        counts[group] = counts.get(group, 0) + 1
    total = sum(counts.values())
    parts = [f"{counts[group]} {group}{'s' if counts[group] > 1 else ''}"
             for group in [*DEVELOPMENT_GROUPS.values(), "other"] if group in counts]
    return f"{total} development(s)" + (f" ({', '.join(parts)})" if parts else "")


def _progress_console() -> Any:
    """Where the progress of a poll is shown: a Rich console on stderr when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def poll_progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar of the feeds polled (done / total) on stderr when it is a terminal; yields the callback
    that advances it, ``progress(done, total)``, or None when there is no bar. Gone once the poll is done."""
    console = _progress_console()
    if console is None:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("polling feeds"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("poll", total=None)

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield progress


# -------------------------------------------------------------------------------------------- feeds
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print feed health as JSON.")
@click.option("--wide", is_flag=True, help="Every column (URL, last error), unwrapped, however wide.")
@click.pass_obj
@handle_errors
def feeds(obj: Context, as_json: bool, wide: bool) -> None:
    """Feed health: last poll, status, failures, next poll, current URL."""
    from monitor.cli.reports import feeds_report
    from monitor.clock import system_clock

    now = system_clock()
    store = obj.open_store()
    try:
        rows = feeds_report(obj.settings, store, now)
    finally:
        store.close()
    if as_json:
        for row in rows:
            echo_json(row)
        return
    print_feeds(rows, now, wide=wide)


FEED_COLUMNS = [
    Column("id", "id"), Column("state"), Column("last status", view="wide"), Column("fails", view="narrow"),
    Column("failures", view="wide"),
    Column("last ok", view="narrow"), Column("last success", view="wide"), Column("next poll", view="narrow"),
    Column("next poll", view="wide"), Column("items"), Column("url", "note", view="wide"), Column("last error", "note"),
]


def feed_rows(rows: list[dict[str, Any]], now: Any) -> list[list[Any]]:
    """The cells of ``FEED_COLUMNS`` for ``feeds_report`` rows."""
    from monitor.cli.reports import ago, next_poll_text

    return [
        [
            r["id"], r["state"], r["last_status"], r["consecutive_failures"], r["consecutive_failures"],
            ago(r["last_success_at"], now),
            r["last_success_at"] or "never", next_poll_text(r, now), r["next_poll_at"], r["items_seen"], r["url"],
            r["last_error"] or (f"note: {r['notice']}" if r.get("notice") else ""),
        ]
        for r in rows
    ]


def print_feeds(rows: list[dict[str, Any]], now: Any, *, wide: bool = False) -> None:
    print_table("feeds", FEED_COLUMNS, feed_rows(rows, now), wide=wide)


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
    """Process a replay archive in time order with a simulated clock; nothing is sent.

    ARCHIVE holds a folder per feed id (as --record writes it); an archive with no fetch for any configured
    feed exits 2 naming the feed ids it has.
    """
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
@click.option("--wide", is_flag=True, help="Every column (kind, story, thread, states), unwrapped, however wide.")
@click.pass_obj
@handle_errors
def history(obj: Context, story_id: str | None, since: str | None, as_json: bool, atom: bool, wide: bool) -> None:
    """Stored developments, oldest first, each with the id `monitor ack` takes."""
    from monitor.cli.reports import check_ids, parse_since
    from monitor.clock import system_clock

    now = system_clock()
    since_at = parse_since(since, now) if since else None
    store = obj.open_store()
    try:
        with store.read() as tx:
            configured = [story.id for story in obj.settings.stories]
            if story_id and story_id not in configured and not tx.count_developments(story_id):
                check_ids("story", [story_id], configured)  # a story no longer configured may still have some
            developments = tx.developments(story_id=story_id, since=since_at)
    finally:
        store.close()
    if atom:
        from monitor.cli.atom import developments_atom

        sys.stdout.buffer.write(developments_atom(obj.settings, developments, now))
        return
    _print_developments(developments, as_json, "developments", wide=wide)


def development_json(dev: Any) -> dict[str, Any]:
    """A development's documented JSON (docs/json.md), with its short ``id`` first."""
    from monitor.cli.reports import short_id

    return {"id": short_id(dev.key), **dev.to_json()}


DEVELOPMENT_COLUMNS = [
    Column("id", "id"), Column("at (UTC)"), Column("kind", view="wide"), Column("story", "id", view="wide"),
    Column("thread", "id", view="wide"), Column("from -> to", view="wide"), Column("confidence"), Column("severity"),
    Column("title", "long"),
]


def development_tables(developments: list[Any], title: str, *, by_story: bool) -> list[tuple[str, list[Any]]]:
    """(title, developments) of each table to print: one, or with ``by_story`` one per story when there are
    several (a terminal's narrow table has no room for a story column beside the titles)."""
    stories = list(dict.fromkeys(dev.story_id for dev in developments))
    if not by_story or len(stories) < 2:
        return [(title, developments)]
    return [(f"{title}: {story or 'operations'}", [dev for dev in developments if dev.story_id == story])
            for story in stories]


def development_rows(developments: list[Any]) -> list[list[str]]:
    from monitor.cli.reports import short_id

    return [
        [
            short_id(dev.key),
            dev.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            dev.kind.value,
            dev.story_id,
            dev.thread_id or "",
            f"{dev.from_state} -> {dev.to_state}" if dev.to_state else "",
            dev.confidence.value,
            dev.severity.label,
            dev.title,
        ]
        for dev in developments
    ]


def _print_developments(developments: Iterable[Any], as_json: bool, title: str, *, wide: bool = False) -> None:
    devs = list(developments)
    if as_json:
        for dev in devs:
            echo_json(development_json(dev))
        return
    for table_title, group in development_tables(devs, title, by_story=sys.stdout.isatty() and not wide):
        print_table(table_title, DEVELOPMENT_COLUMNS, development_rows(group), wide=wide)


# ------------------------------------------------------------------------------------------ explain
@main.command()
@click.argument("title", required=False)
@click.option("--summary", default="", help="The item's summary, read like a feed's description.")
@click.option("--story", "story_id", help="Only this story (default: every configured story).")
@click.option("--item", "item_key", metavar="FEED:ITEM_ID", help="Explain a stored item instead of TITLE.")
@click.option("--development", "development_key", metavar="ID",
              help="Show a stored development (its id from `monitor history`, or its key) and the evidence it was "
                   "decided on.")
@click.option("--fresh", is_flag=True, help="Judge TITLE against the story's initial state, not the stored one.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story (or the development).")
@click.pass_obj
@handle_errors
def explain(obj: Context, title: str | None, summary: str, story_id: str | None, item_key: str | None,
            development_key: str | None, fresh: bool, as_json: bool) -> None:
    """Why a headline would (or would not) move the story: relevance, signals, the reducer's verdict.

    Nothing is stored or sent. TITLE is judged as if one ordinary outlet had just published it, against the
    stored story state (the database in the config, when it exists) or, with --fresh, the initial state.
    To judge every item of a feed or URL at once, storing nothing, see `monitor try`.
    """
    from monitor.app.explain import development_evidence, explain_item, explain_text
    from monitor.cli.reports import check_ids, find_development, short_id
    from monitor.clock import system_clock

    chosen = [x for x in (title, item_key, development_key) if x]
    if len(chosen) != 1:
        click.echo("error: give exactly one of TITLE, --item FEED:ITEM_ID or --development ID", err=True)
        sys.exit(2)
    if story_id:
        check_ids("story", [story_id], [story.id for story in obj.settings.stories])
    now = system_clock()
    if development_key:
        store = obj.open_store()
        try:
            with store.read() as tx:
                key = find_development(tx, development_key)
            found = {"id": short_id(key), **development_evidence(store, key)}
        finally:
            store.close()
        if as_json:
            echo_json(found)
            return
        click.echo(f"development {found['key']}: [{found['severity']}/{found['confidence']}] {found['title']} "
                   f"(id {found['id']})")
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
    from monitor.cli.reports import check_ids
    from monitor.clock import system_clock
    from monitor.notify.routing import channels_of

    check_ids("channel", channel_ids, [channel.id for channel in channels_of(obj.settings)])
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
@click.option("--wide", is_flag=True, help="Every column (key, targets, last error), unwrapped, however wide.")
@click.pass_obj
@handle_errors
def outbox(obj: Context, as_json: bool, show_all: bool, wide: bool) -> None:
    """Pending, retrying and dead-lettered deliveries (secrets masked)."""
    from monitor.cli.reports import outbox_report
    from monitor.clock import system_clock

    store = obj.open_store()
    try:
        rows = outbox_report(store, include_sent=show_all)
    finally:
        store.close()
    if as_json:
        for row in rows:
            echo_json(row)
        return
    print_outbox(rows, system_clock(), wide=wide)


OUTBOX_COLUMNS = [
    Column("id", "id"), Column("status"), Column("channel", "id"), Column("development", "id"),
    Column("key", "note", view="wide"), Column("attempts"), Column("next attempt", view="narrow"),
    Column("next attempt", view="wide"), Column("targets", "note"), Column("last error", "note"),
]


def outbox_rows(rows: list[dict[str, Any]], now: Any) -> list[list[Any]]:
    """The cells of ``OUTBOX_COLUMNS`` for ``outbox_report`` rows."""
    from monitor.cli.reports import due_text

    return [
        [r["id"], r["status"], r["channel"], r["development_id"], r["development"], r["attempts"],
         due_text(r["next_attempt_at"], now) if r["status"] in ("pending", "retrying") else "",
         r["next_attempt_at"] or "", r["targets_summary"], r["last_error"] or ""]
        for r in rows
    ]


def print_outbox(rows: list[dict[str, Any]], now: Any, *, wide: bool = False) -> None:
    print_table("outbox", OUTBOX_COLUMNS, outbox_rows(rows, now), wide=wide)


@main.command()
@click.argument("development", metavar="ID")
@click.pass_obj
@handle_errors
def ack(obj: Context, development: str) -> None:
    """Acknowledge a development: stops repeats of a critical alert.

    ID is the id `monitor history` and `monitor status` show (or at least its first 4 characters), or the
    development's full key. An id that names no development, or more than one, exits 2.
    """
    from monitor.cli.reports import find_development, short_id
    from monitor.clock import system_clock

    store = obj.open_store()
    try:
        with store.write() as tx:
            key = find_development(tx, development)
            tx.acknowledge(key, system_clock())
            found = tx.development(key)
    finally:
        store.close()
    click.echo(f"acknowledged {short_id(key)} ({key}){': ' + found.title if found else ''}")

from monitor.cli.trial import register as register_trial  # noqa: E402 - last: it is given the helpers above

register_trial(main, handle_errors, print_table)  # `monitor try`, `monitor items`
