"""Run as the program (``main()`` with no arguments), ``monitor`` ends its process without the interpreter's teardown
(``monitor.cli.program``), and nothing else about its exit changes: the exit code, every line of output, ``finally``
blocks and the exit handlers of an embedding script. Each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.clirunner import FICTIONAL, ROOT, Replayed, copy_database

# an embedding script: an exit handler and a `finally` of its own around the program, and an object whose
# __del__ only the interpreter's teardown would call
SCRIPT = """
import atexit, os, sys
class Marker:
    def __del__(self):
        os.write(2, b"TEARDOWN\\n")
marker = Marker()
atexit.register(lambda: os.write(2, b"HANDLER\\n"))
sys.argv = ["monitor", *sys.argv[1:]]
from monitor.cli.main import main
try:
    main()
finally:
    os.write(2, b"FINALLY\\n")
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=120)  # fmt: skip


def test_a_command_run_as_the_program_keeps_its_output_code_and_handlers_and_skips_the_teardown(
        fixture_replay: Replayed, tmp_path: Path) -> None:
    db = copy_database(fixture_replay.db, tmp_path / "program.db")
    done = run("--config", str(FICTIONAL), "feeds", "--json", env={"MONITOR_DATABASE_URL": f"sqlite:///{db}"})
    assert done.returncode == 0, done.stderr
    assert len([json.loads(line) for line in done.stdout.splitlines()]) == 7  # every line, flushed
    assert done.stderr.splitlines() == ["FINALLY", "HANDLER"]  # no TEARDOWN: the interpreter's teardown skipped


def test_the_exit_code_of_a_failing_command_is_kept() -> None:
    done = run("--config", "/nonexistent/monitor.toml", "status")
    assert done.returncode == 2
    assert "file not found" in done.stderr and done.stderr.splitlines()[-2:] == ["FINALLY", "HANDLER"]
    usage = run("no-such-command")
    assert usage.returncode == 2 and "No such command" in usage.stderr and "TEARDOWN" not in usage.stderr


def test_main_called_with_arguments_returns_through_systemexit_as_click_does() -> None:
    # embedding code and Click's test runner pass arguments: no exit handler is added, the teardown happens
    script = SCRIPT.replace("    main()", "    main(['--version'])")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "version" in done.stdout
    assert done.stderr.splitlines() == ["FINALLY", "HANDLER", "TEARDOWN"]
