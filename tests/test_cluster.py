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
import threading
import time

import pytest

from dashboard.storage import Storage
from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.store import Mqtt
from tests.brokers import RabbitCluster
from tests.transport_support import (
    assert_same_content,
    fingerprint,
    make_aggregates,
    reference_fingerprint,
    stored_ids,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with RabbitCluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


def _ingest(amqp: str, db: str, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "dashboard", "--log-level", "WARNING", "ingest", "--broker", "cluster"]
    command += ["--amqp", amqp, "--db", db, "--batch", "20", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _rotated(cluster: RabbitCluster, first: int, url) -> str:
    """Every node's URL, starting with node `first`: a client's node and its fallbacks."""
    order = [(first + k) % 3 for k in range(3)]
    return ",".join(url(k) for k in order)


def _edge(cluster: RabbitCluster, node: int, store: str, tmp_path, **settings) -> Publisher:
    mqtt = Mqtt(
        url=_rotated(cluster, node, cluster.mqtt_url),
        protocol="3.1.1",
        confirm_timeout_s=2.0,
        confirm_timeout_max_s=4.0,
        **settings,
    )
    outbox = Outbox(tmp_path / f"{store}-outbox.sqlite3")
    return Publisher(
        mqtt, store, ["cam1", "cam2"], outbox, client_id=f"footfall-edge-{store}", window=20
    ).start()


def _produce(publisher: Publisher, messages, pause_s: float = 0.01) -> threading.Thread:
    def run() -> None:
        for message in messages:
            publisher.publish_aggregate(message)
            time.sleep(pause_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, process.stderr.read().decode()[-2000:]


def test_node_sigkilled_mid_stream_loses_and_doubles_nothing(cluster, pg_url, tmp_path):
    """Three devices on three nodes, two ingest workers on two nodes; the node holding one
    device and one worker is SIGKILLed mid-stream, then started again. Its device moves to
    another node, its worker too, and the database ends with every aggregate exactly once."""
    stores = ["shop-0", "shop-1", "shop-2"]
    messages = {s: make_aggregates(s, ["cam1", "cam2"], buckets=20, seed=k) for k, s in enumerate(stores)}
    everything = [m for batch in messages.values() for m in batch]
    storage = Storage(pg_url)
    storage.migrate()
    workers = [_ingest(_rotated(cluster, node, cluster.amqp_url), pg_url) for node in (0, 1)]
    publishers = [_edge(cluster, k, store, tmp_path) for k, store in enumerate(stores)]
    try:
        assert wait_until(lambda: all(p.connected for p in publishers), 60), "devices connected"
        producers = [_produce(p, messages[p.store]) for p in publishers]
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
        assert sorted(stored_ids(storage)) == sorted(m.id for m in everything)
        assert_same_content(fingerprint(storage), reference_fingerprint(everything, tmp_path))
        assert all(p.outbox.dropped == 0 for p in publishers)
        assert all(w.poll() is None for w in workers), "the workers rode the node's loss out"
    finally:
        for publisher in publishers:
            publisher.close(drain_timeout_s=0)
        for worker in workers:
            _stop(worker)
        storage.engine.dispose()
