"""The story reducer on a small fictional story: the Ministry's threatened import ban on Acme."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from monitor.config.schema import StoryConfig
from monitor.domain import Confidence, DevelopmentKind, Item, Severity, SourceKind
from monitor.story.compiled import CompiledStory
from monitor.story.reducer import StoryOutcome, StoryState, advance, initial_state, thread_summary

STORY = StoryConfig.model_validate(
    {
        "id": "acme",
        "title": "Ministry against Acme",
        "relevance": {"require": [["Acme"], ["Ministry", "minister"]]},
        "threads": {
            "ban": {
                "title": "Import ban",
                "objects": ["Acme"],
                "mentions": ["ban"],
                "states": [
                    {"id": "none", "title": "not threatened", "level": 0, "kind": "initial"},
                    {
                        "id": "threatened",
                        "title": "ban threatened",
                        "level": 1,
                        "kind": "threat",
                        "cues": ["threatens to ban"],
                    },
                    {
                        "id": "banned",
                        "title": "imports banned",
                        "level": 3,
                        "kind": "act",
                        "cues": ["ban", "bar imports from"],
                    },
                    {"id": "lifted", "title": "ban lifted", "level": 0, "kind": "act", "cues": ["lifts ban on"]},
                ],
                "transitions": {"none": ["threatened", "banned"], "threatened": ["banned"], "banned": ["lifted"]},
            }
        },
    }
)
COMPILED = CompiledStory(STORY)
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
_ids = count(1)


def item(
    title: str, outlet: str, minutes: float = 0, summary: str = "", kind: SourceKind = SourceKind.ORDINARY
) -> Item:
    n = next(_ids)
    at = T0 + timedelta(minutes=minutes)
    return Item("feed", f"id{n}", title, summary, f"https://{outlet}/story-{n}", outlet, at, at, kind)


def run(*items: Item, state: StoryState | None = None, now: datetime | None = None) -> StoryOutcome:
    ordered = sorted(items, key=lambda i: i.published)
    moment = now or (ordered[-1].published if ordered else T0)
    return advance(COMPILED, state or initial_state(STORY), ordered, moment)


def moves(outcome: StoryOutcome) -> list[tuple[str | None, str | None, str]]:
    return [(d.from_state, d.to_state, d.confidence.value) for d in outcome.developments]


@pytest.mark.parametrize(
    "title",
    [
        "Ministry could ban Acme imports",
        "Ministry may ban Acme",
        "Will the ministry ban Acme?",
        "Minister weighs banning Acme",
        "Ministry takes first step toward banning Acme",
        "Ministry paves the way for an Acme ban",
    ],
)
def test_a_hedge_never_moves_to_the_act_state_only_to_the_threat(title: str) -> None:
    outcome = run(item(title, "a.test"))
    assert moves(outcome) == [("none", "threatened", "reported")]
    assert outcome.state.threads["ban"].state == "threatened"


@pytest.mark.parametrize(
    "title", ["Ministry won't ban Acme", "Ministry rules out banning Acme", "Acme fights the ban, ministry silent"]
)
def test_negations_and_mentions_are_no_development(title: str) -> None:
    outcome = run(item(title, "a.test"))
    assert outcome.developments == ()
    assert outcome.state.threads["ban"].state == "none"


def test_an_attributed_act_is_an_act_held_for_confirmation_not_a_hedge() -> None:
    outcome = run(item("Ministry reportedly bans Acme", "a.test"))  # attribution is evidence, not modality
    [dev] = outcome.developments
    assert (dev.to_state, dev.confidence, dev.severity) == ("banned", Confidence.REPORTED, Severity.WARNING)
    assert dev.title.endswith("(unconfirmed, one outlet)")


def test_a_move_outside_the_transitions_moves_nothing_and_goes_to_the_pool_as_news() -> None:
    outcome = run(item("Ministry lifts ban on Acme", "a.test"))  # none -> lifted is not a transition
    assert outcome.developments == ()
    assert outcome.state.threads["ban"].state == "none"
    assert [e.action for e in outcome.evidence] == ["ignored", "pooled"]


def test_reported_becomes_confirmed_once_a_second_outlet_agrees() -> None:
    first = run(item("Ministry bans Acme imports", "a.test", 0))
    second = run(item("Acme banned by the ministry", "b.test", 30), state=first.state)
    third = run(item("Ministry bars imports from Acme", "c.test", 60), state=second.state)
    assert moves(first) == [("none", "banned", "reported")]
    assert moves(second) == [("none", "banned", "confirmed")]
    assert moves(third) == [("none", "banned", "confirmed")]  # an update of the same development, not a new one
    keys = {d.key for o in (first, second, third) for d in o.developments}
    assert keys == {"acme:ban:banned:1"}
    assert [s.outlet for s in third.developments[0].sources] == ["a.test", "b.test", "c.test"]


def test_outlets_claimed_inside_one_feed_document_do_not_confirm_each_other() -> None:
    at = T0 + timedelta(minutes=5)
    same_document = [
        Item("search", f"doc{n}", "Ministry bans Acme imports", "", f"https://{o}/ban-{n}", o, at, at)
        for n, o in enumerate(("a.test", "b.test", "c.test"))
    ]
    outcome = run(*same_document)
    assert moves(outcome) == [("none", "banned", "reported")]
    later = at + timedelta(minutes=15)  # the next fetch of the same feed is another document
    again = Item("search", "doc9", "Acme imports banned by the Ministry", "", "https://d.test/ban", "d.test",
                 later, later)
    assert moves(run(again, state=outcome.state)) == [("none", "banned", "confirmed")]


def test_a_second_outlet_after_the_corroboration_window_does_not_confirm() -> None:
    outcome = run(item("Ministry bans Acme imports", "a.test", 0), item("Ministry bans Acme, again", "b.test", 25 * 60))
    assert moves(outcome) == [("none", "banned", "reported")]


@pytest.mark.parametrize("kind", [SourceKind.WIRE, SourceKind.PRIMARY])
def test_one_wire_or_primary_source_confirms_alone(kind: SourceKind) -> None:
    assert moves(run(item("Ministry bans Acme imports", "wire.test", kind=kind))) == [("none", "banned", "confirmed")]


def test_syndicated_copies_collapse_and_do_not_confirm() -> None:
    outcome = run(
        item("Ministry bans Acme imports - Wire Service", "a.test", 0),
        item("Ministry bans Acme imports | Daily Paper", "b.test", 5),
        item("Ministry bans Acme imports", "c.test", 9),
    )
    assert moves(outcome) == [("none", "banned", "reported")]
    assert len(outcome.developments[0].sources) == 3


def test_the_same_link_from_two_feeds_is_counted_once() -> None:
    first = item("Ministry bans Acme imports", "a.test")
    copy = Item("other-feed", "x", first.title, "", first.link, "A", first.published, first.published)
    outcome = run(first, copy)
    assert len(outcome.developments[0].sources) == 1
    assert [e.action for e in outcome.evidence] == ["moved", "duplicate"]


@pytest.mark.parametrize(
    "rewrite",
    [
        "In sweeping move, ministry ban on Acme imports",  # cue of the same thread and state
        "Sweeping move by ministry: the ban on Acme imports",  # no state cue: a close rewrite mentioning the thread
    ],
)
def test_a_rewrite_joins_the_development_it_rewrites(rewrite: str) -> None:
    outcome = run(item("Ministry bans Acme imports in sweeping move", "a.test", 0), item(rewrite, "b.test", 20))
    assert moves(outcome) == [("none", "banned", "confirmed")]
    assert [e.action for e in outcome.evidence] == ["moved", "joined"]


def test_a_similar_headline_with_words_new_to_the_story_is_not_a_rewrite() -> None:
    outcome = run(
        item("Ministry bans Acme imports in sweeping move", "a.test", 0),
        item("Acme sues ministry over the ban on imports in sweeping move", "b.test", 20),
    )
    assert moves(outcome) == [("none", "banned", "reported")]
    assert [e.action for e in outcome.evidence] == ["moved", "pooled"]


def test_escalation_is_more_severe_than_a_step_down() -> None:
    threatened = run(item("Ministry threatens to ban Acme", "a.test", 0))
    banned = run(item("Ministry bans Acme", "wire.test", 60, kind=SourceKind.WIRE), state=threatened.state)
    lifted = run(item("Ministry lifts ban on Acme", "gov.test", 120, kind=SourceKind.PRIMARY), state=banned.state)
    severities = [o.developments[0].severity for o in (threatened, banned, lifted)]
    assert severities == [Severity.WARNING, Severity.CRITICAL, Severity.NOTICE]
    assert banned.developments[0].title == "Import ban: imports banned (was: ban threatened)"
    assert lifted.developments[0].kind is DevelopmentKind.THREAD_CHANGE


def test_one_ordinary_outlet_reaching_the_top_level_is_a_warning_labelled_unconfirmed_until_confirmed() -> None:
    reported = run(item("Ministry bans Acme imports", "a.test", 0))
    [dev] = reported.developments
    assert (dev.severity, dev.confidence) == (Severity.WARNING, Confidence.REPORTED)
    assert dev.title.endswith("(unconfirmed, one outlet)") and dev.details["unconfirmed"] == "one outlet"
    confirmed = run(item("Acme imports barred by ministry order", "b.test", 30, summary="Ministry bans Acme imports"),
                    state=reported.state)
    [again] = confirmed.developments
    assert again.key == dev.key
    assert (again.severity, again.confidence) == (Severity.CRITICAL, Confidence.CONFIRMED)
    assert not again.title.endswith("(unconfirmed, one outlet)") and again.details["raised_on_confirmation"]


@pytest.mark.parametrize(
    ("source", "target", "held"),
    [("none", "threatened", False), ("threatened", "banned", True), ("none", "banned", True),
     ("banned", "lifted", True)],
    ids=["one rung up", "to the top level", "two rungs at once", "back down"],
)
def test_which_single_outlet_moves_are_held_for_confirmation(source: str, target: str, held: bool) -> None:
    from monitor.story.reducer import _needs_confirmation

    assert _needs_confirmation(STORY.threads["ban"], source, target) is held


def test_a_denial_from_another_outlet_corrects_an_unconfirmed_act_and_the_thread_goes_back() -> None:
    reported = run(item("Ministry bans Acme imports", "a.test", 0))
    corrected = run(item("Ministry has not banned Acme imports, spokesman says", "b.test", 60), state=reported.state)
    [dev] = corrected.developments
    assert "earlier report not confirmed" in dev.title
    assert (dev.from_state, dev.to_state) == ("banned", "none")
    assert corrected.state.threads["ban"].state == "none"


def test_a_denial_does_not_undo_a_confirmed_act() -> None:
    confirmed = run(item("Ministry bans Acme imports", "wire.test", 0, kind=SourceKind.WIRE))
    denied = run(item("Ministry has not banned Acme imports, spokesman says", "b.test", 60), state=confirmed.state)
    assert all("not confirmed" not in d.title for d in denied.developments)
    assert denied.state.threads["ban"].state == "banned"


LAWSUIT = [
    ("Acme sues ministry over import curbs", "a.test", "Acme filed a lawsuit in federal court; a judge will hear it."),
    ("Acme takes ministry to court", "b.test", "The lawsuit asks a federal judge to intervene."),
    ("Acme files lawsuit against ministry", "c.test", "A federal judge was assigned the lawsuit on Monday."),
]


def test_untracked_news_from_three_outlets_is_a_new_development_labelled_by_new_words() -> None:
    items = [item(t, o, 30 * i, s) for i, (t, o, s) in enumerate(LAWSUIT)]
    two = run(*items[:2])
    assert two.developments == ()
    three = run(items[2], state=two.state)
    [development] = three.developments
    assert development.kind is DevelopmentKind.NEW_DEVELOPMENT
    assert development.key == "acme:new:1"
    assert "lawsuit" in development.details["label"]
    assert development.severity is Severity.WARNING
    assert {s.outlet for s in development.sources} == {"a.test", "b.test", "c.test"}


# The fixture archive's defect, in small: a side story and the lawsuit share one new word ("customers"), in the
# lawsuit's summaries only, and their titles look alike only through the story's own words (Acme, ministry,
# import). The side story must not become part of the lawsuit's development, before or after it.
SIDE_STORY = ("Acme says ministry import rules hurt its customers", "The company will keep talking to the ministry.")
LAWSUIT_ABOUT_CUSTOMERS = [(t, o, f"{s} Acme acts for its customers, a spokesman said.") for t, o, s in LAWSUIT]


def test_a_new_development_holds_only_items_about_its_event_not_an_earlier_side_story() -> None:
    side = item(SIDE_STORY[0], "d.test", -20 * 60, SIDE_STORY[1])
    lawsuit = [item(t, o, 30 * i, s) for i, (t, o, s) in enumerate(LAWSUIT_ABOUT_CUSTOMERS)]
    [development] = run(side, *lawsuit).developments
    assert development.kind is DevelopmentKind.NEW_DEVELOPMENT
    assert {s.outlet for s in development.sources} == {"a.test", "b.test", "c.test"}
    assert development.details["outlets"] == 3
    assert SIDE_STORY[0] not in development.title
    assert "lawsuit" in development.details["label"]
    assert not {"customers", "rules", "hurt"} & set(development.details["label"].split(", "))


def test_a_side_story_after_a_new_development_does_not_join_it() -> None:
    lawsuit = [item(t, o, 30 * i, s) for i, (t, o, s) in enumerate(LAWSUIT_ABOUT_CUSTOMERS)]
    first = run(*lawsuit)
    later = run(item(SIDE_STORY[0], "d.test", 120, SIDE_STORY[1]), state=first.state)
    assert later.developments == ()
    assert [e.action for e in later.evidence] == ["pooled"]


def test_three_outlets_spread_over_more_than_the_outlet_window_are_no_new_development() -> None:
    items = [item(t, o, 7 * 60 * i, s) for i, (t, o, s) in enumerate(LAWSUIT)]  # 0 h, 7 h, 14 h
    assert run(*items).developments == ()


def test_a_primary_source_alone_is_a_new_development() -> None:
    docket = item("Acme v. Ministry: complaint filed", "court.test", 0, "Complaint for injunction", SourceKind.PRIMARY)
    [development] = run(docket).developments
    assert development.kind is DevelopmentKind.NEW_DEVELOPMENT
    assert development.confidence is Confidence.CONFIRMED


def test_later_items_about_a_new_development_update_it() -> None:
    items = [item(t, o, 30 * i, s) for i, (t, o, s) in enumerate(LAWSUIT)]
    first = run(*items)
    later = run(item("Judge sets hearing in Acme lawsuit against ministry", "d.test", 200), state=first.state)
    assert [d.key for d in later.developments] == ["acme:new:1"]
    assert len(later.developments[0].sources) == 4


def test_state_round_trips_through_json_exactly() -> None:
    items = [item(t, o, 30 * i, s) for i, (t, o, s) in enumerate(LAWSUIT)]
    outcome = run(
        item("Ministry threatens to ban Acme", "z.test", -10), *items, item("Acme news, ministry quiet", "q.test", 5)
    )
    data = json.loads(json.dumps(outcome.state.to_json()))
    restored = StoryState.from_json(data)
    assert restored == outcome.state
    assert restored.to_json() == outcome.state.to_json()


def test_replaying_the_same_items_gives_byte_identical_developments() -> None:
    items = [item(t, o, 30 * i, s) for i, (t, o, s) in enumerate(LAWSUIT)]
    items += [item("Ministry bans Acme", "a.test", 100), item("Acme banned by ministry", "b.test", 110)]

    def dump() -> str:
        return json.dumps([d.to_json() for d in run(*items).developments])

    assert dump() == dump()


def test_advance_does_not_change_the_state_it_was_given() -> None:
    before = initial_state(STORY)
    snapshot = before.to_json()
    run(item("Ministry bans Acme", "a.test"), state=before)
    assert before.to_json() == snapshot


def test_old_developments_and_pool_are_forgotten_so_the_state_stays_small() -> None:
    outcome = run(item("Ministry bans Acme", "a.test"), item("Acme sues ministry", "b.test", 5))
    later = run(state=outcome.state, now=T0 + timedelta(days=10))
    assert later.state.developments == {}
    assert later.state.clusters == {}
    assert later.state.threads["ban"].state == "banned"  # the thread remembers where it stands


def test_an_item_older_than_the_recent_window_never_moves_a_thread() -> None:
    outcome = run(item("Ministry bans Acme", "a.test"), now=T0 + timedelta(days=5))
    assert outcome.developments == ()
    assert [e.action for e in outcome.evidence] == ["stale"]


def test_thread_summary_is_one_line_of_current_states() -> None:
    outcome = run(item("Ministry threatens to ban Acme", "a.test"))
    assert thread_summary(STORY, outcome.state) == "ban: ban threatened"
    assert thread_summary(STORY, initial_state(STORY)) == "ban: not threatened"
