"""``monitor try`` and ``monitor items``: a safe trial of one feed, and the list of stored items. Thin: options
in, a use case of ``monitor.app.trial`` / ``monitor.app.items`` called, its result printed.

Neither command writes: ``try`` reads the database only when it exists (a SQLite file is never created to try a
feed) and stores, sends and marks nothing; ``items`` is read-only like ``history`` ("no database at PATH yet",
exit 1, before the first poll). Unknown ids exit 2 naming the configured ones.

``cli/main.py`` imports this module to register the commands (:func:`register`, called with main's error
boundary and table printer, so this module does not import main back: no import cycle). As in main, the app and
store layers are imported inside the commands, so ``monitor --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

if TYPE_CHECKING:
    from monitor.cli.common import Context

F = TypeVar("F", bound=Callable[..., Any])
TablePrinter = Callable[[str, Iterable[str], Iterable[Iterable[Any]]], None]


class Boundary(Protocol):
    """A decorator that keeps a command's signature (main.handle_errors)."""

    def __call__(self, func: F, /) -> F: ...


def register(group: click.Group, boundary: Boundary, print_table: TablePrinter) -> None:
    """Add ``try`` and ``items`` to ``group``; ``boundary`` is the CLI's error boundary (main.handle_errors),
    ``print_table`` its table printer (a Rich table on a terminal, tab-separated lines otherwise)."""

    @group.command("try")
    @click.argument("url", required=False)
    @click.option("--feed", "feed_id", metavar="ID", help="Try this configured feed instead of URL.")
    @click.option("--story", "story_id", metavar="ID", help="Judge against this story only (default: the feed's "
                  "stories; every story for a URL).")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
    @click.pass_obj
    @boundary
    def try_command(obj: Context, url: str | None, feed_id: str | None, story_id: str | None,
                    as_json: bool) -> None:
        """Fetch and parse a feed now and show what each item would do: relevance, signals, verdict.

        A dry run of one feed (URL, or a configured --feed): the real fetcher with the config's user agent, caps
        and fetch policy; each item judged, in the order a poll reads them, against a copy of the stored story
        state (the initial state when there is no database yet). Nothing is stored, sent or marked seen, and no
        database is created. A fetch that fails, or a body that is not a feed, exits 1.
        """
        from monitor.app.trial import try_feed
        from monitor.clock import system_clock

        settings = obj.settings
        store = obj.open_store() if database_exists(obj) else None
        try:
            trial = try_feed(settings, store, url=url, feed_id=feed_id, story_id=story_id, clock=system_clock)
        finally:
            if store is not None:
                store.close()
        if as_json:
            for found in trial.items:
                echo_json(found.to_json())
            return
        for note in trial.notes:
            click.echo(f"note: {note}")
        for found in trial.items:
            click.echo("\n".join(found.lines()) + "\n")
        click.echo(trial.summary())

    @group.command("items")
    @click.option("--feed", "feed_id", metavar="ID", help="Only this feed's items.")
    @click.option("--since", help="Only items published at or after this ISO time, or this long ago ('2d').")
    @click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
                  help="At most this many items (the newest).")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
    @click.pass_obj
    @boundary
    def items_command(obj: Context, feed_id: str | None, since: str | None, limit: int, as_json: bool) -> None:
        """Stored items, newest first, with the development each one fed (see `monitor explain --item`)."""
        from monitor.app.items import check_feed, stored_items
        from monitor.cli.when import parse_since
        from monitor.clock import system_clock

        check_feed(obj.settings, feed_id)
        since_at = parse_since(since, system_clock()) if since else None
        store = obj.open_store()
        try:
            found = stored_items(store, feed_id=feed_id, since=since_at, limit=limit)
        finally:
            store.close()
        if as_json:
            for row in found:
                echo_json(row.to_json())
            return
        print_table(
            f"items, newest first ({len(found)} shown)",
            ["feed", "published (UTC)", "outlet", "title", "link", "development"],
            [[row.item.feed_id, row.item.published.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), row.item.outlet,
              row.item.title, row.item.link or "", ", ".join(row.developments)] for row in found],
        )


def database_exists(obj: Context) -> bool:
    """Whether the configured database is there to read (a SQLite file is never created just to try a feed)."""
    from monitor.store.locking import sqlite_file

    path = sqlite_file(obj.settings.monitor.database_url)
    return path is None or Path(path).exists()


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))
