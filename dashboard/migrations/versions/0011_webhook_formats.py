"""alert deliveries carry their webhook's body format (slack, teams or json)

Deliveries owed before this upgrade are posted as before (slack).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "alert_deliveries", sa.Column("format", sa.String(length=8), server_default="slack", nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("format")
