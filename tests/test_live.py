"""The live bridge: real Mosquitto → LiveSubscriber → LiveHub → async listeners."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from dashboard.live import LiveHub, LiveSubscriber
from footfall_core.contract import (
    ContractError,
    DeviceHealth,
    DeviceStatus,
    LiveMessage,
    StatusMessage,
    device_status_topic,
    health_topic,
    live_topic,
    status_topic,
)
from footfall_core.store import Mqtt
from tests.messages import live_msg

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def live(store: str, people: int, at: datetime = T0, cameras=("cam1",)) -> LiveMessage:
    return live_msg(store, people, at, cell=(2, 3), cameras=cameras)


def wait_until(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


@pytest.fixture
def publisher(broker):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def publish(client, topic: str, payload: bytes, retain: bool = False) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def test_subscriber_keeps_latest_state_per_store(broker, publisher):
    hub = LiveHub()
    subscriber = LiveSubscriber(hub, Mqtt(url=broker.url), "t-live-1").start()
    try:
        assert subscriber.connected.wait(10)
        publish(
            publisher,
            status_topic("s1", "cam1"),
            StatusMessage(store="s1", camera="cam1", status="online", sent_at=T0).to_json(),
            retain=True,
        )
        publish(publisher, live_topic("s1"), live("s1", 3).to_json())
        publish(publisher, live_topic("s2"), live("s2", 7).to_json())
        publish(publisher, live_topic("s1"), live("s1", 5, T0 + timedelta(seconds=2)).to_json())
        wait_until(lambda: hub.snapshot("s1").live is not None and hub.snapshot("s1").live.people == 5)
        wait_until(lambda: hub.snapshot("s2").live is not None)
        assert hub.snapshot("s2").live.people == 7
        assert hub.snapshot("s1").cameras["cam1"].status == "online"
        assert hub.snapshot("s1").cameras["cam1"].last_seen == T0 + timedelta(seconds=2)

        publish(
            publisher,
            status_topic("s1", "cam1"),
            StatusMessage(store="s1", camera="cam1", status="offline").to_json(),
            retain=True,
        )
        publish(
            publisher,
            health_topic("s1"),
            DeviceHealth(
                store="s1",
                sent_at=T0,
                outbox_depth=4,
                outbox_dropped=0,
                published=10,
                connected=True,
                cameras={"cam1": "stalled"},
            ).to_json(),
        )
        wait_until(lambda: hub.snapshot("s1").cameras["cam1"].health == "stalled")
        assert hub.snapshot("s1").cameras["cam1"].status == "offline"
        assert hub.snapshot("s1").device.outbox_depth == 4

        # Broken payloads are counted and dropped, never stored.
        publish(publisher, live_topic("s3"), b'{"schema_version": 1, "store": "s3"}')
        publish(publisher, live_topic("s3"), live("s1", 1).to_json())  # payload for another store
        wait_until(lambda: subscriber.rejected == 2)
        assert hub.snapshot("s3").live is None
    finally:
        subscriber.stop()


def test_subscriber_resubscribes_after_broker_restart(broker, publisher):
    hub = LiveHub()
    subscriber = LiveSubscriber(hub, Mqtt(url=broker.url), "t-live-2").start()
    try:
        assert subscriber.connected.wait(10)
        broker.restart()
        wait_until(publisher.is_connected, 40)  # both clients reconnect by themselves
        wait_until(subscriber.connected.is_set, 40)
        deadline = time.monotonic() + 20
        while hub.snapshot("s1").live is None and time.monotonic() < deadline:
            publish(publisher, live_topic("s1"), live("s1", 9).to_json())
            time.sleep(0.2)
        assert hub.snapshot("s1").live.people == 9
    finally:
        subscriber.stop()


def test_a_devices_status_covers_its_cameras(broker, publisher):
    hub = LiveHub()
    subscriber = LiveSubscriber(hub, Mqtt(url=broker.url), "t-live-4").start()
    try:
        assert subscriber.connected.wait(10)
        online = DeviceStatus(store="s1", status="online", cameras=["cam1", "cam2"], sent_at=T0)
        publish(publisher, device_status_topic("s1"), online.to_json(), retain=True)
        wait_until(lambda: len(hub.snapshot("s1").cameras) == 2)
        assert {c.status for c in hub.snapshot("s1").cameras.values()} == {"online"}
        assert hub.snapshot("s1").cameras["cam2"].last_seen == T0
        will = DeviceStatus(store="s1", status="offline", cameras=["cam1", "cam2"])  # the last will
        publish(publisher, device_status_topic("s1"), will.to_json(), retain=True)
        wait_until(lambda: hub.snapshot("s1").cameras["cam1"].status == "offline")
        assert hub.snapshot("s1").cameras["cam2"].status == "offline"
        assert hub.snapshot("s1").cameras["cam2"].last_seen == T0, "last seen stays when it was"
    finally:
        subscriber.stop()


def test_retained_status_arrives_on_connect(broker, publisher):
    publish(
        publisher,
        status_topic("s1", "door"),
        StatusMessage(store="s1", camera="door", status="offline").to_json(),
        retain=True,
    )
    hub = LiveHub()
    subscriber = LiveSubscriber(hub, Mqtt(url=broker.url), "t-live-3").start()
    try:
        wait_until(lambda: "door" in hub.snapshot("s1").cameras)
        assert hub.snapshot("s1").cameras["door"].status == "offline"
        assert hub.snapshot("s1").cameras["door"].last_seen is None
    finally:
        subscriber.stop()


@pytest.mark.parametrize(
    "topic, payload, problem",
    [
        ("footfall/v1/s1/live", b"not json", "topic 'footfall/v1/s1/live'"),
        ("footfall/v1/s1/live", live("s2", 1).to_json(), "store 's2'"),
        (
            "footfall/v1/s1/cam9/status",
            StatusMessage(store="s1", camera="cam1", status="online").to_json(),
            "camera 'cam1'",
        ),
        ("footfall/v1/s1/cam1/agg", live("s1", 1).to_json(), "not a live, status or health topic"),
        ("other/v1/s1/live", live("s1", 1).to_json(), "not under footfall/v1/"),
    ],
)
def test_hub_rejects_what_breaks_the_contract(topic, payload, problem):
    hub = LiveHub()
    with pytest.raises(ContractError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        hub.handle(topic, payload)
    assert hub.snapshot("s1").version == 0


def test_late_live_message_does_not_move_the_map_backwards():
    hub = LiveHub()
    hub.handle(live_topic("s1"), live("s1", 4, T0 + timedelta(seconds=4)).to_json())
    hub.handle(live_topic("s1"), live("s1", 2, T0).to_json())
    assert hub.snapshot("s1").live.people == 4


def test_updates_wake_listeners_of_that_store_only():
    hub = LiveHub()

    async def scenario():
        seen_s1: list[int] = []
        seen_s2: list[int] = []

        async def follow(store, seen, n):
            async for snap in hub.updates(store, heartbeat_s=30):
                seen.append(snap.live.people if snap.live else -1)
                if len(seen) == n:
                    return

        t1 = asyncio.create_task(follow("s1", seen_s1, 3))
        t2 = asyncio.create_task(follow("s2", seen_s2, 2))
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        # Publish from another thread, as the MQTT network thread does.
        await loop.run_in_executor(None, hub.handle, live_topic("s1"), live("s1", 1).to_json())
        await asyncio.sleep(0.05)
        await loop.run_in_executor(
            None, hub.handle, live_topic("s1"), live("s1", 2, T0 + timedelta(seconds=1)).to_json()
        )
        await asyncio.wait_for(t1, 5)
        assert not t2.done()
        await loop.run_in_executor(None, hub.handle, live_topic("s2"), live("s2", 8).to_json())
        await asyncio.wait_for(t2, 5)
        return seen_s1, seen_s2

    seen_s1, seen_s2 = asyncio.run(scenario())
    assert seen_s1 == [-1, 1, 2]
    assert seen_s2 == [-1, 8]
    assert hub.listener_count("s1") == 0 and hub.listener_count("s2") == 0


def test_updates_heartbeat_repeats_the_state_while_silent():
    hub = LiveHub()
    hub.handle(live_topic("s1"), live("s1", 6).to_json())

    async def two():
        out = []
        async for snap in hub.updates("s1", heartbeat_s=0.05):
            out.append(snap.version)
            if len(out) == 2:
                return out

    assert asyncio.run(two()) == [1, 1]


def test_close_ends_open_streams():
    hub = LiveHub()

    async def follow():
        seen = 0
        async for _ in hub.updates("s1", heartbeat_s=30):
            seen += 1
            if seen == 1:
                asyncio.get_running_loop().call_later(0.05, hub.close)
        return seen

    assert asyncio.run(asyncio.wait_for(follow(), 5)) == 1
    assert hub.listener_count("s1") == 0
