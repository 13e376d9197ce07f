"""A store's latest stored minute per zone and its cameras' status (the live MQTT stream is
the web page's business: dashboard/live.py)."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard import repository
from dashboard.api.deps import Conn, Format, StoreId, csv_response, json_response
from dashboard.read_models import LiveZones

router = APIRouter(tags=["live"])


@router.get("/stores/{store_id}/live", response_model=LiveZones)
def live(store_id: StoreId, conn: Conn, format: Format = "json"):
    state = repository.live_zones(conn, store_id)
    return csv_response(state.zones, f"{store_id}-live.csv") if format == "csv" else json_response(state)
