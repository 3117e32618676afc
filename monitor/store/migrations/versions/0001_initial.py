"""Initial schema: feeds, items, story/thread/deadline state, developments, outbox, meta.

Revision ID: 0001
Revises:
Create Date: 2026-02-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The store's UTCDateTime stores through this type; migrations need not import the models.
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("current_url", sa.String(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(), nullable=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("body_sha256", sa.String(), nullable=True),
        sa.Column("conditional_supported", sa.Boolean(), nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", TS, nullable=True),
        sa.Column("retry_after_until", TS, nullable=True),
        sa.Column("cache_floor_s", sa.Integer(), nullable=True),
        sa.Column("seeded", sa.Boolean(), nullable=False),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("failing_reported", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feed_next_poll_at", "feed", ["next_poll_at"])

    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("outlet", sa.String(), nullable=False),
        sa.Column("source_kind", sa.String(), nullable=False),
        sa.Column("published", TS, nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("is_seed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("feed_id", "item_id", name="uq_item_feed_item"),
    )
    op.create_index("ix_item_published", "item", ["published"])
    op.create_index("ix_item_first_seen", "item", ["first_seen"])
    op.create_index("ix_item_last_seen", "item", ["last_seen"])

    op.create_table(
        "story_state",
        sa.Column("story_id", sa.String(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("story_id"),
    )
    op.create_table(
        "thread_state",
        sa.Column("story_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("since", TS, nullable=True),
        sa.Column("development_key", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("story_id", "thread_id"),
    )
    op.create_table(
        "deadline_state",
        sa.Column("story_id", sa.String(), nullable=False),
        sa.Column("deadline_id", sa.String(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("story_id", "deadline_id"),
    )

    op.create_table(
        "development",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("story_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=True),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=True),
        sa.Column("confidence", sa.String(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("sources_json", sa.Text(), nullable=False),
        sa.Column("cues_json", sa.Text(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("key", name="uq_development_key"),
    )
    op.create_index("ix_development_at", "development", ["at"])
    op.create_index("ix_development_story_id", "development", ["story_id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("development_key", sa.String(), nullable=False),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("release_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("targets_json", sa.Text(), nullable=False),
        sa.Column("confidence", sa.String(), nullable=False),
        sa.Column("repeat_until_ack", sa.Boolean(), nullable=False),
        sa.Column("repeat_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["development_key"], ["development.key"], ondelete="CASCADE"),
        sa.UniqueConstraint("development_key", "channel_id", "confidence", "repeat_seq", name="uq_outbox_message"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "meta",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    for table in ("meta", "outbox", "development", "deadline_state", "thread_state", "story_state", "item", "feed"):
        op.drop_table(table)
