"""Start-up cost: each command imports only what it uses. Checked in a fresh interpreter per command (this test
session has imported everything already): the heavy libraries a command must not load, by name.

``tests/benchmarks/status_bench.py`` measures the time; this keeps the imports from creeping back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.store.db import Store
from tests.clirunner import FICTIONAL, ROOT, Replayed, copy_database
from tests.databases import POSTGRES_URL, postgres_schema_url
from tests.feedserver import FeedServer
from tests.pipeline import rss, write_config

# runs `monitor ARGS` in this interpreter and writes the names of the loaded top-level packages to OUT, however
# the command exits
PROBE = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
try:
    from monitor.cli.main import main
    main(args, prog_name="monitor")
finally:
    with open(out, "w") as f:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), f)
"""
HEAVY = {"sqlalchemy", "sqlmodel", "alembic", "jinja2", "apprise", "feedparser", "httpx", "rich", "icalendar",
         "apscheduler", "psycopg", "prometheus_client"}


def loaded(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def test_help_loads_no_config_validation_database_or_network_library(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--help")
    assert "click" in modules and "monitor" in modules  # the probe sees what was loaded
    assert modules & (HEAVY | {"pydantic"}) == set()


def test_status_and_feeds_read_without_the_orm_alembic_templates_or_http(fixture_replay: Replayed,
                                                                          tmp_path: Path) -> None:
    db = copy_database(fixture_replay.db, tmp_path / "status.db")
    env = {"MONITOR_DATABASE_URL": f"sqlite:///{db}"}
    for command in (["status"], ["status", "--json"], ["feeds", "--json"]):
        modules = loaded(tmp_path, "--config", str(FICTIONAL), *command, env=env)
        assert "pydantic" in modules  # the config is validated as for every command
        assert modules & HEAVY == set(), command


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="MONITOR_TEST_POSTGRES_URL is not set")
def test_status_on_postgresql_reads_through_psycopg_without_sqlalchemy(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        Store.open(url).close()  # the schema at head
        modules = loaded(tmp_path, "--config", str(FICTIONAL), "status", env={"MONITOR_DATABASE_URL": url})
    assert "psycopg" in modules and modules & (HEAVY - {"psycopg"}) == set()


def test_a_poll_with_nothing_to_deliver_loads_no_templates_apprise_alembic_or_scheduler(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/ok.xml", body=rss("City News", []))
        config = write_config(tmp_path, feeds=[("city", server.url("/ok.xml"), "ordinary")])
        env = {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'poll.db'}"}
        loaded(tmp_path, "--config", str(config), "poll", env=env)  # creates and migrates the database
        modules = loaded(tmp_path, "--config", str(config), "poll", env=env)
    assert "sqlalchemy" in modules  # the poll stores through the full store
    assert modules & {"alembic", "jinja2", "apprise", "icalendar", "apscheduler", "rich", "prometheus_client"} == set()
