"""campaigns, the stores they target or compare with, and point-of-sale transactions per hour

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("pre_days", sa.SmallInteger(), nullable=False),
        sa.Column("promoted_zones", sa.JSON(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_stores",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_stores_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_campaign_stores_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "store_id", name=op.f("pk_campaign_stores")),
    )
    op.create_table(
        "pos_hours",
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("sales_amount", sa.Float(), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_pos_hours_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("store_id", "period_start", name=op.f("pk_pos_hours")),
    )
    with op.batch_alter_table("pos_hours", schema=None) as batch_op:
        batch_op.create_index("ix_pos_hours_store_date", ["store_id", "local_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pos_hours", schema=None) as batch_op:
        batch_op.drop_index("ix_pos_hours_store_date")
    op.drop_table("pos_hours")
    op.drop_table("campaign_stores")
    op.drop_table("campaigns")
