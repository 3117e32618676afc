"""``monitor status`` and ``monitor feeds``: what the monitor knows now, read without the ORM.

Both read through :class:`monitor.store.status.StatusReader` (``Context.open_status_reader``): a few plain
queries, no SQLAlchemy ORM, SQLModel or Alembic; a database that needs a migration first (or a URL the reader
does not take) is opened as the full store instead, which migrates it as every command does.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.common import Context, echo_json, handle_errors
from monitor.cli.tables import Column, print_table
from monitor.clock import system_clock

if TYPE_CHECKING:
    from monitor.store.db import Store
    from monitor.store.status import StatusReader


@contextlib.contextmanager
def state_source(obj: Context) -> Iterator[Store | StatusReader]:
    """What the reports read: the light status reader on the configured database, or the full store when the
    database needs it (a migration first, a URL the reader does not take). Closed on exit."""
    reader = obj.open_status_reader()
    if reader is not None:
        with reader:
            yield reader
        return
    store = obj.open_store()
    try:
        yield store
    finally:
        store.close()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--check", is_flag=True, help="Exit 1 when the daemon is down, stalled or blind (for healthchecks).")
@click.pass_obj
@handle_errors
def status(obj: Context, as_json: bool, check: bool) -> None:
    """Stories, thread states, deadline countdowns, feeds, deliveries and the daemon's health."""
    from monitor.cli.status import format_status, status_report

    settings = obj.settings
    with state_source(obj) as source:
        report = status_report(settings, source, system_clock())
    if as_json:
        echo_json(report)
    else:
        click.echo(format_status(report))
    if check and not report["health"]["ok"]:
        click.echo(f"unhealthy: {report['health']['reason']}", err=True)
        sys.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print feed health as JSON.")
@click.option("--wide", is_flag=True, help="Every column (URL, last error), unwrapped, however wide.")
@click.pass_obj
@handle_errors
def feeds(obj: Context, as_json: bool, wide: bool) -> None:
    """Feed health: last poll, status, failures, next poll, current URL."""
    from monitor.cli.status import feeds_report

    now = system_clock()
    with state_source(obj) as source:
        rows = feeds_report(obj.settings, source, now)
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
    from monitor.cli.when import ago, next_poll_text

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
