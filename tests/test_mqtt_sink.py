"""The edge's MQTT sink (`replay --mqtt`, `run --mqtt`) against a real Mosquitto: aggregates
through the durable outbox, live snapshots merged for the store, each camera's source state in
the device health, and what the broker did not take kept on disk for the next run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from edge.mqtt_sink import Both, MqttSink
from edge.outbox import Outbox
from edge.sinks import JsonlSink
from footfall_core.contract import LiveMessage, LiveZone, health_topic, live_topic, parse_aggregate
from footfall_core.store import StoreConfig, load_config
from tests.transport_support import Collector, make_aggregates, wait_until


def _pets09(health_interval_s: float = 0.2) -> StoreConfig:
    config = load_config("examples/pets09.yaml")
    mqtt = config.mqtt.model_copy(update={"health_interval_s": health_interval_s})
    return config.model_copy(update={"mqtt": mqtt})


def _camera_live(config: StoreConfig, people: int) -> LiveMessage:
    return LiveMessage(
        store="pets09",
        sent_at=datetime.now(UTC),
        cell_m=config.analysis.live_cell_m,
        people=people,
        zones=[LiveZone(zone="path", occupancy=people)],
        cells=[(1, 2, people)],
        cameras=["view001"],
    )


def test_aggregates_live_and_camera_state_reach_the_broker_and_the_file(broker, tmp_path):
    config = _pets09()
    collector = Collector(broker.url, "footfall/v1/#", confirm=True)
    messages = make_aggregates("pets09", ["view001"], buckets=2)
    *earlier, health = messages
    health = health.model_copy(update={"source_status": "reconnecting"})
    sink = Both(
        JsonlSink(tmp_path / "view001.agg.jsonl"),
        MqttSink(config, url=broker.url, state_dir=tmp_path / "state", drain_timeout_s=20),
    )
    for message in [*earlier, health]:
        sink.aggregate(message)
    sink.live(_camera_live(config, people=3))

    def device_health() -> list[dict]:
        return [json.loads(p) for t, p in collector.messages if t == health_topic("pets09")]

    assert wait_until(lambda: any(h["cameras"] == {"view001": "reconnecting"} for h in device_health()), 10)
    assert wait_until(lambda: any(t == live_topic("pets09") for t, _ in collector.messages), 10)
    sink.close()
    sent = [p for t, p in collector.messages if t.endswith("/agg")]
    assert [parse_aggregate(p).id for p in sent] == [m.id for m in messages], "all of them, in order"
    assert sent == (tmp_path / "view001.agg.jsonl").read_bytes().splitlines(), "the file's bytes"
    [live] = [json.loads(p) for t, p in collector.messages if t == live_topic("pets09")]
    assert (live["people"], live["cameras"], live["cells"]) == (3, ["view001"], [[1, 2, 3]])
    outbox = Outbox(tmp_path / "state" / config.mqtt.outbox_path)
    assert outbox.depth == 0, "every aggregate confirmed, none left on disk"
    outbox.close()
    collector.close()


def test_what_the_broker_did_not_take_is_sent_by_the_next_run(broker, tmp_path):
    config = _pets09()
    messages = make_aggregates("pets09", ["view001"], buckets=1)
    broker.stop()
    first = MqttSink(config, url=broker.url, state_dir=tmp_path, drain_timeout_s=0.5)
    for message in messages:
        first.aggregate(message)
    first.live(_camera_live(config, people=1))  # dropped offline: live is not history
    first.close()
    outbox = Outbox(tmp_path / config.mqtt.outbox_path)
    assert outbox.depth == len(messages), "kept on disk when the broker was away"
    outbox.close()
    broker.start()
    collector = Collector(broker.url, "footfall/v1/+/+/agg", confirm=True)
    second = MqttSink(config, url=broker.url, state_dir=tmp_path, drain_timeout_s=20)
    second.close()
    assert [parse_aggregate(p, t).id for t, p in collector.messages] == [m.id for m in messages]
    outbox = Outbox(tmp_path / config.mqtt.outbox_path)
    assert outbox.depth == 0
    outbox.close()
    collector.close()
