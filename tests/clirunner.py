"""The ``monitor`` command run in-process with Click's CliRunner, as a user runs it from the repository root.

``monitor(*args, env=..., db=...)`` invokes ``monitor.cli.main:main`` with ``args`` (the working directory is
the repository root for the call, so relative paths such as the default ``config/monitor.toml`` mean what they
mean to a user there). ``env`` is added to the environment for the call; ``db`` sets ``$MONITOR_DATABASE_URL``
to that SQLite file, the documented way to point a command other than ``replay`` at a database.

Exit codes, stdout and stderr are the command's own. An exception other than ``SystemExit`` escaping the command
would have been a traceback and exit code 1 in a subprocess; here it is raised, so no test can mistake a crash
for an expected exit code 1.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from monitor.cli.main import INTERNAL_ERROR, main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FICTIONAL = DATA / "fictional.toml"
ARCHIVE = DATA / "archive"


def monitor(*args: str, env: dict[str, str] | None = None, db: Path | None = None) -> Result:
    extra = {"MONITOR_DATABASE_URL": f"sqlite:///{db}"} if db else {}
    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(main, list(args), env={**extra, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        raise result.exception.with_traceback(result.exc_info[2])
    # the CLI's error boundary turns a crash into one line and exit 1; a test must never mistake it for an
    # expected failure (rerun the command with -vv to see the trace)
    assert INTERNAL_ERROR not in result.stderr, result.stderr
    return result


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


@dataclass(frozen=True)
class Replayed:
    """``monitor --config tests/data/fictional.toml replay tests/data/archive --db <db> --json``, run once."""

    stdout: str
    db: Path

    @property
    def developments(self) -> list[dict[str, Any]]:
        return json_lines(self.stdout)  # a fresh list each time: the shared output stays untouched


def replay_fixture_archive(folder: Path) -> Replayed:
    db = folder / "replayed.db"
    done = monitor("--config", str(FICTIONAL), "replay", str(ARCHIVE), "--db", f"sqlite:///{db}", "--json")
    assert done.exit_code == 0, done.stderr
    return Replayed(done.stdout, db)


def copy_database(source: Path, target: Path) -> Path:
    """A private copy of a SQLite database (for a test that writes to a shared one)."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return target
