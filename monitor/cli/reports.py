"""Read-only reports for the CLI: config summary, status, feeds, outbox. Secrets are masked here.

Each ``*_report`` returns plain JSON-able dicts (the documented ``--json`` shapes in docs/json.md); each
``format_*`` turns one into text for a terminal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.app.deadlines import load_deadline_states
from monitor.app.health import HEARTBEAT_KEY, STARTED_KEY, STOPPED_KEY
from monitor.config.lint import settings_warnings
from monitor.config.masking import mask_database_url, mask_secret_url
from monitor.config.schema import Settings
from monitor.domain import DeliveryStatus, iso_utc
from monitor.durations import format_duration, parse_duration
from monitor.errors import ConfigError, UsageError
from monitor.notify.render import check_templates, terminal_safe
from monitor.story.deadlines import countdown_text

if TYPE_CHECKING:
    from monitor.store.db import Store, Tx

SHORT_ID_LENGTH = 8
MIN_ID_PREFIX = 4  # `ack` takes the shown id or at least this many of its first characters
SHOWN_IDS = 20  # an error naming the known ids lists this many, then "and N more"


# --------------------------------------------------------------------------------------------- ids
def short_id(key: str) -> str:
    """The id ``history``, ``status`` and ``outbox`` show for a development and ``ack`` accepts: the first 8 hex
    characters of the SHA-256 of its key, so the same development has the same id in every database and replay."""
    return _id_hash(key)[:SHORT_ID_LENGTH]


def _id_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def listed(ids: Iterable[str], limit: int = SHOWN_IDS) -> str:
    """``a, b, c``; beyond ``limit`` ids, the first ``limit`` and "and N more"; "none" for no id."""
    names = list(ids)
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_ids(kind: str, given: Iterable[str], known: Sequence[str], hint: str = "") -> None:
    """Raise UsageError (exit 2) naming the ``given`` ids that are not ``known``, and the known ones."""
    unknown = [g for g in given if g not in known]
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise UsageError(f"unknown {kind} id{'s' if len(unknown) > 1 else ''} {names}; the configured {kind} ids: "
                         f"{listed(known)}{hint}")


def find_development(tx: Tx, given: str) -> str:
    """The key of the development ``given`` names: its short id (or at least 4 of its first characters), its
    full key, or its stored number. UsageError (exit 2) when it names none, or more than one."""
    developments = tx.developments()
    if any(dev.key == given for dev in developments):
        return given
    text = given.strip().lower()
    matches = []
    if len(text) >= MIN_ID_PREFIX and all(c in "0123456789abcdef" for c in text):
        matches = [dev for dev in developments if _id_hash(dev.key).startswith(text)]
    if text.isdigit():  # the stored row number, as `ack` took it before ids were shown
        record = tx.development_record(int(text))
        if record is not None and all(dev.key != record.key for dev in matches):
            matches += [dev for dev in developments if dev.key == record.key]
    if len(matches) == 1:
        return matches[0].key
    if matches:
        names = "; ".join(f"{short_id(dev.key)} {dev.key}" for dev in matches[:SHOWN_IDS])
        raise UsageError(f"development id {given!r} is ambiguous: it names {len(matches)} developments ({names}); "
                         "give more characters of the id, or the full key")
    newest = [short_id(dev.key) for dev in reversed(developments)]
    raise UsageError(f"no development {given!r}; the stored development ids, newest first: {listed(newest)} "
                     "(`monitor history` shows them with their titles)")


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment else None


# -------------------------------------------------------------------------------------------- config
def config_summary(settings: Settings, source: str) -> dict[str, Any]:
    """What ``monitor config check --json`` prints. Raises ConfigError for a channel template that cannot render."""
    problems = template_problems(settings)
    if problems:
        raise ConfigError(problems, source)
    monitor = settings.monitor
    return {
        "config": source,
        "valid": True,
        "database_url": mask_database_url(monitor.database_url),
        "display_zone": monitor.display_zone,
        "user_agent": monitor.effective_user_agent,
        "feeds": [
            {
                "id": f.id,
                "url": f.url,
                "source": f.source.value,
                "enabled": f.enabled,
                "poll_interval_s": int((f.poll_interval or monitor.poll_interval).total_seconds()),
                "tags": list(f.tags),
                "stories": list(f.stories) or [s.id for s in settings.stories],
            }
            for f in settings.feeds
        ],
        "stories": [
            {
                "id": story.id,
                "title": story.title,
                "zone": story.zone,
                "threads": [
                    {
                        "id": thread_id,
                        "title": thread.title or thread_id,
                        "initial": thread.initial_state,
                        "states": [
                            {"id": s.id, "level": s.level, "kind": s.kind.value, "cues": len(s.cues)}
                            for s in thread.states
                        ],
                    }
                    for thread_id, thread in story.threads.items()
                ],
                "deadlines": [
                    {
                        "id": d.id,
                        "title": d.title,
                        "due_local": f"{d.due.isoformat()} {d.zone}",
                        "due_utc": iso_utc(d.due_utc),
                        "reminders": [format_duration(r) for r in d.reminders],
                        "resolved_by": list(d.resolved_by),
                    }
                    for d in story.deadlines
                ],
            }
            for story in settings.stories
        ],
        "channels": [
            {
                "id": c.id,
                "targets": [mask_secret_url(u) for u in c.urls],
                "format": c.format,
                "min_severity": c.min_severity.label,
                "min_confidence": c.min_confidence.value,
                "mode": c.mode,
            }
            for c in settings.channels
        ]
        or [{"id": "console", "targets": ["console://"], "format": "text", "min_severity": "info",
             "min_confidence": "reported", "mode": "immediate"}],
        # a valid config that cannot work as meant (a thread that gets stuck, a state it can never enter, ...)
        "warnings": settings_warnings(settings),
    }


def template_problems(settings: Settings) -> list[str]:
    """Each channel's template overrides that fail against a sample development, naming channel and template.

    Delivery would fall back to the shipped template for them (never losing a message); the check says so first.
    """
    return [
        f"channel {channel.id!r} (channels[{index}]): {problem}"
        for index, channel in enumerate(settings.channels)
        for problem in check_templates(channel.templates, channel.format)
    ]


def format_config_summary(summary: dict[str, Any]) -> str:
    lines = [f"configuration {summary['config']} is valid", f"database: {summary['database_url']}"]
    lines.append(f"feeds ({len(summary['feeds'])}):")
    for feed in summary["feeds"]:
        flag = "" if feed["enabled"] else " (disabled)"
        lines.append(f"  {feed['id']:<36} {feed['source']:<8} every {feed['poll_interval_s'] // 60} min{flag}")
    for story in summary["stories"]:
        lines.append(f"story {story['id']}: {story['title']} ({story['zone']})")
        for thread in story["threads"]:
            ladder = " -> ".join(f"{s['id']}[{s['level']}]" for s in thread["states"])
            lines.append(f"  thread {thread['id']}: {ladder}")
        for d in story["deadlines"]:
            lines.append(
                f"  deadline {d['id']}: {d['due_local']} = {d['due_utc']}; reminders {', '.join(d['reminders'])}"
            )
    lines.append("channels:")
    for c in summary["channels"]:
        lines.append(f"  {c['id']}: {', '.join(c['targets'])} ({c['format']}, >= {c['min_severity']}, {c['mode']})")
    warnings = summary.get("warnings", [])
    if warnings:
        lines.append(f"warnings ({len(warnings)}): the configuration is valid, but these parts may not work as meant")
        lines += [f"  - {warning}" for warning in warnings]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- status
def daemon_health(settings: Settings, store: Store, now: datetime) -> dict[str, Any]:
    """Is the daemon up, stalled or blind? Read from the heartbeat and feed health the daemon stores."""
    with store.read() as tx:
        heartbeat = tx.get_meta(HEARTBEAT_KEY)
        started = tx.get_meta(STARTED_KEY)
        stopped = tx.get_meta(STOPPED_KEY)
        feeds = tx.feeds()
    stall_after = max(settings.monitor.tick_interval * 4, timedelta(minutes=2))
    last_tick = heartbeat[1] if heartbeat else None
    # a clean stop is recorded: the daemon is down at once, not only after the stall bound
    stopped_at = stopped[1] if stopped else None
    cleanly_stopped = stopped_at is not None and last_tick is not None and stopped_at >= last_tick
    running = last_tick is not None and now - last_tick <= stall_after and not cleanly_stopped
    enabled = [f for f in feeds if f.enabled]
    successes = [f.last_success_at for f in enabled if f.last_success_at]
    last_success = max(successes) if successes else None
    started_at = datetime.fromisoformat(started[0]) if started else None
    # blind: nothing fetched for `blind_after`, counted from the last success, else from the daemon's start
    seen_since = last_success or started_at
    blind = bool(enabled) and running and seen_since is not None and now - seen_since > settings.monitor.blind_after
    if last_tick is None:
        reason = "daemon has never run on this database"
    elif cleanly_stopped:
        reason = "daemon was stopped"
    elif not running:
        reason = f"no tick for {format_duration(now - last_tick)} (stalled or down)"
    elif blind:
        reason = "blind: no feed has succeeded for " + (
            format_duration(now - last_success) if last_success else "the whole run"
        )
    else:
        reason = "ok"
    return {
        "ok": running and not blind,
        "running": running,
        "blind": blind,
        "reason": reason,
        "started_at": iso_or_none(started_at),
        "last_tick_at": iso_or_none(last_tick),
        "last_feed_success_at": iso_or_none(last_success),
    }


def status_report(settings: Settings, store: Store, now: datetime) -> dict[str, Any]:
    """What ``monitor status --json`` prints: stories, threads, deadlines, feeds, deliveries, health."""

    deadline_states = load_deadline_states(settings, store)
    stories = []
    with store.read() as tx:
        for story in settings.stories:
            stored = tx.thread_states(story.id)
            threads = []
            for thread_id, thread in story.threads.items():
                row = stored.get(thread_id)
                state_id = row.state if row else thread.initial_state
                # the development that moved it there, when it is stored (`monitor ack` takes its id)
                moved_by = row.development_key if row and row.development_key else None
                if moved_by is not None and tx.development_record(moved_by) is None:
                    moved_by = None
                threads.append(
                    {
                        "id": thread_id,
                        "title": thread.title or thread_id,
                        "state": state_id,
                        "state_title": thread.label_of(state_id),
                        "since": iso_or_none(row.since) if row else None,
                        "development": moved_by,
                        "development_id": short_id(moved_by) if moved_by else None,
                    }
                )
            deadlines = []
            for deadline in story.deadlines:
                state = deadline_states[(story.id, deadline.id)]
                deadlines.append(
                    {
                        "id": deadline.id,
                        "title": deadline.title,
                        "due_utc": iso_utc(state.due_at),
                        "due_story_zone": _local(state.due_at, story.zone),
                        "due_display_zone": _local(state.due_at, settings.monitor.display_zone),
                        "countdown": countdown_text(state, now),
                        "seconds_left": int((state.due_at - now).total_seconds()),
                        "resolved": state.resolved_at is not None,
                        "extended": state.due_at != deadline.due_utc,
                    }
                )
            stories.append({"id": story.id, "title": story.title, "threads": threads, "deadlines": deadlines})
        outbox_rows = tx.outbox()
    deliveries: dict[str, int] = {s.value: 0 for s in DeliveryStatus}
    for delivery in outbox_rows:
        deliveries[delivery.status] = deliveries.get(delivery.status, 0) + 1
    dead = [
        {"id": r.id, "channel": r.channel_id, "development": r.development_key,
         "development_id": short_id(r.development_key), "last_error": r.last_error}
        for r in outbox_rows
        if r.status == DeliveryStatus.DEAD
    ]
    return {
        "now": iso_utc(now),
        "database": mask_database_url(settings.monitor.database_url),
        "health": daemon_health(settings, store, now),
        "stories": stories,
        "feeds": feeds_report(settings, store, now),
        "deliveries": deliveries,
        "dead_letters": dead,
    }


def format_status(report: dict[str, Any]) -> str:

    health = report["health"]
    lines = [
        f"daemon: {'running' if health['running'] else 'not running'}"
        + (f" since {health['started_at']}" if health["started_at"] and health["running"] else "")
        + (f", last tick {health['last_tick_at']}" if health["last_tick_at"] else "")
        + f" ({health['reason']})",
        f"database: {report['database']}",
    ]
    for story in report["stories"]:
        lines.append(f"\n{story['title']} [{story['id']}]")
        for thread in story["threads"]:
            since = f" since {thread['since']}" if thread["since"] else ""
            moved_by = f" (id {thread['development_id']})" if thread.get("development_id") else ""
            lines.append(f"  {thread['title']:<32} {thread['state_title']}{since}{moved_by}")
        for d in story["deadlines"]:
            lines.append(f"  deadline {d['title']}: {d['countdown']}")
            lines.append(f"    {d['due_story_zone']} | {d['due_display_zone']} | {d['due_utc']}")
    feeds = report["feeds"]
    failing = [f for f in feeds if f["consecutive_failures"]]
    lines.append(f"\nfeeds: {len(feeds)} ({len(failing)} failing)")
    now = datetime.fromisoformat(report["now"])
    for feed in feeds:
        last = feed["last_success_at"] or "never"
        err = f" - {feed['last_error']}" if feed["last_error"] else ""
        err += f" (note: {feed['notice']})" if feed.get("notice") else ""
        lines.append(f"  {feed['id']:<36} {feed['state']:<9} last ok {last}, next poll {next_poll_text(feed, now)}"
                     f"{err}")
    counts = report["deliveries"]
    lines.append(
        "\ndeliveries: "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        if any(counts.values())
        else "\ndeliveries: none yet"
    )
    for dead in report["dead_letters"]:
        lines.append(f"  DEAD #{dead['id']} {dead['channel']} development {dead['development_id']}: "
                     f"{dead['last_error']}")
    return terminal_safe("\n".join(lines), keep_newlines=True)


def feeds_report(settings: Settings, store: Store, now: datetime) -> list[dict[str, Any]]:
    """One dict per configured feed (``monitor feeds --json``)."""
    with store.read() as tx:
        rows = {row.id: row for row in tx.feeds()}
    out = []
    for feed in settings.feeds:
        row = rows.get(feed.id)
        if row is None:
            out.append(
                {"id": feed.id, "url": feed.url, "configured_url": feed.url, "state": "new", "enabled": feed.enabled,
                 "last_status": None, "consecutive_failures": 0, "last_attempt_at": None, "last_success_at": None,
                 "next_poll_at": None, "last_error": None, "items_seen": 0, "conditional_get": None, "notice": None}
            )
            continue
        if not row.enabled:
            state = "disabled"
        elif row.consecutive_failures:
            state = "failing"
        elif row.last_success_at:
            state = "ok"
        else:
            state = "new"
        out.append(
            {
                "id": feed.id,
                "url": row.current_url or row.url,
                "configured_url": feed.url,
                "state": state,
                "enabled": row.enabled,
                "disabled_reason": row.disabled_reason,
                "last_status": row.last_status,
                "consecutive_failures": row.consecutive_failures,
                "last_attempt_at": iso_or_none(row.last_attempt_at),
                "last_success_at": iso_or_none(row.last_success_at),
                "next_poll_at": iso_or_none(row.next_poll_at),
                "last_error": row.last_error,
                "items_seen": row.items_seen,
                "conditional_get": row.conditional_supported,
                "notice": row.notice,
            }
        )
    return out


def outbox_report(store: Store, include_sent: bool = False) -> list[dict[str, Any]]:
    """One dict per outbox row (``monitor outbox --json``); target URLs are masked, never raw."""
    with store.read() as tx:
        rows = tx.outbox()
    out = []
    for row in rows:
        if row.status == DeliveryStatus.SENT and not include_sent:
            continue
        targets = json.loads(row.targets_json or "[]") if isinstance(row.targets_json, str) else row.targets_json
        out.append(
            {
                "id": row.id,
                "status": row.status,
                "channel": row.channel_id,
                "development": row.development_key,
                "confidence": row.confidence,
                "attempts": row.attempts,
                "created_at": iso_or_none(row.created_at),
                "next_attempt_at": iso_or_none(row.next_attempt_at),
                "sent_at": iso_or_none(row.sent_at),
                "last_error": row.last_error,
                "targets": targets,
                "targets_summary": ", ".join(f"{t.get('target')}={target_result(t)}" for t in targets),
                "development_id": short_id(row.development_key),
            }
        )
    return out


def target_result(target: dict[str, Any]) -> str:
    """``ok``, ``failed``, or ``not tried`` for a target with no result yet (a message not yet sent, or sent
    only to the targets before it)."""
    if target.get("ok"):
        return "ok"
    return "failed" if target.get("attempts") or target.get("error") else "not tried"


def ago(iso: str | None, now: datetime, never: str = "never") -> str:
    """``3 min ago`` for an ISO time (``never`` for none)."""
    if iso is None:
        return never
    return f"{format_duration(now - datetime.fromisoformat(iso), parts=1)} ago"


def due_text(iso: str | None, now: datetime) -> str:
    """``in 4 min`` for an ISO time ahead, ``due now`` for one passed, ``""`` for none."""
    if iso is None:
        return ""
    due = datetime.fromisoformat(iso)
    return f"in {format_duration(due - now, parts=1)}" if due > now else "due now"


def next_poll_text(feed: dict[str, Any], now: datetime) -> str:
    """When a feed (a ``feeds_report`` row) is polled next: ``in 14 min``, ``due now`` (also a feed never
    polled: the next tick polls it) or ``never`` (disabled)."""
    if not feed["enabled"]:
        return "never"
    return due_text(feed["next_poll_at"], now) or "due now"


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: an ISO date/time (UTC if no offset) or a duration ago (``2d``, ``6h``)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:

        raise UsageError(f"--since: cannot read {text!r}; give an ISO time like 2026-02-27T12:00 or a duration "
                         "ago like 2d or 6h")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
