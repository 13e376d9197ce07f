"""What the store-live page shows, as one JSON-able dict: built from a LiveHub snapshot and the
store's plan, sent whole at page load and then on every SSE event (the browser only redraws).

Cameras merge two sources: the registry in the database (every camera that ever sent data,
with the end of its latest bucket) and the live hub (retained status, live messages, device
health). A camera that says "online" but has not been heard of for `STALE_AFTER_S` is shown as
"stale": a silent device whose last will has not fired yet must not look healthy.

Only the figure is shared between browsers (through the snapshot's memo, see dashboard.live):
zones and cameras are cheap and depend on the stream's registry read and on the clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dashboard import charts
from dashboard.alerts.evaluate import describe, queue_wait_s
from dashboard.charts import FloorGeometry
from dashboard.live import StoreSnapshot, later
from dashboard.read_models import Camera

STALE_AFTER_S = 30.0


def ago(when: datetime | None, now: datetime) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago' or 'never'."""
    if when is None:
        return "never"
    seconds = max(0.0, (now - _aware(when)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def live_state(
    geometry: FloorGeometry, snapshot: StoreSnapshot, registry: Sequence[Camera], now: datetime
) -> dict[str, Any]:
    """The live page's state (the JSON the page's script reads): figure, people, zones (with
    crowding) and cameras.

    `registry` is the store's cameras as the dashboard's registry knows them (`last_seen` naive
    UTC); `now` is aware UTC."""
    live = snapshot.live
    # The figure depends on the snapshot and the plan only, and costs ~50 ms: built once per
    # snapshot and plan, shared as JSON text by every open browser of the store (each reader
    # parses its own copy, so no request can alter another's).
    figure = snapshot.memo.get(
        ("live figure", geometry), lambda: charts.figure_json(charts.live_floor_figure(geometry, live))
    )
    occupancy = {z.zone: z.occupancy for z in live.zones} if live else {}
    zones = []
    for name in [z.name for z in geometry.zones] + sorted(set(occupancy) - {z.name for z in geometry.zones}):
        shape = geometry.zone(name)
        capacity = shape.capacity if shape else None
        count = occupancy.get(name, 0)
        load = charts.zone_load(count, capacity)
        zones.append(
            dict(
                zone=name,
                occupancy=count,
                capacity=capacity,
                load_pct=None if load is None else round(100 * load),
                crowded=bool(load is not None and load > 1.0),
            )
        )
    cameras = {}
    for row in registry:
        cameras[row.name] = dict(camera=row.name, status=row.status, seen=_aware(row.last_seen), health=None)
    for name, state in snapshot.cameras.items():
        have = cameras.setdefault(name, dict(camera=name, status="unknown", seen=None, health=None))
        if state.status != "unknown":
            have["status"] = state.status
        have["seen"] = later(have["seen"], state.last_seen)
        have["health"] = state.health
    for camera in cameras.values():
        seen = camera.pop("seen")
        if camera["status"] == "online" and (seen is None or (now - seen).total_seconds() > STALE_AFTER_S):
            camera["status"] = "stale"
        camera["last_seen"] = ago(seen, now)
    return dict(
        store=snapshot.store,
        version=snapshot.version,
        alerts=active_alerts(snapshot, now),
        queues=queues(geometry, snapshot),
        people=live.people if live else 0,
        updated=ago(live.sent_at, now) if live else "no live data yet",
        figure=json.loads(figure),
        zones=zones,
        cameras=sorted(cameras.values(), key=lambda c: c["camera"]),
    )


def active_alerts(snapshot: StoreSnapshot, now: datetime) -> list[dict[str, Any]]:
    """The store's active alerts, as its evaluator last published them (retained MQTT)."""
    rules = snapshot.alerts.rules if snapshot.alerts else []
    return [
        dict(
            rule=r.rule,
            text=describe(r.kind, r.zone, r.camera, r.value, r.threshold),
            since=ago(r.since, now),
            acknowledged=r.acknowledged,
        )
        for r in rules
        if r.state == "active"
    ]


def queues(geometry: FloorGeometry, snapshot: StoreSnapshot) -> list[dict[str, Any]]:
    """Each queue zone now: its length, its rate of people leaving and the wait that gives
    (Little's law: length ÷ rate)."""
    live = {z.zone: z for z in snapshot.live.zones} if snapshot.live else {}
    out = []
    for zone in geometry.zones:
        if zone.kind != "queue":
            continue
        now = live.get(zone.name)
        length = now.occupancy if now else 0
        rate = now.left_per_min if now else None
        wait_s = queue_wait_s(length, rate)
        out.append(
            dict(
                zone=zone.name,
                length=length,
                left_per_min=rate,
                wait_s=wait_s,
                wait="–"
                if wait_s is None
                else f"{wait_s:.0f} s"
                if wait_s < 90
                else f"{wait_s / 60:.1f} min",
            )
        )
    return out


def _aware(when: datetime | None) -> datetime | None:
    """The database's naive UTC as aware UTC (the hub's times are already aware)."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when
