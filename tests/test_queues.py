"""Queue zones: scripted tracks through the edge's zone analytics and live snapshot, merged as
the publisher does, read by the centre: the hand-computed length and wait (Little's law)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from dashboard.alerts.evaluate import Measure
from dashboard.charts import FloorGeometry, ZoneShape
from dashboard.live import LiveHub
from dashboard.live_view import queues
from edge.analytics import Live, Zones
from edge.live import merge
from edge.types import FloorObservation
from footfall_core.alerting import AlertRule
from footfall_core.store import FloorPlan, Zone

PLAN = FloorPlan(origin_m=(0.0, 0.0), width_m=20.0, height_m=10.0)
QUEUE = Zone(name="checkout", polygon_m=[(0, 0), (4, 0), (4, 4), (0, 4)], kind="queue")
SHELF = Zone(name="shelf", polygon_m=[(10, 0), (14, 0), (14, 4), (10, 4)])
INSIDE, OUTSIDE = (2.0, 2.0), (8.0, 8.0)
# track id: (first second inside, last second inside, or None while still queueing at 120 s)
TRACKS = {1: (0, 30), 2: (0, 60), 3: (0, None), 4: (40, None), 5: (90, None), 6: (100, 104)}


def frame(t_s: int) -> FloorObservation:
    points, ids = [], []
    for track, (first, last) in TRACKS.items():
        if t_s >= first:
            points.append(INSIDE if last is None or t_s <= last else OUTSIDE)
            ids.append(track)
    return FloorObservation(
        timestamp_s=1_767_258_000.0 + t_s,
        dt_s=1.0,
        floor_xy=np.asarray(points, dtype=float).reshape(-1, 2),
        track_id=np.asarray(ids),
    )


def test_scripted_queue_gives_the_hand_computed_length_and_wait():
    zones = Zones([QUEUE, SHELF], min_dwell_s=10, exit_grace_s=1.0, track_timeout_s=3.0, window_s=300)
    live = Live("shop-1", "cam-a", PLAN, [QUEUE, SHELF], cell_m=1.0, interval_s=2.0)
    sent = []
    for t_s in range(121):
        observation = frame(t_s)
        zones.observe(observation)
        message = live.observe(observation, zones.leaving_per_min(observation.timestamp_s))
        if message is not None:
            sent.append(message)
    last = merge("shop-1", 1.0, [sent[-1]])  # the publisher's merge of the store's cameras
    # By hand, at 120 s: tracks 3, 4 and 5 queue (6 stood inside 100-104 s and left, 5 s is
    # less than min_dwell_s but leaving is leaving); 1, 2 and 6 left: 3 people in the 120 s
    # observed (less than the 300 s window), 1.5 a minute; wait = 3 ÷ 1.5 a minute = 120 s.
    checkout = next(z for z in last.zones if z.zone == "checkout")
    assert (checkout.occupancy, checkout.left_per_min) == (3, 1.5)
    assert next(z for z in last.zones if z.zone == "shelf").left_per_min is None  # not a queue
    hub = LiveHub()
    hub.handle("footfall/v1/shop-1/live", last.to_json())
    geometry = FloorGeometry(20, 10, zones=(ZoneShape("checkout", QUEUE.polygon_m, None, "queue"),))
    [row] = queues(geometry, hub.snapshot("shop-1"))
    assert (row["zone"], row["length"], row["left_per_min"], row["wait_s"], row["wait"]) == (
        "checkout",
        3,
        1.5,
        120.0,
        "2.0 min",
    )
    rule = AlertRule(name="slow", kind="queue_wait", zone="checkout", threshold=100)
    now = datetime.now(UTC)
    assert Measure(started=now).value(rule, hub.snapshot("shop-1"), now) == 120.0
    # At 60 s only track 1 had left (at 30 s): 1 in 60 s, 1 a minute; 3 queueing (2, 3, 4): 180 s.
    at_60 = next(m for m in sent if m.sent_at.timestamp() == frame(60).timestamp_s)
    assert [(z.occupancy, z.left_per_min) for z in at_60.zones if z.zone == "checkout"] == [(3, 1.0)]


def test_leaving_older_than_the_window_no_longer_counts():
    zones = Zones([QUEUE], min_dwell_s=10, exit_grace_s=1.0, track_timeout_s=3.0, window_s=60)
    for t_s in range(122):
        zones.observe(frame(t_s))
    # the 60 s window ending at 120 s holds track 2's leaving (at 60 s, its edge) and track 6's
    # (at 104 s): 2 a minute; a second later track 2's is out of it
    assert zones.leaving_per_min(frame(120).timestamp_s) == {"checkout": 2.0}
    assert zones.leaving_per_min(frame(121).timestamp_s) == {"checkout": 1.0}
