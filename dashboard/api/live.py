"""A store's latest stored minute per zone and its cameras' status, and its queues now (the
live MQTT stream, dashboard/live.py, read by the serve process)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from dashboard import repository
from dashboard.api.deps import Conn, Format, StoreId, csv_response, json_response
from dashboard.charts import FloorGeometry
from dashboard.live_view import queues
from dashboard.read_models import LiveZones, QueueNow

router = APIRouter(tags=["live"])


@router.get("/stores/{store_id}/live", response_model=LiveZones)
def live(store_id: StoreId, conn: Conn, format: Format = "json"):
    state = repository.live_zones(conn, store_id)
    return csv_response(state.zones, f"{store_id}-live.csv") if format == "csv" else json_response(state)


@router.get("/stores/{store_id}/queues", response_model=list[QueueNow])
def queues_now(store_id: StoreId, request: Request, conn: Conn, format: Format = "json"):
    """Each queue zone now (from the live stream): length, people leaving a minute, estimated
    wait (Little's law). 503 when the dashboard has no broker (FOOTFALL_MQTT_URL unset)."""
    hub = getattr(request.app.state, "live_hub", None)
    if hub is None:
        raise HTTPException(503, "the live view is off: set FOOTFALL_MQTT_URL for the dashboard")
    geometry = FloorGeometry.from_store(repository.get_store(conn, store_id))
    rows = [
        QueueNow(zone=q["zone"], length=q["length"], left_per_min=q["left_per_min"], wait_s=q["wait_s"])
        for q in queues(geometry, hub.snapshot(store_id))
    ]
    return csv_response(rows, f"{store_id}-queues.csv") if format == "csv" else json_response(rows)
