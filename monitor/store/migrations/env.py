"""Alembic environment: runs migrations on the connection handed over by ``monitor.store.db``.

The store takes the migration lock (a file lock beside a SQLite file, an advisory lock in the transaction on
PostgreSQL) so that two processes starting at once migrate one after the other, opens the connection, starts
the transaction (``BEGIN IMMEDIATE`` on SQLite) and passes it in ``config.attributes["connection"]``. Offline
(SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through monitor.store.Store.open(), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=None,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
