"""The databases tests run against: a SQLite file, and PostgreSQL when ``MONITOR_TEST_POSTGRES_URL`` is set.

Each PostgreSQL test works in a fresh schema of its own, dropped afterwards, so nothing is left in the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL", "")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="MONITOR_TEST_POSTGRES_URL is not set"),
        ],
    ),
]
"""Parameters for a test or fixture that must hold on both databases."""


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema of their own; the schema is dropped on exit."""
    import psycopg

    base = make_url(POSTGRES_URL)
    schema = f"monitor_test_{uuid.uuid4().hex[:12]}"
    plain = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def database_url_for(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database of ``backend``: a SQLite file under ``folder``, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{folder}/state/monitor.db"
    else:
        with postgres_schema_url() as url:
            yield url
