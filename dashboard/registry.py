"""The store registry's write side: stores, floor plans, zones and lines, from an edge store
config (`edge.config`) or the same sections sent to the API. Used by `python -m dashboard
stores` and by PUT /api/v1/stores/{id}.

Zones and lines are upserted by name; ones the record does not list are kept (they may have
history, and the ingest would learn them again anyway).
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from dashboard import tables as t
from dashboard.rollups import upsert
from dashboard.storage import now_utc
from edge.config import FloorPlan, Line, StoreConfig, StoreInfo, Zone


class StoreRecord(BaseModel):
    """A store as the registry holds it: the `store`, `floor_plan`, `zones` and `lines`
    sections of a store YAML, plus the sales area (default: plan width × height)."""

    model_config = ConfigDict(extra="forbid")

    store: StoreInfo
    floor_plan: FloorPlan | None = None
    area_m2: float | None = Field(None, gt=0, description="Sales floor area in m² (default width × height).")
    zones: list[Zone] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)

    @classmethod
    def from_config(cls, config: StoreConfig) -> StoreRecord:
        plan = config.floor_plan
        if plan.image:
            plan = plan.model_copy(update={"image": config.resolve(plan.image)})
        return cls(store=config.store, floor_plan=plan, zones=config.zones, lines=config.lines)


def save(conn: sa.Connection, record: StoreRecord, simulated: bool = False) -> None:
    """Create or update a store from a record (the store is no longer `auto_registered`)."""
    info, plan = record.store, record.floor_plan
    row = dict(
        id=info.id,
        name=info.name or info.id,
        region=info.region,
        tags=list(info.tags),
        timezone=info.timezone,
        auto_registered=False,
        simulated=simulated,
        area_m2=record.area_m2,
    )
    if plan is not None:
        row.update(
            origin_x_m=plan.origin_m[0],
            origin_y_m=plan.origin_m[1],
            width_m=plan.width_m,
            height_m=plan.height_m,
            plan_image=plan.image,
        )
        row["area_m2"] = record.area_m2 or plan.width_m * plan.height_m
    exists = conn.scalar(sa.select(sa.func.count()).where(t.stores.c.id == info.id))
    if exists:
        conn.execute(sa.update(t.stores).where(t.stores.c.id == info.id).values(**row))
    else:
        conn.execute(sa.insert(t.stores), dict(row, created_at=now_utc()))
    upsert(
        conn,
        t.zones,
        [
            dict(
                store_id=info.id,
                name=z.name,
                polygon_m=[list(p) for p in z.polygon_m],
                area_m2=z.area_m2,
                capacity=z.capacity,
            )
            for z in record.zones
        ],
        replace=True,
    )
    upsert(
        conn,
        t.lines,
        [
            dict(store_id=info.id, name=ln.name, start_m=list(ln.start_m), end_m=list(ln.end_m))
            for ln in record.lines
        ],
        replace=True,
    )


def remove(conn: sa.Connection, store_id: str) -> dict[str, int]:
    """Delete a store and everything kept about it (registry, data, managers' access, the ids of
    its messages); returns the rows deleted per table. A device still sending as the store
    registers it again: take it out of the broker's ACL too (`python -m dashboard broker-acl`)."""
    if conn.scalar(sa.select(t.stores.c.id).where(t.stores.c.id == store_id)) is None:
        raise ValueError(f"no store {store_id!r}")
    deleted = {}
    for table in reversed(t.metadata.sorted_tables):  # rows that point at the store go first
        if "store_id" in table.c:
            deleted[table.name] = conn.execute(sa.delete(table).where(table.c.store_id == store_id)).rowcount
    ids = t.ingested.c.id.startswith(f"{store_id}/", autoescape=True)
    deleted["ingested"] = conn.execute(sa.delete(t.ingested).where(ids)).rowcount
    deleted["stores"] = conn.execute(sa.delete(t.stores).where(t.stores.c.id == store_id)).rowcount
    return {name: n for name, n in deleted.items() if n}
