"""Story state in parts: a row per development, pool cluster and bucket of seen links, and a revision.

``story_state.state_json`` keeps the small core (threads, vocabulary, counters, order); ``story_part`` holds
the rest, one JSON row per part, so a save writes only the parts that changed (``monitor.story.parts``).
``story_state.revision`` counts saves: a process that keeps the state in memory between polls reloads it only
when another process has saved since. Rows stored before this migration hold the whole state in
``state_json`` and are read as they are; the next save writes them in parts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_part",
        sa.Column("story_id", sa.String(), primary_key=True),
        sa.Column("part", sa.String(), primary_key=True),
        sa.Column("part_json", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("story_state") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("story_state") as batch:
        batch.drop_column("revision")
    op.drop_table("story_part")
