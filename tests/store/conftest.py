"""The store tests' databases: each test runs on a SQLite file and, when MONITOR_TEST_POSTGRES_URL is set, on
PostgreSQL (a schema of its own, dropped afterwards)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store.db import Store
from tests.databases import BACKENDS, database_url_for


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (migrating a fresh file takes about 70 ms)."""
    path = tmp_path_factory.mktemp("migrated") / "monitor.db"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def store(database_url: str, migrated_sqlite: Path) -> Iterator[Store]:
    """An open store on an empty database at head: on SQLite a copy of ``migrated_sqlite`` (the tests of
    opening and migrating use ``database_url`` and fresh files themselves)."""
    if database_url.startswith("sqlite:///"):
        target = Path(database_url.removeprefix("sqlite:///"))
        target.parent.mkdir(parents=True, exist_ok=True)
        source, copy = sqlite3.connect(migrated_sqlite), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
    opened = Store.open(database_url)
    yield opened
    opened.close()
