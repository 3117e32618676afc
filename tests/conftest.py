"""Shared pytest wiring.

Tests marked ``postgres`` skip when ``MONITOR_TEST_POSTGRES_URL`` is unset; tests marked ``corpus`` skip
when the feedparser corpus is absent. CI sets ``MONITOR_REQUIRE_POSTGRES=1`` / ``MONITOR_REQUIRE_CORPUS=1``,
which turn such a skip into a failure, so a green CI run means those tests really ran.

Tests marked ``e2e`` run real ``monitor`` processes (the daemon, signals, kill -9, a standby); the fast tier is
``pytest -m "not e2e"``. ``fixture_replay`` is the team's fixture archive replayed once per session into a
database that tests only read (copy it with ``tests.clirunner.copy_database`` to write to it).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from tests.clirunner import Replayed, replay_fixture_archive

_REQUIRED = {"postgres": "MONITOR_REQUIRE_POSTGRES", "corpus": "MONITOR_REQUIRE_CORPUS"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped:
        return
    for marker, env in _REQUIRED.items():
        if item.get_closest_marker(marker) is not None and os.environ.get(env) == "1":
            report.outcome = "failed"
            report.longrepr = f"{marker} test skipped although {env}=1 requires it to run: {report.longrepr}"


@pytest.fixture(scope="session")
def fixture_replay(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """``monitor replay tests/data/archive --db ... --json`` on tests/data/fictional.toml, in-process, once."""
    return replay_fixture_archive(tmp_path_factory.mktemp("fixture-replay"))
