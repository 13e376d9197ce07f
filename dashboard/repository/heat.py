"""A store's heat grid: mean people per floor cell over local days."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import Heat
from dashboard.repository.common import days, heat_cells, mean_heat


def heat_grid(conn: sa.Connection, store_id: str, first: date, last: date) -> Heat:
    gd = t.grid_days.c
    rows = conn.execute(
        sa.select(gd.camera, gd.cell_m, gd.covered_s, gd.cells).where(
            days(t.grid_days, store_id, first, last)
        )
    ).all()
    cell_m, grid = mean_heat(rows)
    return Heat(
        store=store_id,
        first=first,
        last=last,
        cell_m=cell_m,
        unit="mean people per cell",
        cells=heat_cells(grid),
    )
