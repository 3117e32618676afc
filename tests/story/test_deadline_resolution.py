"""A deadline is resolved only by a CONFIRMED act; the thread states it is judged on, as the app reads them; and
the app's item path, where only relevant items reach the deadline."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.app.deadlines import deadline_thread_states, load_deadline_states
from monitor.app.service import Service
from monitor.clock import FixedClock
from monitor.config.schema import StoryConfig
from monitor.domain import Confidence, Development, DevelopmentKind, Item, Severity, SourceKind
from monitor.store.db import Store
from monitor.story.deadlines import DeadlineState, evaluate, initial_deadline_state
from tests.pipeline import settings_for, write_config
from tests.story.test_deadlines import DUE, H, make_story, thread_change

REPORTED, CONFIRMED = Confidence.REPORTED, Confidence.CONFIRMED


def run(story: StoryConfig, start: datetime, end: datetime, thread_states: Mapping[str, str],
        recent: Iterable[Development] = (), unconfirmed: Collection[str] = (),
        state: DeadlineState | None = None) -> list[Development]:
    """Tick the deadline clock every 5 minutes from ``start`` to ``end``; every development emitted."""
    state = state or initial_deadline_state(story, story.deadlines[0])
    out: list[Development] = []
    now = start
    while now <= end:
        state, devs = evaluate(story, story.deadlines[0], state, thread_states=thread_states,
                               recent=tuple(recent), now=now, unconfirmed=unconfirmed)
        out += devs
        now += timedelta(minutes=5)
    return out


def kinds(devs: Iterable[Development]) -> list[DevelopmentKind]:
    return [d.kind for d in devs]


# ------------------------------------------------------------------------------------------------ pure
def test_a_resolving_move_reported_by_one_outlet_leaves_the_reminders_and_the_passed_alert() -> None:
    story = make_story()
    deal = thread_change("negotiations", "deal", DUE - 5 * H, "Anthropic and Pentagon reach a deal", REPORTED)
    fired = run(story, DUE - 4 * H, DUE + H, {"negotiations": "deal"}, [deal])
    assert kinds(fired) == [DevelopmentKind.DEADLINE_REMINDER] * 3 + [DevelopmentKind.DEADLINE_PASSED]


def test_once_the_resolving_move_is_confirmed_the_resolution_applies_from_its_first_report() -> None:
    story = make_story()
    deal = thread_change("negotiations", "deal", DUE - 5 * H, "Anthropic and Pentagon reach a deal", CONFIRMED)
    fired = run(story, DUE - 2 * H, DUE + H, {"negotiations": "deal"}, [deal])
    assert [(d.kind, d.at, d.confidence) for d in fired] == [
        (DevelopmentKind.DEADLINE_RESOLVED, DUE - 5 * H, CONFIRMED)]


def test_a_confirmation_after_a_reminder_resolves_the_deadline_before_it_passes() -> None:
    story = make_story()
    deadline = story.deadlines[0]
    reported = thread_change("negotiations", "deal", DUE - 5 * H, "deal", REPORTED)
    state, (reminder,) = evaluate(story, deadline, initial_deadline_state(story, deadline),
                                  thread_states={"negotiations": "deal"}, recent=[reported], now=DUE - 3 * H)
    assert reminder.kind is DevelopmentKind.DEADLINE_REMINDER
    confirmed = thread_change("negotiations", "deal", DUE - 5 * H, "deal", CONFIRMED)
    state, (resolved,) = evaluate(story, deadline, state, thread_states={"negotiations": "deal"},
                                  recent=[confirmed], now=DUE - 2 * H)
    assert (resolved.kind, resolved.at, state.resolution) == (DevelopmentKind.DEADLINE_RESOLVED, DUE - 5 * H,
                                                              "negotiations.deal")


def test_a_current_state_resting_on_an_unconfirmed_development_does_not_resolve() -> None:
    story = make_story()
    now = DUE - 2 * H  # the development itself is older than the recent developments the clock is given
    assert kinds(run(story, now, now, {"negotiations": "deal"}, unconfirmed={"negotiations"})) == [
        DevelopmentKind.DEADLINE_REMINDER]
    assert kinds(run(story, now, now, {"negotiations": "deal"})) == [DevelopmentKind.DEADLINE_RESOLVED]


def test_a_development_kind_resolves_only_when_confirmed() -> None:
    story = make_story(resolved_by=["story.new_development"])
    def news(confidence: Confidence) -> Development:
        return Development(key="s:new:1", kind=DevelopmentKind.NEW_DEVELOPMENT, story_id="s", at=DUE - 5 * H,
                           title="news", severity=Severity.WARNING, confidence=confidence)
    assert DevelopmentKind.DEADLINE_RESOLVED not in kinds(run(story, DUE - H, DUE, {}, [news(REPORTED)]))
    assert kinds(run(story, DUE - H, DUE, {}, [news(CONFIRMED)])) == [DevelopmentKind.DEADLINE_RESOLVED]


# ----------------------------------------------------------------------------------------- app, store
T0 = datetime(2030, 5, 30, 12, 0, tzinfo=UTC)


def service(tmp_path: Path) -> Service:
    path = write_config(tmp_path, feeds=[("city-news", "https://news.example.test/a.xml", "ordinary")])
    settings = settings_for(path)
    return Service(settings, Store.open(settings.monitor.database_url), clock=FixedClock(T0),
                   rng=random.Random(1), deliver=False)


def news(title: str, published: datetime, outlet: str = "news.example.test") -> Item:
    return Item(feed_id="city-news", item_id=f"{outlet}:{title}", title=title, summary="",
                link=f"https://{outlet}/{abs(hash(title))}", outlet=outlet, published=published,
                fetched_at=published, source_kind=SourceKind.ORDINARY)


def test_the_thread_states_for_deadlines_name_the_threads_whose_state_is_only_reported(tmp_path: Path) -> None:
    svc = service(tmp_path)
    story = svc.settings.stories[0]
    move = Development(key="acme-ban:ban:lifted:1", kind=DevelopmentKind.THREAD_CHANGE, story_id=story.id, at=T0,
                       title="Riverton lifts the ban", severity=Severity.NOTICE, thread_id="ban", to_state="lifted")
    with svc.store.write() as tx:
        tx.save_story_state(story.id, {"story_id": story.id}, {"ban": ("lifted", T0, move.key)}, T0)
        tx.upsert_development(move, T0)
        threads = deadline_thread_states(tx, story)
    assert threads.states == {"ban": "lifted"} and threads.unconfirmed == {"ban"}
    with svc.store.write() as tx:
        tx.upsert_development(replace(move, confidence=CONFIRMED), T0 + H)
        threads = deadline_thread_states(tx, story)
    assert threads.states == {"ban": "lifted"} and threads.unconfirmed == frozenset()


def test_an_unrelated_extension_in_the_same_feed_does_not_move_the_deadline(tmp_path: Path) -> None:
    svc = service(tmp_path)
    feed = svc.settings.feed("city-news")
    before = load_deadline_states(svc.settings, svc.store)[("acme-ban", "permit")]
    unrelated = [news("Riverton library gets a 60-day extension for its permit deadline", T0),
                 news("County extends the permit deadline by 60 days", T0 + H)]
    with svc.store.write() as tx:
        assert svc.process_items(tx, feed, unrelated, T0 + H) == []
    assert load_deadline_states(svc.settings, svc.store)[("acme-ban", "permit")].due_at == before.due_at
    related = news("Riverton extends the Acme permit deadline by 60 days", T0 + 2 * H)
    with svc.store.write() as tx:
        devs = svc.process_items(tx, feed, [related], T0 + 2 * H)
    assert [d.kind for d in devs] == [DevelopmentKind.DEADLINE_CHANGED]
    assert load_deadline_states(svc.settings, svc.store)[("acme-ban", "permit")].due_at == \
        before.due_at + timedelta(days=60)


def test_the_service_keeps_the_deadline_open_while_its_resolving_move_is_only_reported(tmp_path: Path) -> None:
    svc = service(tmp_path)
    feed = svc.settings.feed("city-news")
    due = svc.settings.stories[0].deadlines[0].due_utc  # 2030-06-01 17:00 Chicago, two days after T0
    for at, title, outlet in [(T0, "Riverton city council bans Acme drones", "news.example.test"),
                              (T0 + H, "Riverton city council lifts the ban on Acme drones", "news.example.test")]:
        with svc.store.write() as tx:
            svc.process_items(tx, feed, [news(title, at, outlet)], at)
    # the move is older than the developments the clock reads: only its confidence keeps the deadline open
    assert kinds(svc.check_deadlines(due - 2 * H)) == [DevelopmentKind.DEADLINE_REMINDER]
    with svc.store.write() as tx:
        svc.process_items(tx, feed, [news("Mayor: Riverton lifts the ban on Acme delivery drones", T0 + 2 * H,
                                          "other.example.test")], T0 + 2 * H)
    assert kinds(svc.check_deadlines(due - H)) == [DevelopmentKind.DEADLINE_RESOLVED]
