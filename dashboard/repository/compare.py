"""Every store a user may see over a date range, ranked by footfall."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import Comparison, StoreRanking
from dashboard.repository.common import area, days, dwell, footfall, occupancy, simulated, store_rows
from dashboard.repository.sales import conversion_hours
from footfall_core.audit import line_accuracy
from footfall_core.store import LineAudit


def compare_stores(
    conn: sa.Connection,
    first: date,
    last: date,
    store_ids: Collection[str] | None = None,
    region: str | None = None,
    tag: str | None = None,
) -> Comparison:
    """Every store (allowed, matching region/tag) over local dates [first, last], ranked by footfall."""
    chosen = store_rows(conn, store_ids, region, tag)
    with_lines = set(conn.scalars(sa.select(t.lines.c.store_id).distinct()))
    # Always by store id: the (store_id, local_date) indexes then serve the date range too.
    ids = [s["id"] for s in chosen]
    people_in = footfall(conn, ids, first, last)
    mean_people = occupancy(conn, t.grid_days, days(t.grid_days, ids, first, last), ["store_id"])
    hourly = occupancy(conn, t.grid_hours, days(t.grid_hours, ids, first, last), ["store_id", "local_hour"])
    peak: dict[str, tuple[int, float]] = {}
    for (store_id, hour), mean in hourly.items():
        if mean > peak.get(store_id, (-1, -1.0))[1]:
            peak[store_id] = (hour, mean)
    stays = dwell(conn, ids, first, last, ["store_id"])
    fake = simulated(conn, ids, first, last)
    h = t.health_days.c
    uptime: dict[str, Any] = dict(
        conn.execute(  # its cameras' analysed share of the time they reported on
            sa.select(h.store_id, sa.func.sum(h.covered_s) / sa.func.nullif(sa.func.sum(h.span_s), 0))
            .where(days(t.health_days, ids, first, last))
            .group_by(h.store_id)
        ).all()
    )
    sold: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # store → [transactions, footfall]
    for hour in conversion_hours(conn, ids, first, last):
        sold[hour["store_id"]][0] += hour["transactions"]
        sold[hour["store_id"]][1] += hour["footfall"]
    all_days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    audits = audited(conn, ids)
    rows = []
    for s in chosen:
        people = mean_people.get((s["id"],))
        daily = [people_in.get((s["id"], d), 0) for d in all_days]
        bought, counted = sold.get(s["id"], (None, 0))
        store_area = area(s)
        rows.append(
            dict(
                store=s["id"],
                name=s["name"] or s["id"],
                region=s["region"],
                tags=list(s["tags"] or []),
                area_m2=store_area,
                footfall=sum(daily),
                footfall_by_day=daily,
                mean_occupancy=people,
                occupancy_per_m2=people / store_area if people is not None and store_area else None,
                peak_hour=peak[s["id"]][0] if s["id"] in peak else None,
                mean_dwell_s=stays.get((s["id"],), {}).get("mean_dwell_s"),
                uptime=_float(uptime.get(s["id"])),
                footfall_source="lines" if s["id"] in with_lines else "zone entries",
                transactions=bought,
                conversion=bought / counted if bought is not None and counted else None,
                simulated=s["id"] in fake,
                **audits.get(s["id"], dict.fromkeys(AUDIT_FIELDS)),
            )
        )
    rows.sort(key=lambda r: (-r["footfall"], r["store"]))
    ranked = [StoreRanking(**row, rank=rank) for rank, row in enumerate(rows, 1)]
    return Comparison(first=first, last=last, days=all_days, stores=ranked)


AUDIT_FIELDS = ("audited_on", "audited_crossings", "audited_line_accuracy", "audited_low", "audited_high")


def audited(conn: sa.Connection, store_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """Per store, the line accuracy of its cameras' latest on-site audits taken together."""
    a = t.line_audits.c
    lines: dict[str, list[LineAudit]] = defaultdict(list)
    latest: dict[str, date] = {}
    query = sa.select(t.line_audits).where(a.store_id.in_(store_ids)).order_by(a.store_id, a.camera, a.line)
    for row in conn.execute(query).mappings():
        counts = {k: row[k] for k in ("line", "marked_in", "marked_out", "counted_in", "counted_out")}
        lines[row["store_id"]].append(LineAudit(**counts))
        latest[row["store_id"]] = max(row["audited_on"], latest.get(row["store_id"], row["audited_on"]))
    out = {}
    for store_id, audit in lines.items():
        figures = line_accuracy(audit)
        out[store_id] = dict(
            audited_on=latest[store_id],
            audited_crossings=figures.marked,
            audited_line_accuracy=figures.accuracy,
            audited_low=figures.low,
            audited_high=figures.high,
        )
    return out


def _float(value: Any) -> float | None:
    """A database number (PostgreSQL's numeric arrives as Decimal) as a float; None stays None."""
    return None if value is None else float(value)
