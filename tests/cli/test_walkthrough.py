"""The README's first steps, as written, from a folder other than the project's: one database beside the config,
found by every command; nothing created in the current folder. (`run --once` in a process of its own, as the
daemon sets up signals and logging; the other commands in-process.)"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import main
from tests.feedserver import FeedServer
from tests.pipeline import STORY, at, rss
from tests.receivers import HttpReceiver

REPO = Path(__file__).resolve().parents[2]
OLD = ("Acme Robotics opens a warehouse in Riverton", "https://city.example.test/1", at("2030-05-01T10:00"))
BAN = ("Riverton city council bans Acme delivery drones", "https://city.example.test/ban", at("2030-05-30T12:30"))
WIRE = ("Riverton council bans Acme drones, city says", "https://wire.example.test/ban", at("2030-05-30T12:31"))


def cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.e2e
def test_the_readme_first_steps_work_from_another_folder_on_one_database(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "monitor", tmp_path / "elsewhere"
    (project / "config").mkdir(parents=True)
    elsewhere.mkdir()
    config = project / "config" / "monitor.toml"
    with FeedServer() as feeds, HttpReceiver() as hook:
        feeds.route("/city.xml", body=rss("City News", [OLD]))
        feeds.route("/wire.xml", body=rss("Wire", []))
        text = ('[monitor]\ncontact = "test@example.test"\n'  # no database_url: the default, beside config/
                f'[[feeds]]\nid = "city"\nurl = "{feeds.url("/city.xml")}"\npoll_interval = "1m"\n'
                f'[[feeds]]\nid = "wire"\nurl = "{feeds.url("/wire.xml")}"\nsource = "wire"\n'
                'poll_interval = "1m"\n'
                + STORY.format(due="2031-06-01T17:00:00"))
        config.write_text(text, encoding="utf-8")
        env = {"MONITOR_CONFIG": str(config), "MONITOR_DATABASE_URL": ""}
        with contextlib.chdir(elsewhere):
            once = subprocess.run([sys.executable, "-m", "monitor", "run", "--once"], capture_output=True,
                                  text=True, timeout=120, env={**os.environ, **env}, cwd=elsewhere)
            assert once.returncode == 0, once.stderr
            database = project / "state" / "monitor.db"
            assert database.is_file() and list(elsewhere.iterdir()) == []

            code, out, _ = cli("status", env=env)
            assert code == 0 and f"database: sqlite:///{database}" in out and "next poll" in out

            feeds.route("/city.xml", body=rss("City News", [OLD, BAN]))
            code, out, _ = cli("try", "--feed", "city", env=env)
            assert code == 0 and "bans Acme delivery drones" in out and "nothing was stored" in out

            config.write_text(text + f'[[channels]]\nid = "desk"\nurls = ["{hook.json_url("/desk")}"]\n'
                              'min_severity = "info"\n', encoding="utf-8")
            code, out, _ = cli("notify", "test", "--channel", "desk", env=env)
            assert code == 0 and len(hook.delivered("/desk")) == 1

            feeds.route("/wire.xml", body=rss("Wire", [WIRE]))
            code, out, err = cli("poll", env=env)  # a tick now (run --once polls only the feeds that are due)
            assert code == 0, err
            code, out, _ = cli("history", "--json", env=env)
            [ban] = [d for d in map(json.loads, out.splitlines()) if d.get("to") == "banned"]
            assert re.fullmatch(r"[0-9a-f]{8}", ban["id"])
            code, out, err = cli("ack", ban["id"], env=env)
            assert code == 0, err
            assert list(elsewhere.iterdir()) == []  # nothing was ever created in the current folder
