"""A store's newest stored minute per zone (the live MQTT stream is dashboard.live's)."""

from __future__ import annotations

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import LiveZones, ZoneMinute
from dashboard.repository.stores import get_store


def live_zones(conn: sa.Connection, store_id: str) -> LiveZones:
    """The newest minute bucket of each current zone (summed over cameras) and the cameras' status."""
    zm, z = t.zone_minutes.c, t.zones.c
    retired = sa.select(z.name).where((z.store_id == store_id) & z.retired_at.is_not(None))
    latest = (
        sa.select(zm.zone, sa.func.max(zm.bucket_start).label("bucket_start"))
        .where((zm.store_id == store_id) & zm.zone.not_in(retired))
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
    info = get_store(conn, store_id)
    capacity = {zone.name: zone.capacity for zone in info.zones}
    return LiveZones(
        store=store_id,
        cameras=info.cameras,
        zones=[
            ZoneMinute(
                zone=name,
                bucket_start=start,
                mean_occupancy=float(mean),
                max_occupancy=int(most),
                entries=int(entries),
                capacity=capacity.get(name),
            )
            for name, start, mean, most, entries in rows
        ],
    )
