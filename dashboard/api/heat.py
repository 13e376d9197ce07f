"""A store's heat grid (mean people per floor cell) over local days."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from dashboard import repository
from dashboard.api.deps import Conn, Format, StoreId, csv_response, date_range, json_response
from dashboard.read_models import Heat

router = APIRouter(tags=["heat"])


@router.get("/stores/{store_id}/heat", response_model=Heat)
def heat(store_id: StoreId, conn: Conn, start: date, end: date, format: Format = "json"):
    first, last = date_range(start, end)
    data = repository.heat_grid(conn, store_id, first, last)
    if format == "csv":
        return csv_response(
            [dict(ix=ix, iy=iy, mean_people=v) for ix, iy, v in data.cells],
            f"{store_id}-heat-{first}-{last}.csv",
        )
    return json_response(data)
