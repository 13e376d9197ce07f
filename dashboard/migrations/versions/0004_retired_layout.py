"""zones, lines and cameras can be retired from a store's layout (retired_at)

Re-importing a store YAML that no longer lists a zone, line or camera used to leave it in the
registry for good. It is now marked retired instead of deleted: its rollup rows keep their
history, the ingest does not register it again from late messages, and listing it again brings
it back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("zones", "lines", "cameras")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("retired_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("retired_at")
