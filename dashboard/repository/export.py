"""Rollup tables as rows, for CSV downloads."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.repository.common import NotFound, days

EXPORTS = {
    table.name: table
    for grain in t.ROLLUPS.values()
    for table in grain.values()
    if table not in (t.direction_hours, t.direction_days)
} | {t.pos_hours.name: t.pos_hours}


def export_rows(
    conn: sa.Connection, dataset: str, store_ids: Collection[str] | None, first: date, last: date
) -> list[dict[str, Any]]:
    """Rows of one rollup table over local dates [first, last] (packed grids left out): its
    columns as they are stored, one dict a row."""
    table = EXPORTS.get(dataset)
    if table is None:
        raise NotFound(f"no dataset {dataset!r} (have {', '.join(sorted(EXPORTS))})")
    columns = [c for c in table.c if c.name != "cells"]
    query = (
        sa.select(*columns)
        .where(days(table, store_ids, first, last))
        .order_by(table.c.store_id, table.c.local_date, *table.primary_key.columns)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
