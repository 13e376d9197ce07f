"""store rollup grids uncompressed (PostgreSQL)

Hour and day grids are read, merged and written back whole on every ingest batch that touches
them. Packed float records hardly compress, yet PostgreSQL tries pglz on every value over 2 kB
before moving it out of line: `STORAGE EXTERNAL` keeps them out of line without that attempt
(bench/write_path.py, 60k messages: about 2,550 → 3,500 msg/s). SQLite has no such setting.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 16:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("grid_hours", "grid_days", "direction_hours", "direction_days")


def _storage(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN cells SET STORAGE {kind}")


def upgrade() -> None:
    _storage("EXTERNAL")


def downgrade() -> None:
    _storage("EXTENDED")
