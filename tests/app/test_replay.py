"""Replay of the team's fixture archive (tests/data/archive, scenario in tests/data/archive_expected.md) through
the real service, and of a small archive for the shipped story: exact developments, exact times, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.app.replay import replay_archive
from monitor.config.load import load_settings
from monitor.ingest.archive import file_name
from tests.pipeline import at

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parents[1]

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


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def test_fixture_archive_replays_to_exactly_the_expected_developments() -> None:
    settings = load_settings(DATA / "fictional.toml", env={})
    developments = replay_archive(settings, DATA / "archive")
    got = [
        (d["at"], d["kind"], d["thread"], d["from"], d["to"], d["confidence"], d["severity"])
        for d in (dev.to_json() for dev in developments)
    ]
    assert got == EXPECTED


def test_fixture_archive_lawsuit_is_a_new_development_with_its_words() -> None:
    settings = load_settings(DATA / "fictional.toml", env={})
    [new] = [d for d in replay_archive(settings, DATA / "archive") if d.kind.value == "story.new_development"]
    assert "lawsuit" in new.title.lower()
    assert len({s.outlet for s in new.sources}) >= 3


def test_designation_is_reported_first_then_confirmed_by_a_second_outlet_without_a_new_key() -> None:
    settings = load_settings(DATA / "fictional.toml", env={})
    developments = replay_archive(settings, DATA / "archive")
    designated = [d for d in developments if d.to_state == "designated"]
    assert len(designated) == 1
    outlets = {s.outlet for s in designated[0].sources}
    assert len(outlets) >= 2


def test_replay_json_is_byte_for_byte_deterministic() -> None:
    first = run_cli("--config", str(DATA / "fictional.toml"), "replay", str(DATA / "archive"), "--json")
    second = run_cli("--config", str(DATA / "fictional.toml"), "replay", str(DATA / "archive"), "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(lines) == len(EXPECTED)
    assert set(lines[0]) >= {"at", "kind", "story", "thread", "from", "to", "confidence", "severity", "title",
                             "sources"}


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
    done = run_cli("--config", "config/monitor.toml", "replay", str(tmp_path / "archive"), "--json")
    assert done.returncode == 0, done.stderr
    got = [(d["at"], d["kind"]) for d in map(json.loads, done.stdout.splitlines())]
    assert got == [
        ("2026-02-26T22:01:00Z", "deadline.reminder"),
        ("2026-02-27T19:01:00Z", "deadline.reminder"),
        ("2026-02-27T21:01:00Z", "deadline.reminder"),
        ("2026-02-27T22:01:00Z", "deadline.passed"),
    ]
