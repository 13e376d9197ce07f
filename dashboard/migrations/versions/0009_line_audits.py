"""each camera's latest on-site audit, per line (line_audits)

A device's online status carries its cameras' latest audits (the store config's `audits`):
per line, the crossings an installer marked on a recording and those the pipeline counted on
it. The compare page shows each store's audited line accuracy from them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NAME = sa.String(length=63)


def upgrade() -> None:
    op.create_table(
        "line_audits",
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("camera", NAME, nullable=False),
        sa.Column("line", NAME, nullable=False),
        sa.Column("audited_on", sa.Date(), nullable=False),
        sa.Column("clip_s", sa.Float(), nullable=False),
        sa.Column("marked_in", sa.Integer(), nullable=False),
        sa.Column("marked_out", sa.Integer(), nullable=False),
        sa.Column("counted_in", sa.Integer(), nullable=False),
        sa.Column("counted_out", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_line_audits_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("store_id", "camera", "line", name=op.f("pk_line_audits")),
    )


def downgrade() -> None:
    op.drop_table("line_audits")
