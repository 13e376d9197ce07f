"""The store registry as read models: stores with their current zones, lines and cameras."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import Camera, FloorPlan, Line, PlanImage, Store, Zone
from dashboard.repository.common import NotFound, area, store_rows


def list_stores(
    conn: sa.Connection,
    ids: Collection[str] | None = None,
    region: str | None = None,
    tag: str | None = None,
) -> list[Store]:
    """Stores (those in `ids` if given, of `region`, with `tag`) by id, with their current
    zones, lines and cameras (retired ones left out)."""
    rows = store_rows(conn, ids, region, tag)
    wanted = [r["id"] for r in rows]
    children: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for name, table in (("zones", t.zones), ("lines", t.lines), ("cameras", t.cameras)):
        c = table.c
        for child in conn.execute(
            sa.select(*[col for col in c if col.name != "retired_at"])
            .where(c.store_id.in_(wanted) & c.retired_at.is_(None))
            .order_by(c.store_id, c.name)
        ).mappings():
            fields = dict(child)
            children[fields.pop("store_id")][name].append(fields)
    p = t.floor_plans.c
    images = {
        r.store_id: PlanImage(
            sha256=r.sha256,
            media_type=r.media_type,
            width_px=r.width_px,
            height_px=r.height_px,
            origin_m=[r.origin_x_m, r.origin_y_m],
            m_per_px=r.m_per_px,
        )
        for r in conn.execute(sa.select(t.floor_plans).where(p.store_id.in_(wanted)))
    }
    return [
        Store(
            id=r["id"],
            name=r["name"] or r["id"],
            region=r["region"],
            tags=list(r["tags"] or []),
            timezone=r["timezone"],
            area_m2=area(r),
            auto_registered=r["auto_registered"],
            simulated=r["simulated"],
            floor_plan=FloorPlan(
                origin_m=[r["origin_x_m"], r["origin_y_m"]],
                width_m=r["width_m"],
                height_m=r["height_m"],
                image=images.get(r["id"]),
            ),
            zones=[Zone(**z) for z in children[r["id"]]["zones"]],
            lines=[Line(**ln) for ln in children[r["id"]]["lines"]],
            cameras=[Camera(**c) for c in children[r["id"]]["cameras"]],
        )
        for r in rows
    ]


def get_store(conn: sa.Connection, store_id: str) -> Store:
    """One store; NotFound names it when it does not exist."""
    found = list_stores(conn, {store_id})
    if not found:
        raise NotFound(f"no store {store_id!r}")
    return found[0]
