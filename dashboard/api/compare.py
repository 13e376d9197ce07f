"""All the stores a user may see over a date range, ranked by footfall."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from dashboard import repository
from dashboard.api.deps import Conn, Format, User, csv_response, date_range, json_response
from dashboard.read_models import Comparison

router = APIRouter(tags=["compare"])


@router.get("/compare", response_model=Comparison)
def compare(
    user: User,
    conn: Conn,
    start: date,
    end: date,
    region: str | None = None,
    tag: str | None = None,
    format: Format = "json",
):
    """Per store: footfall (total and per local day), mean occupancy, occupancy per m², peak local
    hour, mean dwell, rank. Managers see only their stores."""
    first, last = date_range(start, end)
    data = repository.compare_stores(conn, first, last, user.visible(), region, tag)
    return (
        csv_response(data.stores, f"compare-{first}-{last}.csv") if format == "csv" else json_response(data)
    )
