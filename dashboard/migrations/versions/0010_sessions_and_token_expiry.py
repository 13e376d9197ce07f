"""server-side sessions; API tokens with an expiry, a last-used time and a label

A browser session is a row (keyed by the SHA-256 of the id its signed cookie carries), so
logging out, a password change or `users revoke` ends it on the server. Tokens made before
expiry existed expire 90 days after this upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAME = sa.String(length=63)


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.DateTime(), nullable=True))
    op.add_column("api_tokens", sa.Column("label", sa.String(length=100), server_default="", nullable=False))
    expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=90)
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime()))
    op.execute(sa.update(tokens).values(expires_at=expiry))
    op.create_table(
        "sessions",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_name", NAME, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name=op.f("fk_sessions_user_name_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id_sha256", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_name"), "sessions", ["user_name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_user_name"), table_name="sessions")
    op.drop_table("sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("label")
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
