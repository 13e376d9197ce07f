"""store operations: uploaded floor plans, queue zones, alert rules, alerts, their transitions,
webhook deliveries and evaluator leases; the plan image path is gone from stores

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = sa.String(length=63)


def _store_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["store_id"], ["stores.id"], name=op.f(f"fk_{table}_store_id_stores"), ondelete="CASCADE"
    )


def upgrade() -> None:
    # In place on both backends (SQLite 3.35+ drops a plain column): a batch copy of `stores`
    # would drop the old table, and SQLite's foreign keys would cascade that to every row of
    # every store.
    op.add_column("zones", sa.Column("kind", sa.String(length=10), server_default="area", nullable=False))
    op.execute("ALTER TABLE stores DROP COLUMN plan_image")
    op.create_table(
        "floor_plans",
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("width_px", sa.Integer(), nullable=False),
        sa.Column("height_px", sa.Integer(), nullable=False),
        sa.Column("origin_x_m", sa.Float(), nullable=False),
        sa.Column("origin_y_m", sa.Float(), nullable=False),
        sa.Column("m_per_px", sa.Float(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("uploaded_by", NAME, nullable=True),
        _store_fk("floor_plans"),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_floor_plans")),
    )
    op.create_table(
        "alert_configs",
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", NAME, nullable=True),
        _store_fk("alert_configs"),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_alert_configs")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("rule", NAME, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("zone", NAME, nullable=True),
        sa.Column("camera", NAME, nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", NAME, nullable=True),
        _store_fk("alerts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_store_state", "alerts", ["store_id", "state"])
    op.create_index("ix_alerts_started_at", "alerts", ["started_at"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("event", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("by_user", NAME, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_events_alert_id_alerts"), ondelete="CASCADE"
        ),
        _store_fk("alert_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("gave_up_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.id"],
            name=op.f("fk_alert_deliveries_event_id_alert_events"),
            ondelete="CASCADE",
        ),
        _store_fk("alert_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_alert_deliveries_idempotency_key")),
    )
    op.create_index(
        "ix_alert_deliveries_pending", "alert_deliveries", ["store_id", "delivered_at", "next_at"]
    )
    op.create_table(
        "alert_leases",
        sa.Column("store_id", NAME, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        _store_fk("alert_leases"),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_alert_leases")),
    )


def downgrade() -> None:
    for table in (
        "alert_leases",
        "alert_deliveries",
        "alert_events",
        "alerts",
        "alert_configs",
        "floor_plans",
    ):
        op.drop_table(table)
    op.add_column("stores", sa.Column("plan_image", sa.String(length=500), nullable=True))
    op.execute("ALTER TABLE zones DROP COLUMN kind")
