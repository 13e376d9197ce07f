"""camera health rollups (health_hours, health_days)

Health messages were kept raw only (health_minutes, 14 days); hour and day rollups keep uptime,
frames and detector latency per camera for as long as the other rollups. They start with the
messages stored after this upgrade; `python -m dashboard rollups rebuild --store ID` fills in
the days before from the raw rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _health_table(name: str, by_hour: bool) -> None:
    op.create_table(
        name,
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("camera", sa.String(length=63), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        *([sa.Column("local_hour", sa.SmallInteger(), nullable=False)] if by_hour else []),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("covered_s", sa.Float(), nullable=False),
        sa.Column("span_s", sa.Float(), nullable=False),
        sa.Column("buckets", sa.Integer(), nullable=False),
        sa.Column("degraded_buckets", sa.Integer(), nullable=False),
        sa.Column("frames_read", sa.Integer(), nullable=False),
        sa.Column("frames_analysed", sa.Integer(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("detector_ms_sum", sa.Float(), nullable=False),
        sa.Column("detector_ms_max", sa.Float(), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f(f"fk_{name}_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "store_id", "camera", "period_start" if by_hour else "local_date", name=op.f(f"pk_{name}")
        ),
    )
    op.create_index(f"ix_{name}_store_date", name, ["store_id", "local_date"], unique=False)


def upgrade() -> None:
    _health_table("health_days", by_hour=False)
    _health_table("health_hours", by_hour=True)


def downgrade() -> None:
    for name in ("health_hours", "health_days"):
        op.drop_index(f"ix_{name}_store_date", table_name=name)
        op.drop_table(name)
