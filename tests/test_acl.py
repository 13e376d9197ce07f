"""Broker security: a store's credentials publish only as that store, readers only read."""

from __future__ import annotations

import argparse
import json

import paho.mqtt.client as paho
import pytest

from dashboard import broker_acl
from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.store import Mqtt
from tests.brokers import Mosquitto
from tests.transport_support import Collector, make_aggregates, wait_until


@pytest.fixture
def secured(tmp_path):
    stores = tmp_path / "stores.yaml"
    stores.write_text("stores:\n  - id: shop-a\n  - shop-b\n")
    out = tmp_path / "broker"
    parser = argparse.ArgumentParser()
    broker_acl.add_arguments(parser)
    assert broker_acl.main(parser.parse_args(["--stores", str(stores), "--out", str(out)])) == 0
    with Mosquitto(
        tmp_path / "mosquitto", f"password_file {out / 'passwd'}\nacl_file {out / 'acl'}\n"
    ) as broker:
        yield broker, out / "passwords"


def _password(secrets_dir, user: str) -> str:
    return (secrets_dir / user).read_text().strip()


def test_store_cannot_publish_as_another_store(secured, tmp_path):
    broker, secrets_dir = secured
    ingest = Collector(
        broker.url,
        "footfall/v1/#",
        client_id="ingest-test",
        username="ingest",
        password=_password(secrets_dir, "ingest"),
    )
    own, foreign = make_aggregates("shop-a", ["cam1"], 1)[0], make_aggregates("shop-b", ["cam1"], 1)[0]

    # A stolen store-A box, with its own MQTT client, speaking for store B: the broker refuses
    # it, with a PUBACK "not authorized" or by closing the connection (Mosquitto 2.0 does both).
    stolen = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="stolen", protocol=paho.MQTTv5)
    stolen.username_pw_set("edge-shop-a", _password(secrets_dir, "edge-shop-a"))
    refused = {}
    stolen.on_publish = lambda c, u, mid, rc, p: refused.setdefault("puback", rc)
    stolen.on_disconnect = lambda c, u, f, rc, p: refused.setdefault("disconnect", rc)
    stolen.connect("127.0.0.1", broker.port)
    stolen.loop_start()
    stolen.publish("footfall/v1/shop-b/cam1/agg", foreign.to_json(), qos=1)
    assert wait_until(lambda: refused, 5), "the broker answers the foreign publish"
    assert "disconnect" in refused or refused["puback"].is_failure
    stolen.loop_stop()

    # Our own publisher will not even try, and its store's aggregates still go through.
    password_file = secrets_dir / "edge-shop-a"
    settings = Mqtt(url=broker.url, username="edge-shop-a", password_file=str(password_file))
    publisher = Publisher(
        settings, "shop-a", ["cam1"], Outbox(tmp_path / "o.sqlite3"), client_id="edge-shop-a"
    )
    publisher.start()
    with pytest.raises(ValueError, match="'shop-a'.*'shop-b'"):
        publisher.publish_aggregate(foreign)
    assert publisher.publish_aggregate(own)
    assert publisher.drain(10), "the store's own aggregate is acknowledged"
    assert wait_until(lambda: any(t.endswith("/agg") for t, _ in ingest.messages), 5)
    topics = [t for t, _ in ingest.messages]
    assert "footfall/v1/shop-a/cam1/agg" in topics
    assert not [t for t in topics if t.startswith("footfall/v1/shop-b/")], "nothing of store B's name lands"
    publisher.close()
    ingest.close()


def test_device_reads_nothing_and_wrong_password_is_refused(secured):
    broker, secrets_dir = secured
    spy = Collector(
        broker.url,
        "footfall/v1/#",
        client_id="spy",
        username="edge-shop-a",
        password=_password(secrets_dir, "edge-shop-a"),
    )
    reader = Collector(
        broker.url,
        "footfall/v1/#",
        client_id="reader",
        username="dashboard",
        password=_password(secrets_dir, "dashboard"),
    )
    writer = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="b", protocol=paho.MQTTv5)
    writer.username_pw_set("edge-shop-b", _password(secrets_dir, "edge-shop-b"))
    writer.connect("127.0.0.1", broker.port)
    writer.loop_start()
    writer.publish("footfall/v1/shop-b/cam1/status", json.dumps({"x": 1}), qos=1).wait_for_publish(5)
    assert wait_until(lambda: reader.messages, 5), "the dashboard user reads store B"
    assert not spy.messages, "store A's device may not read anything"
    writer.loop_stop()
    writer.disconnect()

    intruder = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="intruder", protocol=paho.MQTTv5)
    intruder.username_pw_set("edge-shop-a", "not-the-password")
    result = {}
    intruder.on_connect = lambda c, u, f, rc, p: result.setdefault("rc", rc)
    intruder.connect("127.0.0.1", broker.port)
    intruder.loop_start()
    assert wait_until(lambda: "rc" in result, 5)
    assert result["rc"].is_failure
    intruder.loop_stop()
    spy.close()
    reader.close()


def test_bad_store_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not valid topic names"):
        broker_acl.write_files(["Shop A"], tmp_path)
