"""dead letters keep a digest of what arrived; every stored aggregate id keeps its content hash

Dead letters kept whole payloads (up to the broker's 1 MiB each); they now keep the first 4 KB,
the length and the sha256 of what arrived, and a one-word reason code (`code`) beside the text.
Rows already there are cut and digested the same way (their code is `contract`: the ingest only
dead-lettered unreadable payloads, or what the database refused).

`ingested.content_sha256` is the sha256 of a stored aggregate's content, so that the same id
arriving with other content is refused as a conflict instead of dropped as a redelivery. Ids
stored before this have none: a redelivery of one counts as a duplicate.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEEP_BYTES = 4096


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.add_column(
            sa.Column("code", sa.String(length=20), nullable=False, server_default="contract")
        )
        batch_op.add_column(sa.Column("payload_bytes", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("payload_sha256", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("ingested") as batch_op:
        batch_op.add_column(sa.Column("content_sha256", sa.LargeBinary(), nullable=True))
    letters = sa.table(
        "dead_letters",
        sa.column("id", sa.Integer),
        sa.column("payload", sa.LargeBinary),
        sa.column("payload_bytes", sa.Integer),
        sa.column("payload_sha256", sa.String),
    )
    conn = op.get_bind()
    last = -1
    while True:  # a few hundred rows at a time: old payloads may be up to 1 MiB each
        rows = conn.execute(
            sa.select(letters.c.id, letters.c.payload)
            .where(letters.c.id > last)
            .order_by(letters.c.id)
            .limit(200)
        ).all()
        if not rows:
            break
        for row_id, payload in rows:
            payload = bytes(payload)
            conn.execute(
                sa.update(letters)
                .where(letters.c.id == row_id)
                .values(
                    payload=payload[:KEEP_BYTES],
                    payload_bytes=len(payload),
                    payload_sha256=hashlib.sha256(payload).hexdigest(),
                )
            )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("ingested") as batch_op:
        batch_op.drop_column("content_sha256")
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.drop_column("payload_sha256")
        batch_op.drop_column("payload_bytes")
        batch_op.drop_column("code")
