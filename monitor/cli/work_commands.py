"""The commands that do the monitor's work: ``poll`` (one tick now), ``run`` (the daemon), ``replay`` (an archive
with a simulated clock)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import Context, echo_json, handle_errors
from monitor.cli.story_commands import print_developments
from monitor.clock import system_clock


@click.command()
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
    from monitor.cli.ids import check_ids

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


# ---------------------------------------------------------------------------------------------- run
@click.command()
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
@click.command()
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
    print_developments(developments, as_json, "developments (replay)")
