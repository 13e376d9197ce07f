"""A store's camera health (uptime, frames, detector latency) per camera and local day."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from dashboard import repository
from dashboard.api.deps import Conn, Format, StoreId, csv_response, date_range, json_response
from dashboard.read_models import CameraHealth

router = APIRouter(tags=["health"])


@router.get("/stores/{store_id}/health", response_model=CameraHealth)
def health(store_id: StoreId, conn: Conn, start: date, end: date, format: Format = "json"):
    first, last = date_range(start, end)
    data = repository.camera_health(conn, store_id, first, last)
    if format == "csv":
        return csv_response(data.days, f"{store_id}-health-{first}-{last}.csv")
    return json_response(data)
