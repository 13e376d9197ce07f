"""The store registry's write side: stores, floor plans, zones and lines, from an edge store
config (`footfall_core.store`) or the same sections sent to the API. Used by `python -m dashboard
stores` and by PUT /api/v1/stores/{id}.

A record that lists zones, lines or cameras gives the store's current layout: listed ones are
upserted by name (and brought back if retired), and current ones it does not list are retired
(`retired_at`), not deleted: their rollups keep their history, and a late message naming them
does not register them again. A record that leaves a section out (None) leaves it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dashboard import tables as t
from dashboard.rollups import upsert
from dashboard.storage import now_utc
from footfall_core.store import FloorPlan, Line, StoreConfig, StoreInfo, Zone


class StoreRecord(BaseModel):
    """A store as the registry holds it: the `store`, `floor_plan`, `zones` and `lines`
    sections of a store YAML and its cameras' names, plus the sales area (default: plan
    width × height). A section left out (None) is not changed by `save`."""

    model_config = ConfigDict(extra="forbid")

    store: StoreInfo
    floor_plan: FloorPlan | None = None
    area_m2: float | None = Field(None, gt=0, description="Sales floor area in m² (default width × height).")
    zones: list[Zone] | None = Field(None, description="The store's zones (others are retired).")
    lines: list[Line] | None = Field(None, description="The store's lines (others are retired).")
    cameras: list[str] | None = Field(None, description="The store's camera names (others are retired).")

    @field_validator("floor_plan")
    @classmethod
    def _no_path(cls, plan: FloorPlan | None) -> FloorPlan | None:
        if plan is not None and plan.image is not None:
            raise ValueError(
                f"image {plan.image[:200]!r}: the dashboard never reads or serves a path; upload the "
                "plan image with PUT /api/v1/stores/{id}/plan (or `python -m dashboard stores import`)"
            )
        return plan

    @classmethod
    def from_config(cls, config: StoreConfig) -> StoreRecord:
        """The registry's part of a store config; its plan image is uploaded on its own
        (`dashboard.plans`), never kept as a path."""
        return cls(
            store=config.store,
            floor_plan=config.floor_plan.model_copy(update={"image": None}),
            zones=config.zones,
            lines=config.lines,
            cameras=[c.name for c in config.cameras],
        )


@dataclass
class LayoutChange:
    """What `save` changed in a store's layout: names added (or brought back) and retired, per
    table (`zones`, `lines`, `cameras`)."""

    added: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [
            f"{verb} {table} {', '.join(names)}"
            for verb, by_table in (("added", self.added), ("retired", self.retired))
            for table, names in by_table.items()
            if names
        ]
        return "; ".join(parts) or "layout unchanged"


def save(conn: sa.Connection, record: StoreRecord, simulated: bool = False) -> LayoutChange:
    """Create or update a store from a record (the store is no longer `auto_registered`);
    returns what changed in its layout."""
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
        )
        row["area_m2"] = record.area_m2 or plan.width_m * plan.height_m
    exists = conn.scalar(sa.select(sa.func.count()).where(t.stores.c.id == info.id))
    if exists:
        conn.execute(sa.update(t.stores).where(t.stores.c.id == info.id).values(**row))
    else:
        conn.execute(sa.insert(t.stores), dict(row, created_at=now_utc()))
    layout: dict[sa.Table, list[dict] | None] = {
        t.zones: None
        if record.zones is None
        else [
            dict(
                name=z.name,
                polygon_m=[list(p) for p in z.polygon_m],
                area_m2=z.area_m2,
                capacity=z.capacity,
                kind=z.kind,
            )
            for z in record.zones
        ],
        t.lines: None
        if record.lines is None
        else [dict(name=ln.name, start_m=list(ln.start_m), end_m=list(ln.end_m)) for ln in record.lines],
        t.cameras: None if record.cameras is None else [dict(name=name) for name in record.cameras],
    }
    change = LayoutChange()
    for table, rows in layout.items():
        if rows is not None:
            added, retired = _replace_layout(conn, table, info.id, rows)
            change.added[table.name], change.retired[table.name] = added, retired
    return change


def _replace_layout(
    conn: sa.Connection, table: sa.Table, store_id: str, rows: list[dict]
) -> tuple[list[str], list[str]]:
    """Make `rows` (by name) the store's current entries of `table`; returns the names added
    (or brought back) and the names retired. Columns a row leaves out (a camera's status) keep
    their stored values."""
    c = table.c
    current = set(conn.scalars(sa.select(c.name).where((c.store_id == store_id) & c.retired_at.is_(None))))
    wanted = {row["name"] for row in rows}
    upsert(conn, table, [dict(row, store_id=store_id, retired_at=None) for row in rows], replace=True)
    gone = current - wanted
    if gone:
        conn.execute(
            sa.update(table).where((c.store_id == store_id) & c.name.in_(gone)).values(retired_at=now_utc())
        )
    return sorted(wanted - current), sorted(gone)


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
