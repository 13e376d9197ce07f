"""Queries shared by the resources: the date filter, occupancy, footfall, dwell and heat sums."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from dashboard import cells as packed
from dashboard import tables as t

StoreIds = str | Collection[str] | None  # one store, some, or every store


class NotFound(LookupError):
    """A store (or other named thing) that does not exist; the message names it."""


def area(row: sa.RowMapping) -> float | None:
    """A store row's sales floor area: as given, else its plan's width × height."""
    return row["area_m2"] or ((row["width_m"] or 0) * (row["height_m"] or 0)) or None


def store_rows(
    conn: sa.Connection, ids: Collection[str] | None, region: str | None, tag: str | None
) -> list[sa.RowMapping]:
    s = t.stores.c
    query = sa.select(t.stores).order_by(s.id)
    if ids is not None:
        query = query.where(s.id.in_(ids))
    if region:
        query = query.where(s.region == region)
    return [r for r in conn.execute(query).mappings() if not tag or tag in (r["tags"] or [])]


def require_store(conn: sa.Connection, store_id: str) -> None:
    if conn.scalar(sa.select(t.stores.c.id).where(t.stores.c.id == store_id)) is None:
        raise NotFound(f"no store {store_id!r}")


def days(table: sa.Table, store_ids: StoreIds, first: date, last: date) -> sa.ColumnElement[bool]:
    """Rows of `table` of these stores over local dates [first, last]."""
    where = (table.c.local_date >= first) & (table.c.local_date <= last)
    if isinstance(store_ids, str):
        return where & (table.c.store_id == store_ids)
    return where if store_ids is None else where & table.c.store_id.in_(store_ids)


def occupancy(
    conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool], by: list[str]
) -> dict[tuple[Any, ...], float]:
    """Mean people present per group of `by` columns: Σ over cameras of Σps / Σcovered."""
    c = table.c
    per_camera = (
        sa.select(
            *[c[n] for n in by],
            c.camera,
            sa.func.sum(c.person_seconds).label("ps"),
            sa.func.sum(c.covered_s).label("cov"),
        )
        .where(where)
        .group_by(*[c[n] for n in by], c.camera)
        .subquery()
    )
    p = per_camera.c
    ratio = sa.case((p.cov > 0, p.ps / p.cov), else_=0.0)
    rows = conn.execute(sa.select(*[p[n] for n in by], sa.func.sum(ratio)).group_by(*[p[n] for n in by]))
    return {tuple(row[:-1]): float(row[-1] or 0) for row in rows}


def footfall(
    conn: sa.Connection, store_ids: StoreIds, first: date, last: date, grain: str = "day"
) -> dict[tuple[str, date | datetime], int]:
    """(store, local date) → footfall over local dates [first, last]: line `in` counts, or
    zone entries for stores without lines; one query. With grain "hour" the key is (store,
    UTC instant the local hour starts)."""
    lines, zones = t.ROLLUPS[grain]["lines"], t.ROLLUPS[grain]["zones"]
    period = "local_date" if grain == "day" else "period_start"
    ld, zd = lines.c, zones.c
    with_lines = sa.select(t.lines.c.store_id).distinct()
    counted = (
        sa.select(ld.store_id, ld[period], sa.func.sum(ld.in_count))
        .where(days(lines, store_ids, first, last))
        .group_by(ld.store_id, ld[period])
    )
    entries = (
        sa.select(zd.store_id, zd[period], sa.func.sum(zd.entries))
        .where(days(zones, store_ids, first, last) & zd.store_id.not_in(with_lines))
        .group_by(zd.store_id, zd[period])
    )
    return {(s, d): int(n) for s, d, n in conn.execute(sa.union_all(counted, entries))}


def dwell(
    conn: sa.Connection, store_ids: StoreIds, first: date, last: date, by: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Completed stays per group of zone_days' `by` columns: count, mean (s), zone entries and
    the DWELL_BINS_S histogram."""
    zd = t.zone_days.c
    keys = [zd[n] for n in by]
    rows = conn.execute(
        sa.select(
            *keys,
            sa.func.sum(zd.dwell_count),
            sa.func.sum(zd.dwell_sum_s),
            sa.func.sum(zd.entries),
            *[sa.func.sum(zd[c]) for c in t.DWELL_COLUMNS],
        )
        .where(days(t.zone_days, store_ids, first, last))
        .group_by(*keys)
    )
    out = {}
    for row in rows:
        key, (count, total, entries, *bins) = tuple(row[: len(keys)]), row[len(keys) :]
        out[key] = dict(
            dwell_count=int(count or 0),
            mean_dwell_s=float(total) / count if count else None,
            entries=int(entries or 0),
            histogram=[int(b or 0) for b in bins],
        )
    return out


def mean_heat(rows: Sequence[Any]) -> tuple[float, np.ndarray]:
    """Mean people per floor cell over grid_days rows (camera, cell_m, covered_s, cells): each
    camera's person-seconds / its covered seconds, cameras added. Only the most common cell
    size is kept."""
    sizes = [r.cell_m for r in rows]
    if not sizes:
        return 0.5, np.zeros(0, packed.HEAT)
    cell_m = max(set(sizes), key=sizes.count)
    grids: dict[str, list[np.ndarray]] = defaultdict(list)
    covered: dict[str, float] = defaultdict(float)
    for r in rows:
        if r.cell_m == cell_m:
            grids[r.camera].append(packed.unpack(r.cells, packed.HEAT))
            covered[r.camera] += r.covered_s
    means = []
    for camera, parts in grids.items():
        grid = packed.merge(parts, packed.HEAT)
        grid["value"] /= max(covered[camera], 1e-9)
        means.append(grid)
    return cell_m, packed.merge(means, packed.HEAT)


def heat_cells(grid: np.ndarray) -> list[tuple[int, int, float]]:
    """A packed heat grid as [ix, iy, value] cells (values to 5 decimals)."""
    return [(int(c["ix"]), int(c["iy"]), round(float(c["value"]), 5)) for c in grid]


def simulated(conn: sa.Connection, store_ids: StoreIds, first: date, last: date) -> set[str]:
    """Stores with any simulated zone or heat data over the local dates."""
    queries = [
        sa.select(table.c.store_id).where(days(table, store_ids, first, last) & table.c.simulated)
        for table in (t.zone_days, t.grid_days)
    ]
    return set(conn.scalars(sa.union(*queries)))
