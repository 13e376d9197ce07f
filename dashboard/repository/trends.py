"""One store over one ISO week of its local time, against the week before: one query per panel
of the trends page (occupancy by hour, by weekday, by hour and weekday; zones; transitions;
walking directions; heat and its difference; footfall; dwell)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import sqlalchemy as sa

from dashboard import cells as packed
from dashboard import tables as t
from dashboard.read_models import TransitionCount, Trends, ZoneWeek
from dashboard.repository.common import (
    NotFound,
    days,
    footfall,
    heat_cells,
    mean_heat,
    occupancy,
    require_store,
    simulated,
)
from dashboard.repository.queues import queue_weeks, queue_zones


@dataclass(frozen=True)
class Week:
    """The store and its local dates: the week [first, last] and the week before from `before`."""

    store_id: str
    first: date
    last: date
    before: date

    def where(self, table: sa.Table, with_before: bool = False) -> sa.ColumnElement[bool]:
        return days(table, self.store_id, self.before if with_before else self.first, self.last)


def week_start(iso_year: int, iso_week: int) -> date:
    try:
        return date.fromisocalendar(iso_year, iso_week, 1)
    except ValueError as exc:
        raise NotFound(f"no ISO week {iso_year}-W{iso_week:02d}: {exc}") from None


def week_trends(conn: sa.Connection, store_id: str, iso_year: int, iso_week: int, top: int = 10) -> Trends:
    """The trends of `store_id` in ISO week `iso_week` of `iso_year`; `top` transitions."""
    require_store(conn, store_id)
    first = week_start(iso_year, iso_week)
    week = Week(store_id, first, first + timedelta(days=6), first - timedelta(days=7))
    cell_m, heat_now, heat_difference = _heat(conn, week)
    footfall, previous_footfall = _footfall(conn, week)
    mean_dwell_s, previous_mean_dwell_s = _dwell(conn, week)
    flow_cell_m, directions = _directions(conn, week)
    zones = _zones(conn, week)
    return Trends(
        store=store_id,
        simulated=bool(simulated(conn, store_id, week.before, week.last)),
        iso_year=iso_year,
        iso_week=iso_week,
        first=week.first,
        last=week.last,
        occupancy_by_hour=_by_hour(conn, week),
        occupancy_by_weekday=_by_weekday(conn, week),
        occupancy_hour_weekday=_by_hour_and_weekday(conn, week),
        zones=zones,
        queues=queue_weeks(queue_zones(conn, store_id), zones),
        dwell_bins_s=list(t.DWELL_BINS_S),
        transitions=_transitions(conn, week, top),
        flow_cell_m=flow_cell_m,
        direction_histogram=[int(v) for v in directions["value"].sum(0)] if len(directions) else [0] * 8,
        directions=[(int(c["ix"]), int(c["iy"]), [int(v) for v in c["value"]]) for c in directions],
        cell_m=cell_m,
        heat=heat_cells(heat_now),
        heat_difference=heat_cells(heat_difference),
        footfall=footfall,
        previous_footfall=previous_footfall,
        footfall_change=_change(footfall, previous_footfall),
        mean_dwell_s=mean_dwell_s,
        previous_mean_dwell_s=previous_mean_dwell_s,
        mean_dwell_change=_change(mean_dwell_s, previous_mean_dwell_s),
    )


def _change(now: float | None, before: float | None) -> float | None:
    return (now - before) / before if now is not None and before else None


def _by_hour(conn: sa.Connection, week: Week) -> list[float]:
    by_hour = occupancy(conn, t.grid_hours, week.where(t.grid_hours), ["local_hour"])
    return [by_hour.get((h,), 0.0) for h in range(24)]


def _by_weekday(conn: sa.Connection, week: Week) -> list[float]:
    by_day = occupancy(conn, t.grid_days, week.where(t.grid_days), ["local_weekday"])
    return [by_day.get((d,), 0.0) for d in range(7)]


def _by_hour_and_weekday(conn: sa.Connection, week: Week) -> list[list[float]]:
    both = occupancy(conn, t.grid_hours, week.where(t.grid_hours), ["local_weekday", "local_hour"])
    return [[both.get((d, h), 0.0) for h in range(24)] for d in range(7)]


def _zones(conn: sa.Connection, week: Week) -> list[ZoneWeek]:
    """Per zone: mean people present (Σ over cameras of Σps / Σcovered), the most at once, and
    its completed stays."""
    zd = t.zone_days.c
    sums = [zd.dwell_count, zd.dwell_sum_s, zd.entries, *[zd[c] for c in t.DWELL_COLUMNS]]
    per_camera = (
        sa.select(
            zd.zone,
            sa.func.sum(zd.person_seconds).label("ps"),
            sa.func.sum(zd.covered_s).label("cov"),
            sa.func.max(zd.max_occupancy).label("most"),
            *[sa.func.sum(c).label(c.name) for c in sums],
        )
        .where(week.where(t.zone_days))
        .group_by(zd.zone, zd.camera)
        .subquery()
    )
    p = per_camera.c
    rows = conn.execute(
        sa.select(
            p.zone,
            sa.func.sum(sa.case((p.cov > 0, p.ps / p.cov), else_=0.0)),
            sa.func.max(p.most),
            *[sa.func.sum(p[c.name]) for c in sums],
        )
        .group_by(p.zone)
        .order_by(p.zone)
    )
    zones = []
    for zone, mean, most, count, total_s, entries, *bins in rows:
        count = int(count or 0)  # PostgreSQL sums sums as numeric
        zones.append(
            ZoneWeek(
                zone=zone,
                mean_occupancy=float(mean or 0),
                max_occupancy=int(most or 0),
                dwell_count=count,
                mean_dwell_s=float(total_s) / count if count else None,
                entries=int(entries or 0),
                histogram=[int(b or 0) for b in bins],
            )
        )
    return zones


def _transitions(conn: sa.Connection, week: Week, top: int) -> list[TransitionCount]:
    td = t.transition_days.c
    rows = conn.execute(
        sa.select(td.from_zone, td.to_zone, sa.func.sum(td.count).label("n"))
        .where(week.where(t.transition_days))
        .group_by(td.from_zone, td.to_zone)
        .order_by(sa.desc("n"), td.from_zone, td.to_zone)
        .limit(top)
    )
    return [TransitionCount(from_zone=a, to_zone=b, count=int(n)) for a, b, n in rows]


def _directions(conn: sa.Connection, week: Week) -> tuple[float | None, np.ndarray]:
    """The week's walking directions on the most common flow cell size (none: None and an
    empty grid)."""
    dd = t.direction_days.c
    rows = conn.execute(sa.select(dd.flow_cell_m, dd.cells).where(week.where(t.direction_days))).all()
    sizes = [r.flow_cell_m for r in rows]
    flow_cell_m = max(set(sizes), key=sizes.count) if sizes else None
    grids = [packed.unpack(r.cells, packed.DIRECTIONS) for r in rows if r.flow_cell_m == flow_cell_m]
    return flow_cell_m, packed.merge(grids, packed.DIRECTIONS)


def _heat(conn: sa.Connection, week: Week) -> tuple[float, np.ndarray, np.ndarray]:
    """The week's cell size, mean heat grid, and its difference from the week before's."""
    gd = t.grid_days.c
    rows = conn.execute(
        sa.select(gd.local_date, gd.camera, gd.cell_m, gd.covered_s, gd.cells).where(
            week.where(t.grid_days, with_before=True)
        )
    ).all()
    cell_m, now = mean_heat([r for r in rows if r.local_date >= week.first])
    _, before = mean_heat([r for r in rows if r.local_date < week.first])
    before["value"] *= -1
    return cell_m, now, packed.merge([now, before], packed.HEAT)


def _footfall(conn: sa.Connection, week: Week) -> tuple[int, int]:
    """People in this week and the week before."""
    by_day = footfall(conn, week.store_id, week.before, week.last)
    now = sum(n for (_, d), n in by_day.items() if d >= week.first)
    return now, sum(by_day.values()) - now


def _dwell(conn: sa.Connection, week: Week) -> tuple[float | None, float | None]:
    """Mean completed stay (s) over the store's zones this week and the week before."""
    zd = t.zone_days.c
    this_week = sa.case((zd.local_date >= week.first, 1), else_=0).label("this_week")
    rows = conn.execute(
        sa.select(this_week, sa.func.sum(zd.dwell_count), sa.func.sum(zd.dwell_sum_s))
        .where(week.where(t.zone_days, with_before=True))
        .group_by(this_week)
    )
    means = {bool(now): float(total) / count if count else None for now, count, total in rows}
    return means.get(True), means.get(False)
