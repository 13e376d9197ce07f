"""One store over one ISO week (local time), against the week before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from dashboard import repository, tables
from dashboard.api.deps import YEARS, Conn, Format, StoreId, csv_response, json_response
from dashboard.read_models import Trends

router = APIRouter(tags=["trends"])
Table = Literal["hours", "zones", "queues", "transitions", "heat", "heat_difference", "directions"]


def _table(data: Trends, table: Table) -> Sequence[dict[str, Any] | BaseModel]:
    """One table of the trends as CSV rows."""
    if table == "hours":
        return [
            dict(weekday=d, hour=h, mean_occupancy=v)
            for d, row in enumerate(data.occupancy_hour_weekday)
            for h, v in enumerate(row)
        ]
    if table == "zones":
        return [
            z.model_dump(exclude={"histogram"})
            | {f"dwell_{lo}s": n for lo, n in zip(tables.DWELL_BINS_S, z.histogram)}
            for z in data.zones
        ]
    if table == "queues":
        return [
            q.model_dump(exclude={"histogram"})
            | {f"waits_{lo}s": n for lo, n in zip(tables.DWELL_BINS_S, q.histogram)}
            for q in data.queues
        ]
    if table == "transitions":
        return data.transitions
    if table == "directions":
        return [
            dict(ix=ix, iy=iy, **{f"bin{k}": n for k, n in enumerate(counts)})
            for ix, iy, counts in data.directions
        ]
    cells = data.heat if table == "heat" else data.heat_difference
    return [dict(ix=ix, iy=iy, value=v) for ix, iy, v in cells]


@router.get("/stores/{store_id}/trends", response_model=Trends)
def trends(
    store_id: StoreId,
    conn: Conn,
    year: Annotated[
        int | None, Query(ge=YEARS[0], le=YEARS[1], description="ISO year (default: this week)")
    ] = None,
    week: Annotated[int | None, Query(ge=1, le=53, description="ISO week number")] = None,
    format: Format = "json",
    table: Table = "hours",
):
    """Congestion by hour, weekday and hour×weekday; the week's heat grid and its difference from
    the week before; walking directions; strongest transitions; dwell per zone; footfall and
    dwell change. With format=csv, `table` picks which table."""
    if (year is None) != (week is None):
        raise HTTPException(422, "give both year and week, or neither")
    if year is None:  # this week, in the store's own time zone
        year, week, _ = datetime.now(ZoneInfo(repository.get_store(conn, store_id).timezone)).isocalendar()
    data = repository.week_trends(conn, store_id, year, week)
    if format == "csv":
        return csv_response(_table(data, table), f"{store_id}-{year}-W{week:02d}-{table}.csv")
    return json_response(data)
