"""`monitor try` (a dry run of one feed) and `monitor items` (the stored items and the developments they fed).

Real feeds from a local server (tests/feedserver.py), the real fetcher and store, the CLI in-process
(tests/clirunner.py); the story is tests/pipeline.py's Riverton drone ban.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import __version__
from tests.clirunner import json_lines, monitor
from tests.feedserver import FeedServer
from tests.pipeline import rss, write_config

NOW = datetime.now(UTC)  # the commands run on the real clock: items are dated just before it
BAKERY = ("Local bakery wins award", "https://city.example.test/bakery", NOW - timedelta(hours=3))
HEDGE = ("Riverton mayor could ban Acme drones", "https://city.example.test/hedge", NOW - timedelta(hours=2))
ACT = ("Riverton city council bans Acme delivery drones", "https://city.example.test/act", NOW - timedelta(hours=1))


@dataclass
class Live:
    server: FeedServer
    config: Path

    @property
    def db(self) -> Path:
        return self.config.parent / "monitor.db"

    def run(self, *args: str) -> tuple[int, str, str]:
        done = monitor("--config", str(self.config), *args)
        return done.exit_code, done.stdout, done.stderr

    def serve(self, *items: tuple[str, str, datetime]) -> None:
        self.server.route("/city.xml", body=rss("City News", items))

    def rows(self) -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            return {table: db.execute(f"select count(*) from {table}").fetchone()[0]
                    for table in ("item", "outbox", "development")}

    def story_state(self) -> str:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            return str(db.execute("select state_json from story_state").fetchall())


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """A config with one feed, `city`, served locally (no database yet), listing the bakery, the hedge and the act."""
    with FeedServer() as server:
        server.route("/down.xml", status=500)
        server.route("/page.html", body=b"<html><body>no feed here</body></html>", content_type="text/html")
        setup = Live(server, write_config(tmp_path, feeds=[("city", server.url("/city.xml"), "ordinary")]))
        setup.serve(BAKERY, HEDGE, ACT)
        yield setup


def blocks(out: str) -> dict[str, list[str]]:
    """`monitor try` text output: headline -> its indented lines."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.splitlines():
        if line and not line.startswith(" ") and not line.startswith(("note: ", "3 item(s)")):
            current = found.setdefault(line, [])
        elif line.startswith("  "):
            current.append(line.strip())
    return found


def assert_judged_act_and_hedge(out: str) -> None:
    judged = blocks(out)
    hedge, act, bakery = judged[HEDGE[0]], judged[ACT[0]], judged[BAKERY[0]]
    assert "relevant: yes, matched 'Acme', 'Riverton'" in hedge and "relevant: yes, matched 'Acme', 'Riverton'" in act
    assert any(line.startswith("signal ban.banned: threat, cue 'ban' hedged by 'could'") for line in hedge), hedge
    assert "verdict: ban: moves none -> ban threatened on a threat of 'ban'" in hedge
    assert any(line.startswith("signal ban.banned: act, cue 'ban' read as done") for line in act), act
    # read after the hedge, as a poll reads them: the act moves on from the threat the hedge left
    assert "verdict: ban: moves ban threatened -> drones banned on a act of 'ban'" in act
    assert any(line.startswith("would alert: [warning] Drone ban: drones banned") for line in act), act
    assert "relevant: no, the item does not match every relevance group" in bakery


def test_try_on_a_url_shows_relevance_signals_and_verdict_per_item_and_creates_no_database(live: Live) -> None:
    code, out, err = live.run("try", live.server.url("/city.xml"))
    assert code == 0, err
    assert_judged_act_and_hedge(out)
    assert "verdict: no move: not relevant to the story" in blocks(out)[BAKERY[0]]
    assert out.splitlines()[-1].endswith("2 would alert; nothing was stored, sent or marked seen")
    assert not live.db.exists()
    [request] = live.server.hits("/city.xml")  # one fetch, by the real fetcher with the config's user agent
    assert request.headers["user-agent"] == f"deadline-monitor/{__version__} (+test@example.test)"


def test_try_on_a_configured_feed_judges_it_without_a_database_and_notes_its_first_poll_only_seeds(
        live: Live) -> None:
    code, out, err = live.run("try", "--feed", "city")
    assert code == 0, err
    assert out.startswith("note: feed city has not been polled yet")
    assert_judged_act_and_hedge(out)
    assert not live.db.exists()


def test_try_stores_sends_and_marks_nothing_so_the_next_poll_still_makes_the_moves(live: Live) -> None:
    live.serve(BAKERY)
    assert live.run("poll")[0] == 0  # seeds the feed: the database exists, with one item
    live.serve(BAKERY, HEDGE, ACT)
    before, state = live.rows(), live.story_state()
    code, out, err = live.run("try", "--feed", "city")
    assert code == 0, err
    assert_judged_act_and_hedge(out)  # against the stored state: the seeded feed's thread is still at none
    assert any(line.startswith("verdict: already stored: a poll does not read it again")
               for line in blocks(out)[BAKERY[0]])
    assert "note:" not in out  # seeded already
    assert live.rows() == before == {"item": 1, "outbox": 0, "development": 0}
    assert live.story_state() == state
    code, _, err = live.run("poll")
    assert code == 0, err
    assert live.rows()["development"] == 2  # nothing was marked seen: the poll makes both moves


def test_try_json_is_one_object_per_item_with_each_storys_judgement(live: Live) -> None:
    code, out, err = live.run("try", "--feed", "city", "--story", "acme-ban", "--json")
    assert code == 0, err
    objects = json_lines(out)
    assert [o["title"] for o in objects] == [BAKERY[0], HEDGE[0], ACT[0]]  # the order a poll reads them
    act = objects[2]
    assert act["feed"] == "city" and act["stored"] is False and act["alerts"] == 1
    assert act["link"] == ACT[1] and act["published"].endswith("Z")
    [judged] = act["stories"]
    assert judged["story"] == "acme-ban" and judged["relevance"]["relevant"] is True
    assert [s["mode"] for s in judged["signals"]] == ["act"]
    assert judged["developments"][0]["to"] == "banned"
    assert objects[0]["stories"][0]["relevance"]["relevant"] is False and objects[0]["alerts"] == 0


def test_try_with_an_unknown_feed_or_story_exits_2_listing_the_configured_ids(live: Live) -> None:
    code, _, err = live.run("try", "--feed", "nosuch")
    assert code == 2 and "unknown feed id 'nosuch'; configured feeds: city" in err
    code, _, err = live.run("try", live.server.url("/city.xml"), "--story", "nosuch")
    assert code == 2 and "unknown story id 'nosuch'; configured stories: acme-ban" in err
    code, _, err = live.run("try")
    assert code == 2 and "exactly one of URL or --feed ID" in err
    assert live.server.requests == []  # nothing fetched for a bad command line


def test_try_of_a_feed_that_fails_or_is_not_a_feed_prints_the_error_and_exits_1(live: Live) -> None:
    code, out, err = live.run("try", live.server.url("/down.xml"))
    assert code == 1 and out == "" and "failed: HTTP 500" in err
    code, out, err = live.run("try", live.server.url("/page.html"))
    assert code == 1 and out == "" and "not a feed" in err
    assert not live.db.exists()


def test_items_after_a_poll_lists_items_newest_first_with_the_development_each_fed(live: Live) -> None:
    live.serve(BAKERY)
    assert live.run("poll")[0] == 0
    live.serve(BAKERY, HEDGE, ACT)
    assert live.run("poll")[0] == 0
    code, out, err = live.run("history", "--json")
    assert code == 0, err
    moved_by = {d["sources"][0]["title"]: d["key"] for d in json_lines(out) if d["kind"] == "thread.changed"}
    code, out, err = live.run("items", "--json")
    assert code == 0, err
    listed = json_lines(out)
    assert [i["title"] for i in listed] == [ACT[0], HEDGE[0], BAKERY[0]]
    assert listed[0]["developments"] == [moved_by[ACT[0]]] and listed[1]["developments"] == [moved_by[HEDGE[0]]]
    assert listed[2]["developments"] == []
    assert listed[0]["item"] == f"city:{listed[0]['item_id']}" and listed[0]["feed"] == "city"
    code, out, err = live.run("items")
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()[2:]]
    assert rows[0][0] == "city" and rows[0][3] == ACT[0] and rows[0][4] == ACT[1] and rows[0][5] == moved_by[ACT[0]]
    code, out, _ = live.run("items", "--since", "150m", "--json")
    assert [i["title"] for i in json_lines(out)] == [ACT[0], HEDGE[0]]
    code, out, _ = live.run("items", "--limit", "1", "--feed", "city", "--json")
    assert [i["title"] for i in json_lines(out)] == [ACT[0]]
    code, out, err = live.run("explain", "--item", listed[0]["item"])  # the key explains the stored item
    assert code == 0 and "relevant: yes" in out, err


def test_items_with_an_unknown_feed_exits_2_listing_the_configured_ids(live: Live) -> None:
    code, _, err = live.run("items", "--feed", "nosuch")
    assert code == 2 and "unknown feed id 'nosuch'; configured feeds: city" in err


def test_items_without_a_database_exits_1_and_creates_none(live: Live) -> None:
    code, _, err = live.run("items")
    assert code == 1 and "no database at" in err
    assert not live.db.exists()
