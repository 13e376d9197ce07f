"""A store's camera health (uptime, frames, detector latency) per camera and local day."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import CameraHealth, CameraHealthDay, CameraHealthRange
from dashboard.repository.common import days, require_store

SUMS = (
    "covered_s",
    "span_s",
    "buckets",
    "degraded_buckets",
    "frames_read",
    "frames_analysed",
    "frames_dropped",
    "detector_ms_sum",
    "reconnects",
)


def camera_health(conn: sa.Connection, store_id: str, first: date, last: date) -> CameraHealth:
    """Each camera's health per local day, and over the whole range, with its current status
    (current cameras, and retired ones that reported in the range).

    `uptime` is the share of the received health buckets the camera was analysing (covered_s /
    span_s): a device that sent nothing at all has no bucket, so `buckets` tells how much of the
    day was heard from. `dropped_share` is frames dropped over frames read."""
    require_store(conn, store_id)
    h = t.health_days.c
    by_day = (
        conn.execute(
            sa.select(h.camera, h.local_date, *[h[n] for n in SUMS], h.detector_ms_max)
            .where(days(t.health_days, store_id, first, last))
            .order_by(h.camera, h.local_date)
        )
        .mappings()
        .all()
    )
    totals: dict[str, dict[str, Any]] = {}
    for day in by_day:
        total = totals.setdefault(day["camera"], dict.fromkeys(SUMS, 0) | dict(detector_ms_max=0.0))
        for name in SUMS:
            total[name] += day[name]
        total["detector_ms_max"] = max(total["detector_ms_max"], day["detector_ms_max"])
    c = t.cameras.c
    registered = conn.execute(  # current cameras, and retired ones that have days in the range
        sa.select(c.name, c.status, c.status_at, c.last_seen)
        .where((c.store_id == store_id) & (c.retired_at.is_(None) | c.name.in_(list(totals))))
        .order_by(c.name)
    ).all()
    cameras = [
        CameraHealthRange(
            camera=c.name,
            status=c.status,
            status_at=c.status_at,
            last_seen=c.last_seen,
            **(_health(totals[c.name]) if c.name in totals else {}),
        )
        for c in registered
    ]
    rows = [CameraHealthDay(camera=d["camera"], local_date=d["local_date"], **_health(d)) for d in by_day]
    return CameraHealth(store=store_id, first=first, last=last, cameras=cameras, days=rows)


def _health(sums: Mapping[str, Any] | sa.RowMapping) -> dict[str, Any]:
    """Shares and means from summed health columns."""
    return dict(
        uptime=sums["covered_s"] / sums["span_s"] if sums["span_s"] else None,
        heard_s=float(sums["span_s"]),
        buckets=int(sums["buckets"]),
        degraded_buckets=int(sums["degraded_buckets"]),
        frames_read=int(sums["frames_read"]),
        frames_analysed=int(sums["frames_analysed"]),
        dropped_share=sums["frames_dropped"] / sums["frames_read"] if sums["frames_read"] else None,
        detector_ms_mean=(
            sums["detector_ms_sum"] / sums["frames_analysed"] if sums["frames_analysed"] else None
        ),
        detector_ms_max=float(sums["detector_ms_max"]),
        reconnects=int(sums["reconnects"]),
    )
