"""The store registry: list and read (per role), create or update (hq only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from dashboard import registry, repository
from dashboard.api.deps import Conn, Format, HqUser, StoreId, User, csv_response, json_response
from dashboard.read_models import Store

router = APIRouter(tags=["stores"])


@router.get("/stores", response_model=list[Store])
def list_stores(
    user: User, conn: Conn, region: str | None = None, tag: str | None = None, format: Format = "json"
):
    """Stores this user may see, with floor plan, zones, lines and cameras; filter by region or tag."""
    rows = repository.list_stores(conn, user.visible(), region, tag)
    if format == "csv":
        return csv_response(
            [
                r.model_dump(exclude={"zones", "lines", "cameras"})
                | dict(zones=[z.name for z in r.zones], lines=[ln.name for ln in r.lines])
                for r in rows
            ],
            "stores.csv",
        )
    return json_response(rows)


@router.get("/stores/{store_id}", response_model=Store)
def get_store(store_id: StoreId, conn: Conn, format: Format = "json"):
    row = repository.get_store(conn, store_id)
    return csv_response(row.zones, f"{store_id}-zones.csv") if format == "csv" else json_response(row)


@router.put("/stores/{store_id}", response_model=Store)
def put_store(store_id: str, record: registry.StoreRecord, user: HqUser, conn: Conn):
    """Create or update a store (body: the store, floor_plan, zones and lines of a store YAML)."""
    if record.store.id != store_id:
        raise HTTPException(422, f"body is for store {record.store.id!r}, path says {store_id!r}")
    registry.save(conn, record)
    conn.commit()
    return json_response(repository.get_store(conn, store_id))
