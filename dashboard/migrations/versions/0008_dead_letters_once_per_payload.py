"""a dead letter is kept once per payload, topic and code, with the times it arrived

A device sends again what the centre has not confirmed, so a refused payload can arrive more
than once; each arrival was a row of its own. Rows already there are folded the same way: the
first row of each payload, topic and code stays, with the number of rows it stands for.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "dead_letters", sa.Column("received_count", sa.Integer(), server_default="1", nullable=False)
    )
    op.execute(
        """
        UPDATE dead_letters SET received_count = (
            SELECT count(*) FROM dead_letters AS same
            WHERE same.payload_sha256 = dead_letters.payload_sha256
              AND same.topic = dead_letters.topic AND same.code = dead_letters.code)
        """
    )
    op.execute(
        """
        DELETE FROM dead_letters WHERE id > (
            SELECT min(first.id) FROM dead_letters AS first
            WHERE first.payload_sha256 = dead_letters.payload_sha256
              AND first.topic = dead_letters.topic AND first.code = dead_letters.code)
        """
    )
    op.create_index(
        "ux_dead_letters_payload", "dead_letters", ["payload_sha256", "topic", "code"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_dead_letters_payload", table_name="dead_letters")
    op.drop_column("dead_letters", "received_count")
