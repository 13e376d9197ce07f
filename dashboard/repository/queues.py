"""Queue zones' waits over a week: each completed stay in a queue zone (of at least the
store's `min_dwell_s`) is one wait, kept in the zone's dwell histogram (DWELL_BINS_S)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import QueueWeek, ZoneWeek


def queue_zones(conn: sa.Connection, store_id: str) -> list[str]:
    """The store's current queue zones (`kind: queue`), by name."""
    z = t.zones.c
    return list(
        conn.scalars(
            sa.select(z.name)
            .where((z.store_id == store_id) & (z.kind == "queue") & z.retired_at.is_(None))
            .order_by(z.name)
        )
    )


def percentile_s(counts: Sequence[int], q: float, edges_s: Sequence[float] = t.DWELL_BINS_S) -> float | None:
    """The q-quantile (0..1) of waits binned by `edges_s`, linear within its bin; a quantile in
    the last, open bin is given as its lower edge (at least that long). None without waits."""
    total = sum(counts)
    if not total:
        return None
    target, seen = q * total, 0
    for k, count in enumerate(counts):
        if count and seen + count >= target:
            if k == len(edges_s) - 1:
                return float(edges_s[k])
            return edges_s[k] + (target - seen) / count * (edges_s[k + 1] - edges_s[k])
        seen += count
    return float(edges_s[-1])


def queue_weeks(queues: Sequence[str], zones: Sequence[ZoneWeek]) -> list[QueueWeek]:
    """Each queue zone's week of waits from the week's zone rows (a queue without any is all
    zeros)."""
    by_name = {z.zone: z for z in zones}
    out = []
    for name in queues:
        zone = by_name.get(name)
        counts = zone.histogram if zone else [0] * len(t.DWELL_BINS_S)
        out.append(
            QueueWeek(
                zone=name,
                waits=zone.dwell_count if zone else 0,
                mean_wait_s=zone.mean_dwell_s if zone else None,
                p50_wait_s=percentile_s(counts, 0.5),
                p90_wait_s=percentile_s(counts, 0.9),
                histogram=list(counts),
            )
        )
    return out
