"""Broker security: a store's credentials publish only as that store, read only its own
confirmations, and connect only under its own client id; readers only read."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from dashboard import broker_acl
from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.contract import Confirmation, alerts_topic, confirm_topic, device_client_id, payload_digest
from footfall_core.store import Mqtt
from tests.brokers import Mosquitto, dynsec_config, secured_mosquitto
from tests.transport_support import Collector, IngestThread, make_aggregates, stored_ids, wait_until


@pytest.fixture
def secured(tmp_path):
    with secured_mosquitto(tmp_path, "stores:\n  - id: shop-a\n  - shop-b\n") as broker_and_passwords:
        yield broker_and_passwords


def _password(secrets_dir, user: str) -> str:
    return (secrets_dir / user).read_text().strip()


def _client(
    broker, secrets_dir, user: str, client_id: str, password: str | None = None
) -> tuple[paho.Client, dict]:
    """A raw client that records its CONNACK, PUBACKs, SUBACKs, messages and disconnect."""
    seen: dict = {"messages": []}
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.username_pw_set(user, password or _password(secrets_dir, user))
    client.on_connect = lambda c, u, f, rc, p: seen.setdefault("connack", rc)
    client.on_publish = lambda c, u, mid, rc, p: seen.setdefault("puback", rc)
    client.on_subscribe = lambda c, u, mid, rcs, p: seen.setdefault("suback", rcs)
    client.on_message = lambda c, u, m: seen["messages"].append(m.topic)
    client.on_disconnect = lambda c, u, f, rc, p: seen.setdefault("disconnect", rc)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert wait_until(lambda: "connack" in seen, 5), f"{user} as {client_id}: no CONNACK"
    return client, seen


def _publisher(broker, secrets_dir, tmp_path, store: str) -> Publisher:
    user = f"edge-{store}"
    settings = Mqtt(url=broker.url, username=user, password_file=str(secrets_dir / user))
    return Publisher(
        settings, store, ["cam1"], Outbox(tmp_path / f"{store}.sqlite3"), client_id=device_client_id(store)
    )


def test_store_cannot_publish_as_another_store(secured, tmp_path):
    broker, secrets_dir = secured
    ingest = Collector(
        broker.url,
        "footfall/v1/#",
        client_id="ingest-test",
        username="ingest",
        password=_password(secrets_dir, "ingest"),
        confirm=True,
    )
    own, foreign = make_aggregates("shop-a", ["cam1"], 1)[0], make_aggregates("shop-b", ["cam1"], 1)[0]

    # A stolen store-A box, with its own MQTT client, speaking for store B: the broker refuses
    # it, with a PUBACK "not authorized" or by closing the connection (Mosquitto 2.0 does both).
    stolen, seen = _client(broker, secrets_dir, "edge-shop-a", device_client_id("shop-a"))
    stolen.publish("footfall/v1/shop-b/cam1/agg", foreign.to_json(), qos=1)
    assert wait_until(lambda: "puback" in seen or "disconnect" in seen, 5), "the broker answers"
    assert "disconnect" in seen or seen["puback"].is_failure
    stolen.loop_stop()
    stolen.disconnect()

    # Our own publisher will not even try, and its store's aggregates still go through.
    publisher = _publisher(broker, secrets_dir, tmp_path, "shop-a").start()
    with pytest.raises(ValueError, match="'shop-a'.*'shop-b'"):
        publisher.publish_aggregate(foreign)
    assert publisher.publish_aggregate(own)
    assert publisher.drain(10), "the store's own aggregate is confirmed"
    topics = [t for t, _ in ingest.messages]
    assert "footfall/v1/shop-a/cam1/agg" in topics
    assert not [t for t in topics if t.startswith("footfall/v1/shop-b/")], "nothing of store B's name lands"
    publisher.close()
    ingest.close()


def test_device_reads_only_its_own_confirmations_and_cannot_forge_them(secured):
    broker, secrets_dir = secured
    reader = Collector(
        broker.url,
        "footfall/v1/#",
        client_id="reader",
        username="dashboard",
        password=_password(secrets_dir, "dashboard"),
    )
    spy, spied = _client(broker, secrets_dir, "edge-shop-a", device_client_id("shop-a"))
    spy.subscribe([("footfall/v1/#", 1), (confirm_topic("shop-b"), 1), (confirm_topic("shop-a"), 1)])
    assert wait_until(lambda: "suback" in spied, 5)
    assert [rc.is_failure for rc in spied["suback"]] == [True, True, False], "only its own confirmations"

    writer, _ = _client(broker, secrets_dir, "edge-shop-b", device_client_id("shop-b"))
    writer.publish("footfall/v1/shop-b/cam1/status", json.dumps({"x": 1}), qos=1).wait_for_publish(5)
    forged = Confirmation(store="shop-a", settled=[payload_digest(b"x")]).to_json()
    writer.publish(confirm_topic("shop-a"), forged, qos=1)  # store B confirming for store A
    ingest, _ = _client(broker, secrets_dir, "ingest", "ingest-test")
    ingest.publish(confirm_topic("shop-a"), forged, qos=1).wait_for_publish(5)
    assert wait_until(lambda: confirm_topic("shop-a") in spied["messages"], 5), "the ingest's arrives"
    assert wait_until(lambda: len(reader.messages) >= 2, 5), "the dashboard user reads store B"
    assert spied["messages"] == [confirm_topic("shop-a")], "store B's forgery never arrived"
    for client in (spy, writer, ingest):
        client.loop_stop()
        client.disconnect()
    reader.close()

    intruder, seen = _client(broker, secrets_dir, "edge-shop-a", "intruder", password="not-the-password")
    assert seen["connack"].is_failure
    intruder.loop_stop()


def test_only_the_alert_evaluator_publishes_a_stores_alert_state(secured):
    """A device cannot put a banner on its own store's live page; the `alerts` user can."""
    broker, secrets_dir = secured
    reader = Collector(
        broker.url,
        alerts_topic("shop-a"),
        client_id="reader",
        username="dashboard",
        password=_password(secrets_dir, "dashboard"),
    )
    device, seen = _client(broker, secrets_dir, "edge-shop-a", device_client_id("shop-a"))
    device.publish(alerts_topic("shop-a"), b'{"forged": true}', qos=1, retain=True)
    assert wait_until(lambda: "puback" in seen or "disconnect" in seen, 5), "the broker answers"
    assert "disconnect" in seen or seen["puback"].is_failure
    evaluator, _ = _client(broker, secrets_dir, "alerts", "alerts-test")
    evaluator.publish(alerts_topic("shop-a"), b'{"real": true}', qos=1, retain=True).wait_for_publish(5)
    assert wait_until(lambda: reader.messages, 5)
    assert [payload for _, payload in reader.messages] == [b'{"real": true}']
    for client in (device, evaluator):
        client.loop_stop()
        client.disconnect()
    reader.close()


def test_store_credentials_cannot_take_another_clients_id(secured, tmp_path):
    """Store A's password under ingest's client id or store B's is refused at CONNECT, so
    neither the ingest's persistent session nor store B's device is taken over or kicked."""
    broker, secrets_dir = secured
    url = broker.url.replace("mqtt://", f"mqtt://ingest:{_password(secrets_dir, 'ingest')}@")
    ingest = IngestThread(url, f"sqlite:///{tmp_path / 'central.sqlite3'}", client_id=None).start()
    assert ingest.ingest.client_id.startswith("footfall-ingest-test-") and len(ingest.ingest.client_id) > 40
    store_b = _publisher(broker, secrets_dir, tmp_path, "shop-b").start()
    assert wait_until(lambda: store_b.connected, 10)
    dropped = []
    ingest.ingest.client.on_disconnect = lambda *args: dropped.append("ingest")
    store_b.client.on_disconnect = lambda *args: dropped.append("shop-b")

    for taken in (ingest.ingest.client_id, device_client_id("shop-b"), "anything-else"):
        thief, seen = _client(broker, secrets_dir, "edge-shop-a", taken)
        assert seen["connack"].is_failure, f"store A's credentials connected as {taken!r}"
        thief.loop_stop()

    messages = make_aggregates("shop-b", ["cam1"], 2)
    for message in messages:
        store_b.publish_aggregate(message)
    assert store_b.drain(20), "store B still delivers, and the ingest still confirms"
    assert sorted(stored_ids(ingest.storage)) == sorted(m.id for m in messages)
    assert dropped == [], "neither the ingest nor store B's device was disconnected"
    store_b.close()
    ingest.close()


def test_the_shipped_broker_config_loads_the_plugin_and_binds_client_ids(tmp_path):
    """systemd/mosquitto/footfall.conf as installed, but for its paths, port and log."""
    out = tmp_path / "broker"
    broker_acl.write_files(["shop-a"], out)
    shipped = (Path(__file__).parent.parent / "systemd/mosquitto/footfall.conf").read_text()
    local = {"listener", "persistence_location", "log_dest", "plugin", "plugin_opt_config_file"}
    lines = [line for line in shipped.splitlines() if line.split(" ")[0] not in local]
    config = "\n".join(lines) + "\n" + dynsec_config(out / broker_acl.CONFIG_NAME)
    with Mosquitto(tmp_path / "mosquitto", config) as broker:
        own, seen = _client(broker, out / "passwords", "edge-shop-a", device_client_id("shop-a"))
        assert not seen["connack"].is_failure
        own.loop_stop()
        other, seen = _client(broker, out / "passwords", "edge-shop-a", "footfall-edge-shop-b")
        assert seen["connack"].is_failure
        other.loop_stop()


def test_bad_store_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not valid topic names"):
        broker_acl.write_files(["Shop A"], tmp_path)


def test_a_kept_password_file_emptied_by_hand_is_refused_naming_it(tmp_path):
    broker_acl.write_files(["shop-a"], tmp_path)
    emptied = tmp_path / "passwords" / "edge-shop-a"
    emptied.write_text("")
    with pytest.raises(ValueError, match=f"broker password file {emptied}: the first line is empty"):
        broker_acl.write_files(["shop-a"], tmp_path)
