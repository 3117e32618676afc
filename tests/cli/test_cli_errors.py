"""The CLI's error boundary: every expected failure is one line on stderr and exit 1 or 2, never a traceback."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from tests.clirunner import FICTIONAL, copy_database, monitor, replay_fixture_archive


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay_fixture_archive(tmp_path_factory.mktemp("replayed")).db


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_calendar_written_to_a_folder_that_does_not_exist_is_one_line_and_exit_1(replayed: Path) -> None:
    done = monitor("--config", str(FICTIONAL), "calendar", "-o", "/nonexistent/x.ics", db=replayed)
    assert done.exit_code == 1
    assert "No such file or directory: /nonexistent/x.ics" in one_line_error(done.stderr)


def test_an_unreadable_since_is_a_usage_error_not_an_invalid_configuration(replayed: Path) -> None:
    done = monitor("--config", str(FICTIONAL), "history", "--since", "yesterday", db=replayed)
    assert done.exit_code == 2
    line = one_line_error(done.stderr)
    assert "--since" in line and "invalid configuration" not in line


def test_a_stored_state_no_code_can_read_is_one_line_and_exit_1(replayed: Path, tmp_path: Path) -> None:
    db = copy_database(replayed, tmp_path / "broken.db")
    with sqlite3.connect(db) as conn:
        assert conn.execute("UPDATE deadline_state SET state_json = '{broken'").rowcount >= 1
    done = monitor("--config", str(FICTIONAL), "status", db=db)
    assert done.exit_code == 1
    one_line_error(done.stderr)


@pytest.mark.parametrize("seed", range(6))
def test_a_database_file_with_200_bytes_flipped_gives_a_clear_message_never_a_traceback(
        replayed: Path, tmp_path: Path, seed: int) -> None:
    db = copy_database(replayed, tmp_path / "flipped.db")
    data = bytearray(db.read_bytes())
    rng = random.Random(seed)
    for _ in range(200):
        data[rng.randrange(100, len(data))] ^= 0xFF  # past the header: damage the pages, not the magic string
    db.write_bytes(bytes(data))
    for command in (["status"], ["history"], ["feeds"], ["outbox"]):
        done = monitor("--config", str(FICTIONAL), *command, db=db)
        assert done.exit_code in (0, 1), done.stderr
        if done.exit_code == 1:
            assert "database" in one_line_error(done.stderr)


def test_a_metrics_port_out_of_range_is_a_usage_error() -> None:
    done = monitor("--config", str(FICTIONAL), "run", "--once", "--metrics-port", "99999")
    assert done.exit_code == 2 and "99999" in done.stderr and "Traceback" not in done.stderr
