"""``monitor config check`` warns about story threads that cannot work, and still exits 0 (the config is valid).

In-process through Click's CliRunner (tests/clirunner.py), on configs written as TOML text here.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.clirunner import monitor

CONFIG = """
[monitor]
database_url = "sqlite:///{folder}/monitor.db"

[[feeds]]
id = "news"
url = "https://news.example.org/rss"

[[stories]]
id = "standoff"
title = "Ministry ultimatum to Acme"

[stories.relevance]
require = [["Acme"], ["Ministry"]]

[stories.threads.strike]
objects = ["Acme", "plants"]
transitions = {transitions}

[[stories.threads.strike.states]]
id = "none"
level = 0
kind = "initial"

[[stories.threads.strike.states]]
id = "threatened"
level = 1
kind = "threat"
cues = ["threatens to strike"]

[[stories.threads.strike.states]]
id = "begun"
level = 3
cues = {begun_cues}
"""
STUCK = '{ none = ["threatened", "begun"] }'  # threatened: no way out, so the strike itself is never reported
FINE = '{ none = ["threatened", "begun"], threatened = ["begun"] }'
DEAD_END = "stories[0].threads.strike.transitions: state 'threatened' (threat, level 1) has no way out"
ONE_WORD = "stories[0].threads.strike.states[2].cues: 'strike' (cues[0]) is one word on 'begun'"


def write(folder: Path, transitions: str, begun_cues: str = '["walks out at Acme plants"]') -> Path:
    path = folder / "monitor.toml"
    path.write_text(CONFIG.format(folder=folder, transitions=transitions, begun_cues=begun_cues), encoding="utf-8")
    return path


def test_config_check_prints_the_warnings_after_the_summary_and_exits_0(tmp_path: Path) -> None:
    done = monitor("--config", str(write(tmp_path, STUCK, '["strike", "walks out at Acme plants"]')), "config", "check")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "is valid" in lines[0]
    start = lines.index("warnings (2): the configuration is valid, but these parts may not work as meant")
    assert start > lines.index("channels:")  # after the summary
    assert lines[start + 1].startswith(f"  - {DEAD_END}")
    assert 'threatened = ["begun"]' in lines[start + 1]  # how to fix it
    assert lines[start + 2].startswith(f"  - {ONE_WORD}")
    assert len(lines) == start + 3


def test_config_check_json_lists_the_warnings(tmp_path: Path) -> None:
    done = monitor("--config", str(write(tmp_path, STUCK)), "config", "check", "--json")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["valid"] is True
    [warning] = summary["warnings"]
    assert warning.startswith(DEAD_END) and "can never move again" in warning


def test_a_thread_that_works_gives_an_empty_warning_list_and_no_warning_lines(tmp_path: Path) -> None:
    path = write(tmp_path, FINE)
    assert json.loads(monitor("--config", str(path), "config", "check", "--json").stdout)["warnings"] == []
    done = monitor("--config", str(path), "config", "check")
    assert done.exit_code == 0, done.stderr
    assert "warning" not in done.stdout


def test_an_invalid_config_is_still_an_error_and_not_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, '{ none = ["threatened", "begun"], threatened = ["nowhere"] }')
    done = monitor("--config", str(path), "config", "check", "--json")
    assert done.exit_code == 2
    assert "stories[0].threads.strike.transitions.threatened: unknown target state 'nowhere'" in done.stderr
    assert done.stdout == ""
