"""Delivering the outbox: claim due rows, render, send per target through apprise, record per target.

At least once, never lost: a row is claimed with a compare-and-set update, then sent target by target, and each
target's result is recorded. Just before each target's send the worker checks (compare-and-set) that the claim is
still its own and records the results so far, so a row whose claim was released is never sent by the worker that
lost it, and a target that already accepted the message is not sent it again.

A row left ``sending`` by a process that no longer works on it is put back by the next delivery pass of any
process (:func:`release_orphaned_claims`): at once when its claimant, on this machine, has exited (the claim names
the process: :class:`monitor.store.locking.Claimant`) or, for a daemon taking over the instance lock, when it was
claimed by a daemon elsewhere; after the stale-claim timeout (5 minutes since the claimant last started a send)
when the claimant is on another machine. A claim of a live process on this machine is never taken.

Duplicates therefore come only from a crash while a message is in flight: between the check just before a
target's send and the recording of that target's result. apprise has no idempotency key, so the next process
sends that message to that target again: at most one extra copy per crash during that message's send. A crash at
any other moment (before the send, between sends, after the result was recorded) produces no copy.

What a message shows beyond its development (the story's thread line, the deadline countdown, the human titles)
is frozen when the development is recorded (:func:`message_context`, stored on its outbox rows), so a retry, a
repeat or a digest shows the story as it stood then. Rows queued before that column existed fall back to the
live state.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.app.deadlines import story_deadline_states
from monitor.app.watchdog import ops_development
from monitor.clock import monotonic
from monitor.config.schema import ChannelConfig, Settings
from monitor.domain import Confidence, DeliveryStatus, Development, DevelopmentKind, Severity, iso_utc
from monitor.notify.apprise import notify_type_for, send
from monitor.notify.render import render, render_digest, story_labels
from monitor.notify.routing import channel_wants, channels_of, release_time, retry_at
from monitor.store.locking import DAEMON_ROLE, Claimant, Liveness, claimant_liveness, this_process
from monitor.story.deadlines import countdown_text, threads_line

if TYPE_CHECKING:
    from monitor.store.db import OutboxRow, Store, Tx

log = logging.getLogger("monitor.app.deliver")
CLAIM_BATCH = 50


STALE_CLAIM = timedelta(minutes=5)
# claim_due's own stale-claim takeover is switched off (it would take any claim older than 1970):
# release_orphaned_claims decides instead, knowing whether the claimant still runs
_NO_TAKEOVER_BEFORE = datetime(1970, 1, 1, tzinfo=UTC)


def deliver_due(settings: Settings, store: Store, now: datetime, worker_id: str, rng: random.Random) -> tuple[int, int]:
    """Put back orphaned claims, then send every due outbox row. Returns (rows fully sent, rows with a failed target).

    ``worker_id`` labels this process's claims (:func:`claimant_id`)."""

    worker = claimant_id(worker_id)
    started = monotonic()

    def clock() -> datetime:  # ``now`` moved on by the time this pass has taken: when each send starts
        return now + timedelta(seconds=monotonic() - started)

    channels = {c.id: c for c in channels_of(settings)}
    with store.write() as tx:
        released = _release_orphans(tx, now, instance_lock_held=False)
        claimed = tx.claim_due(now, worker, CLAIM_BATCH, stale_after=now - _NO_TAKEOVER_BEFORE)
        developments = {row.development_key: tx.development(row.development_key) for row in claimed}
        cancelled = [r for r in claimed if r.repeat_until_ack and tx.is_acknowledged(r.development_key)]
    if released:
        log.warning("released %d delivery(ies) claimed by a worker that is gone; sending them again", released)
    for row in cancelled:  # a repeat queued before `monitor ack`: not sent, closed as done
        _finish(store, row, worker, now, list(row.targets), DeliveryStatus.SENT, None, "acknowledged; not repeated")
    # in the order they fell due (claim_due returns them by id): a row put back after a crash waits its turn
    rows = sorted((r for r in claimed if r not in cancelled), key=lambda r: (r.next_attempt_at, r.id))
    by_channel: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_channel[row.channel_id].append(row)
    sent = failed = 0
    for channel_id, channel_rows in by_channel.items():
        channel = channels.get(channel_id)
        if channel is None:  # channel removed from the config: nothing can send it; dead-letter it
            for row in channel_rows:
                _finish(store, row, worker, now, [], DeliveryStatus.DEAD, None, "channel no longer configured")
            continue
        batches = [channel_rows] if channel.mode == "digest" else [[row] for row in channel_rows]
        for batch in batches:
            done, not_done = _send_batch(settings, store, channel, batch, developments, now, worker, rng, clock)
            sent += done
            failed += not_done
    return sent, failed


def claimant_id(worker_id: str) -> str:
    """What this process's claims record in ``claimed_by``: ``worker_id`` when it already names this process as a
    claimant (the daemon passes one, role ``daemon``), else this process with ``worker_id`` as its role label."""
    claimant = Claimant.parse(worker_id)
    if claimant is not None and claimant.start and claimant.same_process(this_process()):
        return worker_id
    return str(this_process(worker_id))


def release_orphaned_claims(store: Store, now: datetime, *, instance_lock_held: bool = False) -> int:
    """Put back (to ``retrying``, due at once) the outbox rows left ``sending`` by a process that no longer works on
    them; returns how many. Every delivery pass does this first; the daemon also on becoming active.

    Released: a claim of a process of this machine that has exited (at once, whatever its age); with
    ``instance_lock_held`` (the caller is the active daemon), a claim of a daemon on another machine (only the
    lock holder claims as a daemon, so that one lost the lock: it died); and any claim no live process of this
    machine holds once it is older than :data:`STALE_CLAIM` (another machine's, an old version's, or this
    process's own left by an error). Never: a claim of a live process of this machine, which is sending that row
    or will record it; so no row is sent by two live processes.

    Per-target results are kept, so targets that already accepted the message are not sent it again; a message
    whose send was in flight when its claimant died is sent once more (at-least-once: at most one extra copy per
    crash during that message's send).
    """
    with store.write() as tx:
        return _release_orphans(tx, now, instance_lock_held=instance_lock_held)


def _release_orphans(tx: Tx, now: datetime, *, instance_lock_held: bool) -> int:
    released = 0
    for row in tx.outbox({DeliveryStatus.SENDING}):
        reason = _orphaned(row, now, instance_lock_held)
        # Due again as it was: a row its claimant had not started on keeps its place in the queue (oldest next
        # attempt first); one whose send had started is due from that start (renew_claim), behind them. So after
        # a crash the message that was in flight is not the first one sent again, and a run of crashes at the same
        # point of a batch does not hit that one message every time.
        due_at = min(row.next_attempt_at, now)
        if reason is not None and tx.release_claim(row, due_at, reason):
            released += 1
    return released


def _orphaned(row: OutboxRow, now: datetime, instance_lock_held: bool) -> str | None:
    """Why ``row``'s claim is to be released, or None to leave it with its claimant."""
    liveness = claimant_liveness(row.claimed_by)
    if liveness is Liveness.DEAD:
        return "its worker exited while sending it; sent again"
    if liveness is Liveness.ALIVE:
        return None
    claimant = Claimant.parse(row.claimed_by)
    if (liveness is Liveness.ELSEWHERE and instance_lock_held and claimant is not None
            and claimant.role == DAEMON_ROLE):
        return "claimed by a daemon that no longer holds the instance lock; sent again"
    if row.claimed_at is None or row.claimed_at <= now - STALE_CLAIM:
        return "its worker did not finish sending it within 5 minutes; sent again"
    return None


def _send_batch(settings: Settings, store: Store, channel: ChannelConfig, rows: list[Any],
                developments: dict[str, Development | None], now: datetime, worker_id: str,
                rng: random.Random, clock: Callable[[], datetime]) -> tuple[int, int]:
    """Send one message (a row, or a digest's rows) target by target and record it. Returns (rows sent, rows with a
    failed target); rows whose claim this worker lost before a send are neither (their new claimant has them)."""

    previous = _targets(rows[0].targets_json, len(channel.urls))
    message: Any = None
    severity = Severity.INFO
    for index in [i for i, t in enumerate(previous) if not t.get("ok")]:
        with store.write() as tx:  # still ours? (released rows are not ours to send) and keep the results so far
            held = [row for row in rows if tx.renew_claim(row.id, worker_id, clock(), previous)]
        if len(held) < len(rows):
            lost = sorted(row.id for row in rows if row not in held)
            log.warning("outbox row(s) %s were released before this worker sent them; not sent here", lost)
            rows, message = held, None
        if not rows:
            return 0, 0
        if message is None:
            devs = [d for d in (developments[row.development_key] for row in rows) if d is not None]
            contexts = {row.development_key: row.context for row in rows}
            message = _message(settings, store, channel, devs, now, contexts)
            severity = max((d.severity for d in devs), default=Severity.INFO)  # a digest is as urgent as its worst
        for result in send(channel.urls, message, only={index}, notify_type=notify_type_for(severity.label)):
            entry = previous[result.index]
            entry.update(target=result.target, ok=result.ok, error=result.error,
                         attempts=int(entry.get("attempts", 0)) + 1)
    all_ok = all(t.get("ok") for t in previous)
    errors = "; ".join(f"{t['target']}: {t['error']}" for t in previous if not t.get("ok") and t.get("error"))
    for row in rows:
        if all_ok:
            _finish(store, row, worker_id, now, previous, DeliveryStatus.SENT, None, None)
            _schedule_repeat(store, channel, row, developments.get(row.development_key), now)
        elif now - row.created_at >= channel.max_age:
            _finish(store, row, worker_id, now, previous, DeliveryStatus.DEAD, None, errors or "failed")
            _dead_letter_alert(settings, store, channel, row, errors, now)
        else:
            next_at = retry_at(row.attempts + 1, now, rng=rng)
            _finish(store, row, worker_id, now, previous, DeliveryStatus.RETRYING, next_at, errors or "failed")
    if not all_ok:
        log.warning("delivery on channel %s failed for some targets: %s", channel.id, errors)
    return (len(rows), 0) if all_ok else (0, len(rows))


def _message(settings: Settings, store: Store, channel: ChannelConfig, devs: list[Development], now: datetime,
             contexts: Mapping[str, Mapping[str, Any] | None] | None = None) -> Any:
    """The message for ``devs`` on ``channel``, from each development's frozen context in ``contexts`` (by key);
    a development without one (queued before contexts were stored) is rendered from the live state as of ``now``."""

    stories = {s.id: s for s in settings.stories}
    frozen = dict(contexts or {})
    context: dict[str, Mapping[str, Any]] = {}
    for d in devs:
        stored = frozen.get(d.key)
        context[d.key] = stored if stored is not None else _live_context(settings, store, d, now)

    def story_title(d: Development, default: str) -> str:
        title = context[d.key].get("story_title")
        return str(title) if title else (stories[d.story_id].title if d.story_id in stories else default)

    if channel.mode == "digest" and len(devs) != 1:
        pairs = [(d, story_title(d, "monitor")) for d in devs]
        labels = {key: dict(c.get("labels") or {}) for key, c in context.items()}
        return render_digest(pairs, fmt=channel.format, now=now, display_zone=settings.monitor.display_zone,
                             labels=labels)
    dev = devs[0]
    story = stories.get(dev.story_id)
    frozen_context = context[dev.key]
    return render(
        dev,
        fmt=channel.format,
        story_title=story_title(dev, "deadline monitor"),
        thread_line=str(frozen_context.get("thread_line") or ""),
        countdown=frozen_context.get("countdown") or None,
        display_zone=settings.monitor.display_zone,
        story_zone=story.zone if story else "UTC",
        now=now,
        templates=channel.templates or None,
        labels=dict(frozen_context.get("labels") or {}),
    )


def message_context(settings: Settings, tx: Tx, dev: Development, now: datetime) -> dict[str, Any]:
    """What a message about ``dev`` shows beyond the development itself, as ``tx`` sees the story at ``now``.

    ``story_title``; ``thread_line``, the one-line summary of the story's threads; ``countdown``, the nearest
    deadline's countdown (or None); ``labels``, the words for the development's thread and its states (see
    :func:`monitor.notify.render.story_labels`). Empty for a development of no configured story (operations).
    JSON-serialisable: :meth:`monitor.app.service.Service.record` stores it with the outbox rows.
    """
    story = next((s for s in settings.stories if s.id == dev.story_id), None)
    if story is None:
        return {}
    threads = {thread_id: row.state for thread_id, row in tx.thread_states(story.id).items()}
    countdown = None
    if story.deadlines:
        states = story_deadline_states(tx, story)
        deadline = min(story.deadlines, key=lambda d: states[d.id].due_at)
        countdown = f"{deadline.title}: {countdown_text(states[deadline.id], now)}"
    thread = dev.thread_id
    labels = {key: words for key, words in story_labels(story).items()
              if thread and (key == thread or key.startswith(f"{thread}."))}
    return {
        "story_title": story.title,
        "thread_line": threads_line(story, threads, sep=" · "),
        "countdown": countdown,
        "labels": labels,
    }


def _live_context(settings: Settings, store: Store, dev: Development, now: datetime) -> dict[str, Any]:
    """The context of a row queued without one: the story as it stands at delivery."""
    with store.read() as tx:
        return message_context(settings, tx, dev, now)


def _targets(raw: Any, count: int) -> list[dict[str, Any]]:
    targets = json.loads(raw) if isinstance(raw, str) and raw else list(raw or [])
    while len(targets) < count:
        targets.append({"target": "", "ok": False, "attempts": 0, "error": None})
    return [dict(t) for t in targets[:count]]


def _finish(store: Store, row: Any, worker_id: str, now: datetime, targets: list[dict[str, Any]],
            status: DeliveryStatus, next_at: datetime | None, error: str | None) -> None:
    with store.write() as tx:
        done = tx.finish_delivery(row.id, worker_id, targets=targets, status=status, next_attempt_at=next_at,
                                  last_error=error, now=now)
    if not done:
        log.warning("outbox row %s was taken over by another worker before it was recorded", row.id)


def _schedule_repeat(store: Store, channel: ChannelConfig, row: Any, dev: Development | None, now: datetime) -> None:
    """Critical developments repeat on a channel with ``repeat`` until acknowledged (``monitor ack``)."""
    if channel.repeat is None or dev is None or dev.severity < Severity.CRITICAL:
        return
    with store.write() as tx:
        current = tx.development(dev.key)
        if current is None or tx.is_acknowledged(dev.key):
            return
        tx.enqueue(dev.key, channel.id, confidence=dev.confidence, release_at=now + channel.repeat, now=now,
                   targets=len(channel.urls), repeat=True, context=row.context)  # the same message again


def _dead_letter_alert(settings: Settings, store: Store, channel: ChannelConfig, row: Any, errors: str,
                       now: datetime) -> None:
    """Tell the channels that take operations messages that a delivery was given up (never about itself)."""

    with store.write() as tx:
        original = tx.development(row.development_key)
        if original is not None and original.kind == DevelopmentKind.DELIVERY_DEAD:
            return
        dev = ops_development(
            DevelopmentKind.DELIVERY_DEAD, f"dead:{row.id}", now, f"Delivery to channel {channel.id} given up",
            f"Outbox row {row.id} ({row.development_key}) could not be delivered since "
            f"{iso_utc(row.created_at)}: {errors}",
            Severity.WARNING, {"outbox_id": row.id, "channel": channel.id},
        )
        is_new, _ = tx.upsert_development(dev, now)
        if not is_new:
            return
        context = message_context(settings, tx, dev, now)
        for other in channels_of(settings):
            if other.id != channel.id and channel_wants(other, dev):
                tx.enqueue(dev.key, other.id, confidence=dev.confidence, release_at=release_time(other, dev, now),
                           now=now, targets=len(other.urls), context=context)


def send_test_message(settings: Settings, channel_ids: Iterable[str] | None, now: datetime) -> dict[str, list[Any]]:
    """``monitor notify test``: send one test message per channel now; the per-target results."""

    wanted = set(channel_ids) if channel_ids else None
    results = {}
    dev = Development(key=f"ops:test:{iso_utc(now)}", kind=DevelopmentKind.TEST, story_id="", at=now,
                      title="Test message from the deadline monitor", severity=Severity.INFO,
                      summary="If you can read this, the channel works.", confidence=Confidence.CONFIRMED)
    for channel in channels_of(settings):
        if wanted is not None and channel.id not in wanted:
            continue
        message = render(dev, fmt=channel.format, story_title="deadline monitor", thread_line="", countdown=None,
                         display_zone=settings.monitor.display_zone, story_zone="UTC", now=now,
                         templates=channel.templates or None)
        results[channel.id] = send(channel.urls, message)
    return results
