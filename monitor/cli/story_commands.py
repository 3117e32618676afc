"""The story's record: ``history`` (stored developments), ``explain`` (why a headline would move the story),
``ack`` (stop a critical alert's repeats) and ``calendar`` (the deadlines as iCalendar)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import Context, echo_json, handle_errors
from monitor.cli.tables import Column, print_table
from monitor.clock import system_clock


@click.command()
@click.option("--story", "story_id", help="Only this story.")
@click.option("--since", help="Only developments at or after this ISO time, or this long ago ('2d').")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per development.")
@click.option("--atom", is_flag=True, help="Write an Atom feed of the developments to stdout.")
@click.option("--wide", is_flag=True, help="Every column (kind, story, thread, states), unwrapped, however wide.")
@click.pass_obj
@handle_errors
def history(obj: Context, story_id: str | None, since: str | None, as_json: bool, atom: bool, wide: bool) -> None:
    """Stored developments, oldest first, each with the id `monitor ack` takes."""
    from monitor.cli.ids import check_ids
    from monitor.cli.when import parse_since

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
    print_developments(developments, as_json, "developments", wide=wide)


def development_json(dev: Any) -> dict[str, Any]:
    """A development's documented JSON (docs/json.md), with its short ``id`` first."""
    from monitor.cli.ids import short_id

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
    from monitor.cli.ids import short_id

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


def print_developments(developments: Iterable[Any], as_json: bool, title: str, *, wide: bool = False) -> None:
    devs = list(developments)
    if as_json:
        for dev in devs:
            echo_json(development_json(dev))
        return
    for table_title, group in development_tables(devs, title, by_story=sys.stdout.isatty() and not wide):
        print_table(table_title, DEVELOPMENT_COLUMNS, development_rows(group), wide=wide)


# ------------------------------------------------------------------------------------------ explain
@click.command()
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
    from monitor.cli.ids import check_ids, find_development, short_id

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
    reader = None if (fresh and not item_key) or not obj.database_exists() else obj.open_store()
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


# ----------------------------------------------------------------------------------------- calendar
@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.pass_obj
@handle_errors
def calendar(obj: Context, output: str | None) -> None:
    """Write the deadlines and their reminders as an iCalendar file."""
    from monitor.app.deadlines import load_deadline_states
    from monitor.cli.calendar import deadlines_calendar

    if obj.database_exists():
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


@click.command()
@click.argument("development", metavar="ID")
@click.pass_obj
@handle_errors
def ack(obj: Context, development: str) -> None:
    """Acknowledge a development: stops repeats of a critical alert.

    ID is the id `monitor history` and `monitor status` show (or at least its first 4 characters), or the
    development's full key. An id that names no development, or more than one, exits 2.
    """
    from monitor.cli.ids import find_development, short_id


    store = obj.open_store()
    try:
        with store.write() as tx:
            key = find_development(tx, development)
            tx.acknowledge(key, system_clock())
            found = tx.development(key)
    finally:
        store.close()
    click.echo(f"acknowledged {short_id(key)} ({key}){': ' + found.title if found else ''}")
