"""CSV downloads of the rollup tables (zone_hours, line_days, ...) for the stores a user may see."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from dashboard import repository
from dashboard.api.deps import Conn, User, csv_response, date_range, visible_store

router = APIRouter(tags=["export"])


@router.get("/export/{dataset}.csv")
def export(dataset: str, user: User, conn: Conn, start: date, end: date, store: str | None = None):
    """One rollup table as CSV over local dates [start, end]: zone_hours, zone_days, line_hours,
    line_days, transition_hours, transition_days, grid_hours, grid_days (totals only)."""
    if store is not None:
        visible_store(store, user)
    first, last = date_range(start, end)
    rows = repository.export_rows(conn, dataset, {store} if store else user.visible(), first, last)
    return csv_response(rows, f"{dataset}-{first}-{last}.csv")
