"""Delivery: ``notify test`` (a test message to each channel) and ``outbox`` (pending, retrying and dead-lettered
deliveries)."""

from __future__ import annotations

import sys
from typing import Any

import click

from monitor.cli.common import Context, echo_json, handle_errors
from monitor.cli.tables import Column, print_table
from monitor.clock import system_clock


@click.group()
def notify() -> None:
    """Notification channels."""


@notify.command("test")
@click.option("--channel", "channel_ids", multiple=True, help="Only this channel id (repeatable).")
@click.pass_obj
@handle_errors
def notify_test(obj: Context, channel_ids: tuple[str, ...]) -> None:
    """Send a test message to each channel and print the per-target result."""
    from monitor.app.deliver import send_test_message
    from monitor.cli.ids import check_ids
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery.")
@click.option("--all", "show_all", is_flag=True, help="Include sent deliveries.")
@click.option("--wide", is_flag=True, help="Every column (key, targets, last error), unwrapped, however wide.")
@click.pass_obj
@handle_errors
def outbox(obj: Context, as_json: bool, show_all: bool, wide: bool) -> None:
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
    print_outbox(rows, system_clock(), wide=wide)


OUTBOX_COLUMNS = [
    Column("id", "id"), Column("status"), Column("channel", "id"), Column("development", "id"),
    Column("key", "note", view="wide"), Column("attempts"), Column("next attempt", view="narrow"),
    Column("next attempt", view="wide"), Column("targets", "note"), Column("last error", "note"),
]


def outbox_rows(rows: list[dict[str, Any]], now: Any) -> list[list[Any]]:
    """The cells of ``OUTBOX_COLUMNS`` for ``outbox_report`` rows."""
    from monitor.cli.when import due_text

    return [
        [r["id"], r["status"], r["channel"], r["development_id"], r["development"], r["attempts"],
         due_text(r["next_attempt_at"], now) if r["status"] in ("pending", "retrying") else "",
         r["next_attempt_at"] or "", r["targets_summary"], r["last_error"] or ""]
        for r in rows
    ]


def print_outbox(rows: list[dict[str, Any]], now: Any, *, wide: bool = False) -> None:
    print_table("outbox", OUTBOX_COLUMNS, outbox_rows(rows, now), wide=wide)
