"""Replay of the team's fixture archive (tests/data/archive, scenario in tests/data/archive_expected.md) through
the real service, and of a small archive for the shipped story: exact developments, exact times, determinism.

The fixture archive is replayed once per session (``fixture_replay`` in tests/conftest.py: ``monitor replay
--json`` in-process); determinism is checked against a second replay in-process and, under ``e2e``, against one
in a fresh interpreter (another hash seed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.ingest.archive import file_name
from tests.clirunner import ARCHIVE, FICTIONAL, ROOT, Replayed, json_lines, monitor
from tests.pipeline import at

# (at, kind, thread, from, to, confidence, severity): the whole, exact output for the fixture archive.
# `at` is the publication time of the deciding item for thread changes and new developments, and the
# scheduled instant for deadline reminders and the passing (see docs/json.md).
EXPECTED = [
    ("2026-03-05T14:52:00Z", "thread.changed", "designation", "none", "threatened", "confirmed", "warning"),
    ("2026-03-05T14:52:00Z", "thread.changed", "seizure", "none", "threatened", "confirmed", "warning"),
    ("2026-03-07T18:50:00Z", "story.new_development", None, None, None, "confirmed", "warning"),
    ("2026-03-07T22:00:00Z", "deadline.reminder", None, None, None, "confirmed", "notice"),
    ("2026-03-08T14:40:00Z", "thread.changed", "seizure", "threatened", "dropped", "confirmed", "notice"),
    ("2026-03-08T19:00:00Z", "deadline.reminder", None, None, None, "confirmed", "notice"),
    ("2026-03-08T21:00:00Z", "deadline.reminder", None, None, None, "confirmed", "warning"),
    ("2026-03-08T22:00:00Z", "deadline.passed", None, None, None, "confirmed", "critical"),
    ("2026-03-09T14:20:00Z", "thread.changed", "designation", "threatened", "designated", "confirmed", "critical"),
]


def test_fixture_archive_replays_to_exactly_the_expected_developments(fixture_replay: Replayed) -> None:
    got = [
        (d["at"], d["kind"], d["thread"], d["from"], d["to"], d["confidence"], d["severity"])
        for d in fixture_replay.developments
    ]
    assert got == EXPECTED


def test_fixture_archive_lawsuit_is_a_new_development_with_its_words(fixture_replay: Replayed) -> None:
    [new] = [d for d in fixture_replay.developments if d["kind"] == "story.new_development"]
    assert "lawsuit" in new["title"].lower()
    assert len({s["outlet"] for s in new["sources"]}) >= 3


def test_designation_is_reported_first_then_confirmed_by_a_second_outlet_without_a_new_key(
        fixture_replay: Replayed) -> None:
    designated = [d for d in fixture_replay.developments if d["to"] == "designated"]
    assert len(designated) == 1
    outlets = {s["outlet"] for s in designated[0]["sources"]}
    assert len(outlets) >= 2


def _assert_is_the_fixture_replay(first: Replayed, second: str) -> None:
    assert first.stdout == second
    lines = json_lines(second)
    assert len(lines) == len(EXPECTED)
    assert set(lines[0]) >= {"at", "kind", "story", "thread", "from", "to", "confidence", "severity", "title",
                             "sources"}


def test_replay_json_is_byte_for_byte_deterministic(fixture_replay: Replayed) -> None:
    second = monitor("--config", str(FICTIONAL), "replay", str(ARCHIVE), "--json")
    assert second.exit_code == 0, second.stderr
    _assert_is_the_fixture_replay(fixture_replay, second.stdout)


@pytest.mark.e2e
def test_replay_json_is_byte_for_byte_deterministic_across_processes(fixture_replay: Replayed) -> None:
    """A fresh interpreter has another string-hash seed: set or dict order leaking into the output shows here."""
    seed = os.environ.get("PYTHONHASHSEED", "")
    env = {**os.environ, "PYTHONHASHSEED": str(int(seed) + 1) if seed.isdigit() else "random"}
    done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(FICTIONAL), "replay", str(ARCHIVE),
                           "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    _assert_is_the_fixture_replay(fixture_replay, done.stdout)


def test_shipped_story_deadline_passes_at_2201z_in_a_replay(tmp_path: Path) -> None:
    """Two fetches of one shipped feed around the Friday deadline: the 24 h, 3 h and 1 h reminders and the
    passing fire at their exact UTC instants (17:01 America/New_York is 22:01Z)."""
    feed = tmp_path / "archive" / "techcrunch"
    feed.mkdir(parents=True)
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>TC</title>'
        b"<item><title>Unrelated gadget review</title><link>https://tc.example.test/1</link></item></channel></rss>"
    )
    (feed / file_name(at("2026-02-26T12:00"))).write_bytes(rss)
    (feed / file_name(at("2026-02-28T09:00"))).write_bytes(rss)
    done = monitor("--config", "tests/data/anthropic-feb2026.toml", "replay", str(tmp_path / "archive"), "--json")
    assert done.exit_code == 0, done.stderr
    got = [(d["at"], d["kind"]) for d in map(json.loads, done.stdout.splitlines())]
    assert got == [
        ("2026-02-26T22:01:00Z", "deadline.reminder"),
        ("2026-02-27T19:01:00Z", "deadline.reminder"),
        ("2026-02-27T21:01:00Z", "deadline.reminder"),
        ("2026-02-27T22:01:00Z", "deadline.passed"),
    ]


def test_replay_of_an_empty_folder_exits_2_saying_what_an_archive_holds(tmp_path: Path) -> None:
    done = monitor("--config", str(FICTIONAL), "replay", str(tmp_path))
    assert done.exit_code == 2 and done.stdout == ""
    assert "holds no archived fetch" in done.stderr and "FEED_ID/20260227T220100Z.xml" in done.stderr


def test_replay_of_an_archive_of_other_feeds_exits_2_naming_the_feed_ids_it_has(tmp_path: Path) -> None:
    for feed_id in ("old-feed", "renamed-feed"):
        (tmp_path / feed_id).mkdir()
        (tmp_path / feed_id / file_name(at("2026-03-05T12:00"))).write_bytes(b"<rss/>")
    (tmp_path / "not-an-archive").mkdir()
    (tmp_path / "not-an-archive" / "notes.xml").write_bytes(b"<rss/>")  # not named by the format: no fetch
    done = monitor("--config", str(FICTIONAL), "replay", str(tmp_path), "--json")
    assert done.exit_code == 2 and done.stdout == ""
    assert "no fetch of a configured feed" in done.stderr
    assert "old-feed, renamed-feed;" in done.stderr and "not-an-archive" not in done.stderr
    assert "meridian-wire" in done.stderr  # the configured ones, to compare


def test_replay_says_which_archived_feeds_it_leaves_out(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(ARCHIVE / "meridian-wire", archive / "meridian-wire")
    (archive / "old-feed").mkdir()
    (archive / "old-feed" / file_name(at("2026-03-05T12:00"))).write_bytes(b"<rss/>")
    done = monitor("--config", str(FICTIONAL), "replay", str(archive), "--json")
    assert done.exit_code == 0, done.stderr
    assert "left out: old-feed" in done.stderr
