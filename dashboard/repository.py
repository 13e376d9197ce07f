"""Every read query of the JSON API, on the hour and day rollups (never raw minutes, except
the latest bucket of the live state). Results are plain JSON-ready dicts and lists.

Definitions (docs/storage.md):
- mean occupancy (people present): person_seconds / covered_s, per camera, summed over
  cameras (each camera owns its part of the floor); store level from the heat grid totals;
- footfall: people walking in = Σ in_count over the store's lines; a store with no line
  falls back to Σ zone entries (an upper bound: one visitor entering two zones counts twice);
- congestion per m²: mean occupancy / store area_m2 (width × height if no area was given);
- dwell: completed zone stays of at least min_dwell_s (count, mean, DWELL_BINS_S histogram);
- weeks are ISO weeks of the store's local dates, Monday first; hours are local hours.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np
import sqlalchemy as sa

from dashboard import cells as packed
from dashboard import tables as t


class NotFound(LookupError):
    """A store (or other named thing) that does not exist; the message names it."""


def _area(row) -> float | None:
    return row["area_m2"] or ((row["width_m"] or 0) * (row["height_m"] or 0)) or None


def _store_rows(conn: sa.Connection, ids: set[str] | None, region: str | None, tag: str | None) -> list:
    s = t.stores.c
    query = sa.select(t.stores).order_by(s.id)
    if ids is not None:
        query = query.where(s.id.in_(ids))
    if region:
        query = query.where(s.region == region)
    return [r for r in conn.execute(query).mappings() if not tag or tag in (r["tags"] or [])]


def stores(
    conn: sa.Connection, ids: set[str] | None = None, region: str | None = None, tag: str | None = None
) -> list[dict]:
    """The registry: stores (those in `ids` if given) with zones, lines and cameras."""
    rows = _store_rows(conn, ids, region, tag)
    wanted = [r["id"] for r in rows]
    children: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for name, table in (("zones", t.zones), ("lines", t.lines), ("cameras", t.cameras)):
        for child in conn.execute(
            sa.select(table).where(table.c.store_id.in_(wanted)).order_by(table.c.store_id, table.c.name)
        ).mappings():
            child = dict(child)
            children[child.pop("store_id")][name].append(child)
    return [
        dict(
            id=r["id"],
            name=r["name"] or r["id"],
            region=r["region"],
            tags=list(r["tags"] or []),
            timezone=r["timezone"],
            area_m2=_area(r),
            auto_registered=r["auto_registered"],
            simulated=r["simulated"],
            floor_plan=dict(
                origin_m=[r["origin_x_m"], r["origin_y_m"]],
                width_m=r["width_m"],
                height_m=r["height_m"],
                image=r["plan_image"],
            ),
            zones=children[r["id"]]["zones"],
            lines=children[r["id"]]["lines"],
            cameras=children[r["id"]]["cameras"],
        )
        for r in rows
    ]


def store(conn: sa.Connection, store_id: str) -> dict:
    found = stores(conn, {store_id})
    if not found:
        raise NotFound(f"no store {store_id!r}")
    return found[0]


def live(conn: sa.Connection, store_id: str) -> dict:
    """The newest minute bucket of each zone (summed over cameras) and the cameras' status."""
    zm = t.zone_minutes.c
    latest = (
        sa.select(zm.zone, sa.func.max(zm.bucket_start).label("bucket_start"))
        .where(zm.store_id == store_id)
        .group_by(zm.zone)
        .subquery()
    )
    rows = conn.execute(
        sa.select(
            zm.zone,
            zm.bucket_start,
            sa.func.sum(zm.mean_occupancy),
            sa.func.sum(zm.max_occupancy),
            sa.func.sum(zm.entries),
        )
        .join(latest, (zm.zone == latest.c.zone) & (zm.bucket_start == latest.c.bucket_start))
        .where(zm.store_id == store_id)
        .group_by(zm.zone, zm.bucket_start)
        .order_by(zm.zone)
    ).all()
    info = store(conn, store_id)
    capacity = {z["name"]: z["capacity"] for z in info["zones"]}
    return dict(
        store=store_id,
        cameras=info["cameras"],
        zones=[
            dict(
                zone=z,
                bucket_start=b,
                mean_occupancy=float(mean),
                max_occupancy=int(mx),
                entries=int(n),
                capacity=capacity.get(z),
            )
            for z, b, mean, mx, n in rows
        ],
    )


def _days(table: sa.Table, store_ids, first: date, last: date):
    where = (table.c.local_date >= first) & (table.c.local_date <= last)
    if isinstance(store_ids, str):
        return where & (table.c.store_id == store_ids)
    return where if store_ids is None else where & table.c.store_id.in_(store_ids)


def _occupancy(conn: sa.Connection, table: sa.Table, where, by: list[str]) -> dict[tuple, float]:
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


def _footfall_by_day(conn: sa.Connection, store_ids, first: date, last: date) -> dict[tuple[str, date], int]:
    """(store, local date) → footfall: line `in` counts, or zone entries for stores without lines."""
    ld, zd = t.line_days.c, t.zone_days.c
    out = {
        (s, d): int(n)
        for s, d, n in conn.execute(
            sa.select(ld.store_id, ld.local_date, sa.func.sum(ld.in_count))
            .where(_days(t.line_days, store_ids, first, last))
            .group_by(ld.store_id, ld.local_date)
        )
    }
    with_lines = sa.select(t.lines.c.store_id).distinct()
    fallback = (
        sa.select(zd.store_id, zd.local_date, sa.func.sum(zd.entries))
        .where(_days(t.zone_days, store_ids, first, last) & zd.store_id.not_in(with_lines))
        .group_by(zd.store_id, zd.local_date)
    )
    out.update({(s, d): int(n) for s, d, n in conn.execute(fallback)})
    return out


def _dwell(conn: sa.Connection, store_ids, first: date, last: date, by_zone: bool) -> dict:
    zd = t.zone_days.c
    keys = [zd.store_id, zd.zone] if by_zone else [zd.store_id]
    rows = conn.execute(
        sa.select(
            *keys,
            sa.func.sum(zd.dwell_count),
            sa.func.sum(zd.dwell_sum_s),
            sa.func.sum(zd.entries),
            *[sa.func.sum(zd[c]) for c in t.DWELL_COLUMNS],
        )
        .where(_days(t.zone_days, store_ids, first, last))
        .group_by(*keys)
    )
    out = {}
    for row in rows:
        key, (count, total, entries, *bins) = tuple(row[: len(keys)]), row[len(keys) :]
        out[key if by_zone else key[0]] = dict(
            dwell_count=int(count or 0),
            mean_dwell_s=float(total) / count if count else None,
            entries=int(entries or 0),
            histogram=[int(b or 0) for b in bins],
        )
    return out


def _heat(conn: sa.Connection, store_id: str, first: date, last: date) -> tuple[float, np.ndarray]:
    """Mean people per floor cell over the days: each camera's person-seconds / its covered
    seconds, cameras added. Only the most common cell size is kept."""
    gd = t.grid_days.c
    rows = conn.execute(
        sa.select(gd.camera, gd.cell_m, gd.covered_s, gd.cells).where(
            _days(t.grid_days, store_id, first, last)
        )
    ).all()
    sizes = [r.cell_m for r in rows]
    if not sizes:
        return 0.5, np.zeros(0, packed.HEAT)
    cell_m = max(set(sizes), key=sizes.count)
    grids, covered = defaultdict(list), defaultdict(float)
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


def heat(conn: sa.Connection, store_id: str, first: date, last: date) -> dict:
    cell_m, grid = _heat(conn, store_id, first, last)
    return dict(
        store=store_id,
        first=first,
        last=last,
        cell_m=cell_m,
        unit="mean people per cell",
        cells=[[int(c["ix"]), int(c["iy"]), round(float(c["value"]), 5)] for c in grid],
    )


def _change(now: float | None, before: float | None) -> float | None:
    return (now - before) / before if now is not None and before else None


def week_start(iso_year: int, iso_week: int) -> date:
    try:
        return date.fromisocalendar(iso_year, iso_week, 1)
    except ValueError as exc:
        raise NotFound(f"no ISO week {iso_year}-W{iso_week:02d}: {exc}") from None


def trends(conn: sa.Connection, store_id: str, iso_year: int, iso_week: int, top: int = 10) -> dict:
    """One store over one ISO week, and how it compares with the week before."""
    simulated = conn.scalar(sa.select(t.stores.c.simulated).where(t.stores.c.id == store_id))
    if simulated is None:
        raise NotFound(f"no store {store_id!r}")
    first = week_start(iso_year, iso_week)
    last, prev = first + timedelta(days=6), first - timedelta(days=7)
    gh = t.grid_hours
    hw = _occupancy(conn, gh, _days(gh, store_id, first, last), ["local_weekday", "local_hour"])
    by_hour = _occupancy(conn, gh, _days(gh, store_id, first, last), ["local_hour"])
    by_day = _occupancy(conn, t.grid_days, _days(t.grid_days, store_id, first, last), ["local_weekday"])
    zone_occ = _occupancy(conn, t.zone_days, _days(t.zone_days, store_id, first, last), ["zone"])
    zmax = dict(
        conn.execute(
            sa.select(t.zone_days.c.zone, sa.func.max(t.zone_days.c.max_occupancy))
            .where(_days(t.zone_days, store_id, first, last))
            .group_by(t.zone_days.c.zone)
        ).all()
    )
    dwell = _dwell(conn, store_id, first, last, by_zone=True)
    td = t.transition_days.c
    transitions = conn.execute(
        sa.select(td.from_zone, td.to_zone, sa.func.sum(td.count).label("n"))
        .where(_days(t.transition_days, store_id, first, last))
        .group_by(td.from_zone, td.to_zone)
        .order_by(sa.desc("n"), td.from_zone, td.to_zone)
        .limit(top)
    ).all()
    dd = t.direction_days.c
    direction_rows = conn.execute(
        sa.select(dd.flow_cell_m, dd.cells).where(_days(t.direction_days, store_id, first, last))
    ).all()
    sizes = [r.flow_cell_m for r in direction_rows]
    flow_cell_m = max(set(sizes), key=sizes.count) if sizes else None
    directions = packed.merge(
        [packed.unpack(r.cells, packed.DIRECTIONS) for r in direction_rows if r.flow_cell_m == flow_cell_m],
        packed.DIRECTIONS,
    )
    cell_m, heat_now = _heat(conn, store_id, first, last)
    _, heat_before = _heat(conn, store_id, prev, prev + timedelta(days=6))
    before = heat_before.copy()
    before["value"] *= -1
    difference = packed.merge([heat_now, before], packed.HEAT)
    footfall = _footfall_by_day(conn, store_id, prev, last)
    week_footfall = sum(n for (_, d), n in footfall.items() if d >= first)
    prev_footfall = sum(n for (_, d), n in footfall.items() if d < first)
    dwell_now = _dwell(conn, store_id, first, last, by_zone=False).get(store_id, {})
    dwell_prev = _dwell(conn, store_id, prev, first - timedelta(days=1), by_zone=False).get(store_id, {})
    return dict(
        store=store_id,
        simulated=simulated,
        iso_year=iso_year,
        iso_week=iso_week,
        first=first,
        last=last,
        occupancy_by_hour=[by_hour.get((h,), 0.0) for h in range(24)],
        occupancy_by_weekday=[by_day.get((d,), 0.0) for d in range(7)],
        occupancy_hour_weekday=[[hw.get((d, h), 0.0) for h in range(24)] for d in range(7)],
        zones=[
            dict(
                zone=z,
                mean_occupancy=zone_occ.get((z,), 0.0),
                max_occupancy=int(zmax.get(z) or 0),
                **dwell.get(
                    (store_id, z),
                    dict(dwell_count=0, mean_dwell_s=None, entries=0, histogram=[0] * len(t.DWELL_BINS_S)),
                ),
            )
            for z in sorted({k[0] for k in zone_occ} | {k[1] for k in dwell})
        ],
        dwell_bins_s=list(t.DWELL_BINS_S),
        transitions=[dict(from_zone=a, to_zone=b, count=int(n)) for a, b, n in transitions],
        flow_cell_m=flow_cell_m,
        direction_histogram=[int(v) for v in directions["value"].sum(0)] if len(directions) else [0] * 8,
        directions=[[int(c["ix"]), int(c["iy"]), [int(v) for v in c["value"]]] for c in directions],
        cell_m=cell_m,
        heat=[[int(c["ix"]), int(c["iy"]), round(float(c["value"]), 5)] for c in heat_now],
        heat_difference=[[int(c["ix"]), int(c["iy"]), round(float(c["value"]), 5)] for c in difference],
        footfall=week_footfall,
        previous_footfall=prev_footfall,
        footfall_change=_change(week_footfall, prev_footfall),
        mean_dwell_s=dwell_now.get("mean_dwell_s"),
        previous_mean_dwell_s=dwell_prev.get("mean_dwell_s"),
        mean_dwell_change=_change(dwell_now.get("mean_dwell_s"), dwell_prev.get("mean_dwell_s")),
    )


def compare(
    conn: sa.Connection,
    first: date,
    last: date,
    store_ids: set[str] | None = None,
    region: str | None = None,
    tag: str | None = None,
) -> dict:
    """Every store (allowed, matching region/tag) over local dates [first, last], ranked by footfall."""
    chosen = _store_rows(conn, store_ids, region, tag)
    with_lines = set(conn.scalars(sa.select(t.lines.c.store_id).distinct()))
    # Always by store id: the (store_id, local_date) indexes then serve the date range too.
    ids = [s["id"] for s in chosen]
    footfall = _footfall_by_day(conn, ids, first, last)
    occupancy = _occupancy(conn, t.grid_days, _days(t.grid_days, ids, first, last), ["store_id"])
    hourly = _occupancy(conn, t.grid_hours, _days(t.grid_hours, ids, first, last), ["store_id", "local_hour"])
    peak: dict[str, tuple[int, float]] = {}
    for (store_id, hour), people in hourly.items():
        if people > peak.get(store_id, (None, -1.0))[1]:
            peak[store_id] = (hour, people)
    dwell = _dwell(conn, ids, first, last, by_zone=False)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    rows = []
    for s in chosen:
        people = occupancy.get((s["id"],))
        daily = [footfall.get((s["id"], d), 0) for d in days]
        area = _area(s)
        rows.append(
            dict(
                store=s["id"],
                name=s["name"] or s["id"],
                region=s["region"],
                tags=list(s["tags"] or []),
                area_m2=area,
                footfall=sum(daily),
                footfall_by_day=daily,
                mean_occupancy=people,
                occupancy_per_m2=people / area if people is not None and area else None,
                peak_hour=peak.get(s["id"], (None,))[0],
                mean_dwell_s=dwell.get(s["id"], {}).get("mean_dwell_s"),
                footfall_source="lines" if s["id"] in with_lines else "zone entries",
                simulated=s["simulated"],
            )
        )
    rows.sort(key=lambda r: (-r["footfall"], r["store"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return dict(first=first, last=last, days=days, stores=rows)


EXPORTS = {
    table.name: table
    for grain in t.ROLLUPS.values()
    for table in grain.values()
    if table not in (t.direction_hours, t.direction_days)
}


def export(
    conn: sa.Connection, dataset: str, store_ids: set[str] | None, first: date, last: date
) -> list[dict]:
    """Rows of one rollup table over local dates [first, last] (packed grids left out)."""
    table = EXPORTS.get(dataset)
    if table is None:
        raise NotFound(f"no dataset {dataset!r} (have {', '.join(sorted(EXPORTS))})")
    columns = [c for c in table.c if c.name != "cells"]
    query = (
        sa.select(*columns)
        .where(_days(table, store_ids, first, last))
        .order_by(table.c.store_id, table.c.local_date, *table.primary_key.columns)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
