"""The clustered broker: three real RabbitMQ nodes (tests/brokers.py's RabbitCluster), edge
publishers speaking MQTT 3.1.1 to different nodes, `python -m dashboard ingest --broker cluster`
workers consuming the replicated queue, PostgreSQL; faults injected mid-stream. Each run ends
with every aggregate stored exactly once (ids, and every raw and rollup row against a direct
write)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pika
import pytest

from dashboard.cluster_ingest import QUEUE, QueueLimits, declare
from dashboard.storage import Storage
from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.contract import agg_topic, confirm_topic, device_client_id
from footfall_core.store import Mqtt
from scripts.cluster import RABBITMQ_BIN
from tests.brokers import RabbitCluster
from tests.needs import need
from tests.transport_support import (
    START,
    assert_stored_exactly_once,
    make_aggregates,
    produce,
    stored_ids,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


STORES = ["shop-0", "shop-1", "shop-2", "shop-a", "shop-b"]


@pytest.fixture(scope="module")
def acl(tmp_path_factory) -> Path:
    """`python -m dashboard broker-acl --broker rabbitmq` for the test's stores."""
    out = tmp_path_factory.mktemp("acl")
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "broker-acl", "--broker", "rabbitmq", "--out", str(out)]
        + ["--stores", str(_stores_file(out))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return out


def _stores_file(out: Path) -> Path:
    path = out / "stores.yaml"
    path.write_text("stores: [" + ", ".join(STORES) + "]\n")
    return path


@pytest.fixture(scope="module")
def cluster(acl, tmp_path_factory):
    need(
        (RABBITMQ_BIN / "rabbitmq-server").exists(),
        "RabbitMQ is not installed: apt-get install rabbitmq-server (scripts/bootstrap.sh does)",
    )
    with RabbitCluster(tmp_path_factory.mktemp("cluster"), definitions=acl / "definitions.json") as running:
        yield running


def _ingest(cluster: RabbitCluster, acl: Path, node: int, db: str) -> subprocess.Popen:
    amqp = cluster.nodes_url(node, lambda k: cluster.amqp_url(k, "ingest", None))
    command = [sys.executable, "-m", "dashboard", "--log-level", "WARNING", "ingest", "--broker", "cluster"]
    command += ["--amqp", amqp, "--password-file", str(acl / "passwords" / "ingest")]
    command += ["--db", db, "--batch", "20"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _edge(cluster: RabbitCluster, acl: Path, node: int, store: str, tmp_path) -> Publisher:
    mqtt = Mqtt(
        url=cluster.nodes_url(node, lambda k: cluster.mqtt_url(k, f"edge-{store}", None)),
        password_file=str(acl / "passwords" / f"edge-{store}"),
        protocol="3.1.1",
        confirm_timeout_s=2.0,
        confirm_timeout_max_s=4.0,
    )
    outbox = Outbox(tmp_path / f"{store}-outbox.sqlite3")
    return Publisher(
        mqtt, store, ["cam1", "cam2"], outbox, client_id=device_client_id(store), window=20
    ).start()


def _device(cluster: RabbitCluster, acl: Path, store: str, node: int = 0, client_id: str | None = None):
    """A bare MQTT 3.1.1 client with `store`'s credentials; returns it and its PUBACKed mids."""
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id or device_client_id(store),
        protocol=paho.MQTTv311,
        clean_session=False,
    )
    client.username_pw_set(f"edge-{store}", (acl / "passwords" / f"edge-{store}").read_text().strip())
    acked: list[int] = []
    client.on_publish = lambda _c, _u, mid, _rc, _p: acked.append(mid)
    client.connect("127.0.0.1", cluster.mqtt_ports[node])
    client.loop_start()
    return client, acked


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, process.stderr.read().decode()[-2000:]


def test_node_sigkilled_mid_stream_loses_and_doubles_nothing(cluster, acl, pg_url, tmp_path):
    """Three devices on three nodes, two ingest workers on two nodes; the node holding one
    device and one worker is SIGKILLed mid-stream, then started again. Its device moves to
    another node, its worker too, and the database ends with every aggregate exactly once."""
    stores = ["shop-0", "shop-1", "shop-2"]
    messages = {s: make_aggregates(s, ["cam1", "cam2"], buckets=20, seed=k) for k, s in enumerate(stores)}
    everything = [m for batch in messages.values() for m in batch]
    storage = Storage(pg_url)
    storage.migrate()
    workers = [_ingest(cluster, acl, node, pg_url) for node in (0, 1)]
    publishers = [_edge(cluster, acl, k, store, tmp_path) for k, store in enumerate(stores)]
    try:
        assert wait_until(lambda: all(p.connected for p in publishers), 60), "devices connected"
        producers = [produce(p, messages[p.store], pause_s=0.01) for p in publishers]
        assert wait_until(lambda: len(stored_ids(storage)) >= 150, 120), "the stream is flowing"
        cluster.kill(1)
        lost = cluster.mqtt_ports[1]
        assert wait_until(lambda: publishers[1].connected and publishers[1].address.port != lost, 60), (
            "the device of the lost node reconnected to another node"
        )
        for producer in producers:
            producer.join()
        cluster.start_node(1)
        for publisher in publishers:
            assert publisher.drain(180), f"{publisher.store}: {publisher.outbox.depth} never confirmed"
        assert_stored_exactly_once(storage, everything, tmp_path)
        assert all(p.outbox.dropped == 0 for p in publishers)
        assert all(w.poll() is None for w in workers), "the workers rode the node's loss out"
    finally:
        for publisher in publishers:
            publisher.close(drain_timeout_s=0)
        for worker in workers:
            _stop(worker)
        storage.engine.dispose()


def test_store_a_cannot_publish_or_read_as_store_b(cluster, acl, pg_url, tmp_path):
    """Store A's credentials: a shop-b aggregate is refused (no PUBACK, never stored), so is a
    confirmation to itself, and so is a subscription to B's confirmations; B's own device,
    publishing beside it, delivers."""
    storage = Storage(pg_url)
    storage.migrate()
    worker = _ingest(cluster, acl, 0, pg_url)
    own = _edge(cluster, acl, 1, "shop-b", tmp_path)
    forged = make_aggregates("shop-b", ["cam1"], buckets=1, seed=99, start=START - timedelta(hours=1))[0]
    try:
        intruder, acked = _device(cluster, acl, "shop-a", node=2)
        assert wait_until(intruder.is_connected, 30)
        forged_mid = intruder.publish(agg_topic("shop-b", "cam1"), forged.to_json(), qos=1).mid
        assert wait_until(lambda: not intruder.is_connected(), 10), "the broker closed the connection"
        intruder.loop_stop()
        intruder, _ = _device(cluster, acl, "shop-a", node=2)
        assert wait_until(intruder.is_connected, 30)
        itself = b'{"schema_version":1,"store":"shop-a","settled":[]}'
        intruder.publish(confirm_topic("shop-a"), itself, qos=1)
        assert wait_until(lambda: not intruder.is_connected(), 10), "no device may confirm"
        intruder.loop_stop()
        granted: list[list] = []
        intruder, _ = _device(cluster, acl, "shop-a", node=2)
        intruder.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.append(codes)
        assert wait_until(intruder.is_connected, 30)
        intruder.subscribe(confirm_topic("shop-b"), qos=1)
        assert wait_until(lambda: granted or not intruder.is_connected(), 10)
        assert not granted or all(code.is_failure for code in granted[0]), "B's confirmations stay B's"
        intruder.loop_stop()
        intruder.disconnect()
        messages = make_aggregates("shop-b", ["cam1", "cam2"], buckets=2, seed=5)
        for message in messages:
            own.publish_aggregate(message)
        assert own.drain(60), f"{own.outbox.depth} of B's own aggregates never confirmed"
        assert forged_mid not in acked
        assert forged.id not in stored_ids(storage)
        assert sorted(stored_ids(storage)) == sorted(m.id for m in messages)
    finally:
        own.close(drain_timeout_s=0)
        _stop(worker)
        storage.engine.dispose()


def test_full_queue_refuses_publishes_and_the_edge_keeps_them(cluster, acl, pg_url, tmp_path):
    """An operator's policy bounds the queue to 10 messages (the lower of the policy and the
    ingest's limits applies) while no ingest runs: the nodes refuse what does not fit, with no
    PUBACK, and the devices keep it (the edge in its outbox, a bare client in its session); once
    the bound is lifted and an ingest runs, everything is stored exactly once."""
    admin = cluster.ctl
    ingest_password = (acl / "passwords" / "ingest").read_text().strip()
    params = pika.ConnectionParameters(
        "127.0.0.1", cluster.amqp_ports[0], credentials=pika.PlainCredentials("ingest", ingest_password)
    )
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        declare(channel, QueueLimits())
        channel.queue_purge(QUEUE)
    admin(0, "set_policy", "--apply-to", "queues", "footfall-full", f"^{QUEUE}$", '{"max-length": 10}')
    storage = Storage(pg_url)
    storage.migrate()
    messages = make_aggregates("shop-b", ["cam1", "cam2"], buckets=4, seed=11)  # 40
    bare = make_aggregates("shop-a", ["cam1"], buckets=2, seed=12)  # 10
    publisher = _edge(cluster, acl, 0, "shop-b", tmp_path)
    client = None
    worker = None
    try:
        for message in messages:
            publisher.publish_aggregate(message)
        assert wait_until(lambda: _depth(cluster) >= 10, 30), "the queue fills up"
        time.sleep(3.0)  # the edge keeps trying meanwhile
        assert _depth(cluster) < len(messages), "bounded: not everything got in"
        assert publisher.outbox.depth == len(messages), "the edge keeps every aggregate"
        client, acked = _device(cluster, acl, "shop-a", node=1)
        for message in bare:
            client.publish(agg_topic(message.store, message.camera), message.to_json(), qos=1)
        time.sleep(3.0)
        assert acked == [], "a full queue acknowledges nothing"
        admin(0, "clear_policy", "footfall-full")
        worker = _ingest(cluster, acl, 1, pg_url)
        assert publisher.drain(120), f"{publisher.outbox.depth} never confirmed once room returned"
        assert wait_until(lambda: len(acked) == len(bare), 60), "the bare client's session re-sent them"
        assert wait_until(lambda: len(stored_ids(storage)) == len(messages) + len(bare), 60)
        assert_stored_exactly_once(storage, messages + bare, tmp_path)
    finally:
        admin(0, "clear_policy", "footfall-full", check=False)
        if client is not None:
            client.disconnect()
            client.loop_stop()
        publisher.close(drain_timeout_s=0)
        if worker is not None:
            _stop(worker)
        storage.engine.dispose()


def _depth(cluster: RabbitCluster) -> int:
    """Messages in the ingest's queue, as node 0 counts them."""
    out = cluster.ctl(0, "list_queues", "name", "messages", "--quiet", "--no-table-headers")
    for line in out.splitlines():
        name, _, count = line.partition("\t")
        if name == QUEUE:
            return int(count)
    return 0


def test_the_live_bridge_hears_devices_on_other_nodes(cluster, acl, tmp_path):
    """The dashboard's live bridge, as the `dashboard` user over MQTT 3.1.1 on one node (its
    list's first), gets a device's live snapshot sent through another node."""
    from dashboard.live import LiveHub, LiveSubscriber
    from footfall_core.contract import LiveMessage, LiveZone

    hub = LiveHub()
    settings = Mqtt(
        url=cluster.nodes_url(2, lambda k: cluster.mqtt_url(k, "dashboard", None)),
        password_file=str(acl / "passwords" / "dashboard"),
        protocol="3.1.1",
    )
    subscriber = LiveSubscriber(hub, settings, client_id="footfall-dashboard-live-test").start()
    device = _edge(cluster, acl, 0, "shop-a", tmp_path)
    try:
        assert wait_until(lambda: subscriber.connected.is_set() and device.connected, 30)
        snapshot = LiveMessage(
            store="shop-a",
            sent_at=START,
            cell_m=1.0,
            people=4,
            zones=[LiveZone(zone="tills", occupancy=4)],
            cells=[(2, 3, 4)],
            cameras=["cam1"],
        )
        assert wait_until(
            lambda: device.publish_live(snapshot) and hub.snapshot("shop-a").live is not None, 30, step_s=0.5
        ), "the live snapshot crossed the cluster"
        assert hub.snapshot("shop-a").live.people == 4
        assert subscriber.rejected == 0
    finally:
        device.close(drain_timeout_s=0)
        subscriber.stop()
