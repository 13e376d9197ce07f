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


def test_the_weeks_waits_from_the_queue_zones_stays():
    from dashboard.read_models import ZoneWeek
    from dashboard.repository.queues import percentile_s, queue_weeks

    # 10 waits: 4 of 30-60 s, 4 of 60-120 s, 2 of 120-300 s (bins 0, 30, 60, 120, 300, ...)
    counts = [0, 4, 4, 2, 0, 0, 0, 0, 0]
    assert percentile_s(counts, 0.5) == 60 + (5 - 4) / 4 * 60  # the 5th of 10 is the first of 60-120 s
    assert percentile_s(counts, 0.9) == 120 + (9 - 8) / 2 * 180
    assert percentile_s([0] * 8 + [3], 0.5) == 3600  # in the open last bin: at least its edge
    assert percentile_s([0] * 9, 0.5) is None
    zones = [
        ZoneWeek(
            zone="checkout",
            mean_occupancy=1,
            max_occupancy=3,
            dwell_count=10,
            mean_dwell_s=80,
            entries=12,
            histogram=counts,
        )
    ]
    [checkout, idle] = queue_weeks(["checkout", "returns"], zones)
    assert (checkout.waits, checkout.mean_wait_s, checkout.p50_wait_s, checkout.p90_wait_s) == (
        10,
        80,
        75.0,
        210.0,
    )
    assert (idle.waits, idle.p50_wait_s, idle.histogram) == (0, None, [0] * 9)


def test_queue_waits_and_queues_now_in_the_api_csv_and_trends_page(tmp_path):
    from dashboard import auth, registry
    from dashboard.app import create_app
    from dashboard.settings import Settings
    from dashboard.storage import Storage
    from footfall_core.contract import ZonesAggregate, ZoneStats
    from footfall_core.store import StoreInfo
    from tests import pages_data
    from tests.test_pages import client_for

    url = f"sqlite:///{tmp_path / 'queues.sqlite3'}"
    storage = Storage(url)
    storage.migrate()
    with storage.engine.begin() as conn:
        registry.save(
            conn,
            registry.StoreRecord(
                store=StoreInfo(id="shop-1"), floor_plan=PLAN, zones=[QUEUE, SHELF], cameras=["cam-a"]
            ),
        )
        auth.add_user(conn, "hq", "hq", pages_data.PASSWORD)
    waits = [45.0, 50.0, 70.0, 200.0]  # bins 30-60 (2), 60-120 (1), 120-300 (1)
    storage.write_aggregates(
        [
            ZonesAggregate(
                store="shop-1",
                camera="cam-a",
                bucket_start=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
                bucket_s=3600,
                covered_s=3600,
                zones=[
                    ZoneStats(
                        zone="checkout",
                        mean_occupancy=2,
                        max_occupancy=4,
                        person_seconds=7200,
                        entries=4,
                        dwells_s=waits,
                    ),
                    ZoneStats(
                        zone="shelf",
                        mean_occupancy=1,
                        max_occupancy=2,
                        person_seconds=3600,
                        entries=2,
                        dwells_s=[400.0],
                    ),
                ],
            )
        ]
    )
    app = create_app(Settings(secure_cookies=False, db_url=url, secret_key="queue-tests-" + "Zq9x" * 10))
    hq = client_for(app, "hq")
    [week] = hq.get("/api/v1/stores/shop-1/trends?year=2026&week=10").json()["queues"]
    assert (week["zone"], week["waits"], week["mean_wait_s"]) == ("checkout", 4, sum(waits) / 4)
    assert week["histogram"][1:4] == [2, 1, 1] and week["p50_wait_s"] == 60.0  # the 2nd of 4 ends bin 30-60 s
    csv_rows = hq.get(
        "/api/v1/stores/shop-1/trends?year=2026&week=10&format=csv&table=queues"
    ).text.splitlines()
    assert csv_rows[0].startswith("zone,waits,mean_wait_s,p50_wait_s,p90_wait_s,waits_0s,waits_30s")
    assert csv_rows[1].startswith("checkout,4,91.25,60.0,")
    page = hq.get("/stores/shop-1/trends?week=2026-W10").text
    assert 'id="queue-waits"' in page and 'data-queue="checkout"' in page
    assert hq.get("/api/v1/stores/shop-1/queues").status_code == 503  # no broker configured
    app.state.live_hub = hub = LiveHub()
    zones = Zones([QUEUE, SHELF], min_dwell_s=10, exit_grace_s=1.0, track_timeout_s=3.0)
    live = Live("shop-1", "cam-a", PLAN, [QUEUE, SHELF], cell_m=1.0, interval_s=2.0)
    sent = []
    for t_s in range(121):
        zones.observe(frame(t_s))
        sent.append(live.observe(frame(t_s), zones.leaving_per_min(frame(t_s).timestamp_s)))
    hub.handle("footfall/v1/shop-1/live", [m for m in sent if m][-1].to_json())
    assert hq.get("/api/v1/stores/shop-1/queues").json() == [
        dict(zone="checkout", length=3, left_per_min=1.5, wait_s=120.0)
    ]
    assert hq.get("/api/v1/stores/shop-1/queues?format=csv").text.splitlines()[1] == "checkout,3,1.5,120.0"
