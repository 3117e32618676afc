"""Item lookups by link through an index; the unused index on ``first_seen`` goes.

Every changed feed's poll looks its entries up by id and by link (a known entry under a new guid is not news).
The link search scanned all of the feed's stored rows: a busy feed keeps thousands, and on SQLite they lie
scattered among other feeds' rows, so the search grew with the feed's history (0.06 ms at 1,000 stored items,
0.29 ms at 250,000 with 500 of them the feed's). ``ix_item_feed_link`` indexes ``(feed_id, substr(link, 1, 200))``:
a prefix, because a link of 2,048 non-ASCII characters would not fit a PostgreSQL btree entry; the store matches
the exact link itself. ``ix_item_first_seen`` served no query; dropping it keeps an item insert at the same
number of index writes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_item_first_seen", table_name="item")
    op.create_index("ix_item_feed_link", "item", ["feed_id", sa.text("substr(link, 1, 200)")])


def downgrade() -> None:
    op.drop_index("ix_item_feed_link", table_name="item")
    op.create_index("ix_item_first_seen", "item", ["first_seen"])
