"""Read-only reports for the CLI: the config summary and the outbox. Secrets are masked here.

Each ``*_report`` returns plain JSON-able dicts (the documented ``--json`` shapes in docs/json.md); each
``format_*`` turns one into text for a terminal. The status and feeds reports are in :mod:`monitor.cli.status`,
ids in :mod:`monitor.cli.ids`, time texts in :mod:`monitor.cli.when`; their names are importable from here too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from monitor.cli.ids import MIN_ID_PREFIX, SHORT_ID_LENGTH, SHOWN_IDS, check_ids, find_development, listed, short_id
from monitor.cli.status import (
    HEARTBEAT_KEY,
    STARTED_KEY,
    STOPPED_KEY,
    daemon_health,
    feeds_report,
    format_status,
    status_report,
)
from monitor.cli.when import ago, due_text, iso_or_none, next_poll_text, parse_since
from monitor.config.lint import settings_warnings
from monitor.config.masking import mask_database_url, mask_secret_url
from monitor.config.schema import Settings
from monitor.domain import DeliveryStatus, iso_utc
from monitor.durations import format_duration
from monitor.errors import ConfigError
from monitor.notify.render import check_templates

if TYPE_CHECKING:
    from monitor.store.db import Store

__all__ = [
    "HEARTBEAT_KEY", "MIN_ID_PREFIX", "SHORT_ID_LENGTH", "SHOWN_IDS", "STARTED_KEY", "STOPPED_KEY", "ago",
    "check_ids", "config_summary", "daemon_health", "due_text", "feeds_report", "find_development",
    "format_config_summary", "format_status", "iso_or_none", "listed", "next_poll_text", "outbox_report",
    "parse_since", "short_id", "status_report", "target_result", "template_problems",
]


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


# -------------------------------------------------------------------------------------------- outbox
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
