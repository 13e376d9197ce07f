"""The edge publisher against a real Mosquitto: outbox drained in order as the centre confirms,
status, live, health."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from edge.live import LiveMerger
from edge.outbox import Outbox
from edge.publisher import NO_MATCHING_SUBSCRIBERS, Publisher
from footfall_core.contract import LiveMessage, LiveZone, device_status_topic, parse_aggregate
from footfall_core.store import Mqtt
from tests.transport_support import Collector, make_aggregates, wait_until


def _publisher(
    broker, tmp_path, cameras=("cam1", "cam2"), confirm_timeout_s=60.0, window=10, **kwargs
) -> Publisher:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    settings = Mqtt(url=broker.url, health_interval_s=0.5, confirm_timeout_s=confirm_timeout_s)
    return Publisher(
        settings, "shop-1", list(cameras), outbox, client_id="edge-shop-1", window=window, **kwargs
    )


def test_publishes_every_aggregate_in_order_and_empties_the_outbox(broker, tmp_path):
    collector = Collector(broker.url, "footfall/v1/#", confirm=True)
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=10)
    publisher = _publisher(broker, tmp_path)
    reports = []
    publisher.on_health = reports.append
    publisher.start()
    for message in messages:
        assert publisher.publish_aggregate(message)
    assert publisher.drain(20), f"outbox still holds {publisher.outbox.depth}"
    assert wait_until(lambda: sum(t.endswith("/agg") for t, _ in collector.messages) >= len(messages), 10)
    got = [parse_aggregate(p, t).id for t, p in collector.messages if t.endswith("/agg")]
    assert got == [m.id for m in messages], "one connection, QoS 1, a window fed oldest first: order kept"
    assert publisher.published == len(messages)
    assert wait_until(lambda: any(t == "footfall/v1/shop-1/health" for t, _ in collector.messages), 5)
    health = json.loads([p for t, p in collector.messages if t == "footfall/v1/shop-1/health"][-1])
    assert health["connected"] is True and health["cameras"] == {"cam1": "ok", "cam2": "ok"}
    assert reports and reports[-1].connected and reports[-1].store == "shop-1"
    publisher.close()
    collector.close()


def test_status_is_retained_online_then_offline_when_the_device_dies(broker, tmp_path):
    publisher = _publisher(broker, tmp_path).start()
    assert wait_until(lambda: publisher.connected, 10)
    late = Collector(broker.url, device_status_topic("shop-1"), client_id="late")  # retained: comes late too
    assert wait_until(lambda: late.messages, 5)
    online = json.loads(late.messages[-1][1])
    assert online["status"] == "online" and online["cameras"] == ["cam1", "cam2"] and online["sent_at"]
    late.close()
    publisher.client.loop_stop()  # a dead device: the socket drops without a DISCONNECT, the will fires
    publisher.client.socket().close()
    after = Collector(broker.url, device_status_topic("shop-1"), client_id="after")
    assert wait_until(lambda: any(json.loads(p)["status"] == "offline" for _, p in after.messages), 10)
    offline = json.loads(after.messages[-1][1])
    assert offline == {
        "schema_version": 1,
        "store": "shop-1",
        "status": "offline",
        "cameras": ["cam1", "cam2"],
    }
    after.close()
    publisher.close()


def test_a_clean_stop_says_offline(broker, tmp_path):
    publisher = _publisher(broker, tmp_path).start()
    assert wait_until(lambda: publisher.connected, 10)
    publisher.close()
    after = Collector(broker.url, device_status_topic("shop-1"), client_id="after")
    assert wait_until(lambda: after.messages, 5)
    offline = json.loads(after.messages[-1][1])
    assert offline["status"] == "offline" and offline["sent_at"], "said by the device, with the time"
    after.close()


def test_acknowledged_but_unconfirmed_aggregates_are_sent_again(broker, tmp_path):
    """A broker's PUBACK is not enough: a row leaves the outbox only on the centre's word."""
    messages = make_aggregates("shop-1", ["cam1"], buckets=2)
    silent = Collector(broker.url, "footfall/v1/+/+/agg", client_id="silent")  # receives, never confirms
    publisher = _publisher(broker, tmp_path, cameras=("cam1",), confirm_timeout_s=0.5).start()
    for message in messages:
        publisher.publish_aggregate(message)
    assert wait_until(lambda: len(silent.messages) >= 2 * len(messages), 10), "sent again after the timeout"
    assert publisher.outbox.depth == len(messages), "nothing deleted on a PUBACK alone"
    assert publisher.delivery.resent >= len(messages)
    silent.close()
    confirming = Collector(broker.url, "footfall/v1/+/+/agg", client_id="confirming", confirm=True)
    assert publisher.drain(20), "confirmed at the next round, after the doubled timeout"
    publisher.close()
    confirming.close()


def test_live_snapshots_are_merged_and_dropped_while_offline(broker, tmp_path):
    merger = LiveMerger("shop-1", cell_m=1.0, interval_s=0.2)
    publisher = _publisher(broker, tmp_path, live=merger).start()
    assert wait_until(lambda: publisher.connected, 10)
    collector = Collector(broker.url, "footfall/v1/shop-1/live")
    now = datetime.now(UTC)
    for camera, people, cell in (("cam1", 2, (1, 1, 2)), ("cam2", 3, (1, 1, 3))):
        publisher.camera_live(
            LiveMessage(
                store="shop-1",
                sent_at=now,
                cell_m=1.0,
                people=people,
                zones=[LiveZone(zone="entrance", occupancy=people)],
                cells=[cell],
                cameras=[camera],
            )
        )
    assert wait_until(
        lambda: any(json.loads(p)["cameras"] == ["cam1", "cam2"] for _, p in collector.messages), 5
    )
    merged = [json.loads(p) for _, p in collector.messages if json.loads(p)["cameras"] == ["cam1", "cam2"]][
        -1
    ]
    assert merged["people"] == 5 and merged["cells"] == [[1, 1, 5]]
    assert merged["zones"] == [{"zone": "entrance", "occupancy": 5}]
    broker.stop()
    assert wait_until(lambda: not publisher.connected, 10)
    assert not publisher.publish_live(
        LiveMessage(store="shop-1", sent_at=now, cell_m=1.0, people=0, zones=[], cells=[], cameras=["cam1"])
    )
    assert publisher.outbox.depth == 0, "live snapshots are never stored"
    broker.start()
    publisher.close()
    collector.close()


def test_aggregates_nobody_subscribes_to_stay_in_the_outbox_until_someone_does(broker, tmp_path):
    """A broker PUBACKs "no matching subscribers": that message would be lost, so it is kept."""
    messages = make_aggregates("shop-1", ["cam1"], buckets=4)
    publisher = _publisher(broker, tmp_path, cameras=("cam1",)).start()
    for message in messages:
        publisher.publish_aggregate(message)
    assert not publisher.drain(3), "acknowledged by the broker, but routed nowhere: kept"
    assert publisher.outbox.depth == len(messages)
    collector = Collector(broker.url, "footfall/v1/+/+/agg", confirm=True)
    assert publisher.drain(10)
    assert wait_until(lambda: len(collector.messages) >= len(messages), 5)
    assert sorted({parse_aggregate(p, t).id for t, p in collector.messages}) == sorted(m.id for m in messages)
    publisher.close()
    collector.close()


@pytest.mark.slow
def test_live_and_health_acknowledgements_never_settle_an_aggregate(broker, tmp_path):
    """Paho reuses message ids (1 to 65535): after more live and health messages than that, the
    aggregates take ids those messages had. Published with nobody subscribed, every one of them
    must get its own "no matching subscribers" PUBACK and be sent again a second later, so that
    all arrive within seconds of somebody subscribing; an ack of a live message taken for an
    aggregate's would park it until the confirmation timeout (60 s here) instead."""
    merger = LiveMerger("shop-1", cell_m=1.0, interval_s=0.2)
    publisher = _publisher(broker, tmp_path, cameras=("cam1",), window=100, live=merger)
    unrouted: list[int] = []  # mids of the PUBACKs that said "no matching subscribers"
    settle = publisher.client.on_publish

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        settle(client, userdata, mid, reason_code, properties)
        if reason_code.value == NO_MATCHING_SUBSCRIBERS:
            unrouted.append(mid)

    publisher.client.on_publish = on_publish
    publisher.start()
    assert wait_until(lambda: publisher.connected, 10)
    live = LiveMessage(
        store="shop-1", sent_at=datetime.now(UTC), cell_m=1.0, people=0, zones=[], cells=[], cameras=["cam1"]
    )
    for _ in range(66_000):
        assert publisher.publish_live(live)
    messages = make_aggregates("shop-1", ["cam1"], buckets=20)  # 100, all in one window
    for message in messages:
        assert publisher.publish_aggregate(message)
    assert wait_until(lambda: len(unrouted) >= len(messages), 30), "the broker acknowledged every aggregate"
    collector = Collector(broker.url, "footfall/v1/+/+/agg", confirm=True)
    assert publisher.drain(20), f"{publisher.outbox.depth} aggregates still in the outbox"
    assert {parse_aggregate(p, t).id for t, p in collector.messages} == {m.id for m in messages}
    # An ack that beat its publish's bookkeeping (a few in 66,000 on a busy machine) left nothing
    # behind either: such a stale entry is what would settle an aggregate after the next wrap.
    assert wait_until(lambda: publisher.delivery.idle, 10)
    publisher.close()
    collector.close()
