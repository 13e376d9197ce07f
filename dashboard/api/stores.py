"""The store registry: list and read (per role), create or update (hq only)."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request

from dashboard import plans, registry, repository
from dashboard.api.deps import Conn, Format, HqUser, StoreId, User, csv_response, json_response
from dashboard.read_models import PlanImage, Store

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


def _numbers(form, key: str, count: int) -> tuple[float, ...] | None:
    text = form.get(key)
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in str(text).replace(";", ",").split(","))
    except ValueError:
        raise HTTPException(
            422, f"{key}: expected {count} numbers separated by commas, got {str(text)[:80]!r}"
        ) from None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise HTTPException(422, f"{key}: expected {count} finite numbers, got {len(values)}")
    return values


@router.put("/stores/{store_id}/plan", response_model=PlanImage)
async def put_plan(store_id: StoreId, request: Request, user: HqUser, conn: Conn):
    """Upload the store's floor plan image (multipart form): `file`, the PNG, JPEG or SVG itself
    (sniffed; at most 8 MiB and 10,000 px a side), placed by `m_per_px` with `origin_m` ("x,y",
    the floor metres of its top-left corner; default the plan's origin), or by two reference
    points: `image_px` ("u0,v0,u1,v1") and `floor_m` ("x0,y0,x1,y1"). A path is never read."""
    store = repository.get_store(conn, store_id)
    form = await request.form(max_files=1, max_fields=10, max_part_size=plans.MAX_BYTES + 1)
    upload = form.get("file")
    if upload is None:
        raise HTTPException(422, "file: missing: send the image itself as the multipart field 'file'")
    if isinstance(upload, str):
        raise HTTPException(
            422,
            f"file: got text ({upload[:80]!r}), not a file: the dashboard never reads a path; send the image",
        )
    data = await upload.read(plans.MAX_BYTES + 1)
    scale, origin = _numbers(form, "m_per_px", 1), _numbers(form, "origin_m", 2)
    image_px, floor_m = _numbers(form, "image_px", 4), _numbers(form, "floor_m", 4)
    try:
        if scale is not None and image_px is None:
            placement = plans.Placement(origin or tuple(store.floor_plan.origin_m), scale[0])
        elif image_px is not None and floor_m is not None and scale is None and origin is None:
            placement = plans.Placement.from_points((image_px[:2], image_px[2:]), (floor_m[:2], floor_m[2:]))
        else:
            raise plans.PlanError("placement: give m_per_px (and origin_m), or image_px and floor_m")
        image = plans.save(conn, request.app.state.settings.data_dir, store_id, data, placement, user.name)
    except plans.PlanError as exc:
        raise HTTPException(422, str(exc)) from None
    conn.commit()
    return json_response(image)
