"""Outbox message context: what a message shows beyond its development, frozen when the development is recorded.

A nullable JSON text column (the story's thread line, the deadline countdown, the human titles). Rows queued
before this migration keep NULL, and delivery renders them from the live state as before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("context_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("context_json")
