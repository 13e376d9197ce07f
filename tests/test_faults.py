"""The fault matrix: real brokers, ingest processes and databases, each fault injected mid-run,
each run ending with every aggregate stored exactly once or a stated, counted loss.

The edge is an in-process Publisher over a real outbox, with short confirmation timeouts
(1 s, doubling to 2 s) so that re-sends happen within the test; the ingest is
`python -m dashboard ingest` in its own process, so that it can be killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import paho.mqtt.client as paho
import pytest

from dashboard.storage import Storage
from edge.aggregator import Aggregator
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.types import FloorObservation
from footfall_core.contract import CLOCK_AHEAD_S, agg_topic
from footfall_core.store import Mqtt, load_config
from tests.brokers import Mosquitto, free_port
from tests.pg_server import PostgresServer
from tests.procfs import listening_addresses
from tests.transport_support import (
    assert_stored_exactly_once,
    make_aggregates,
    produce,
    stored_ids,
    wait_until,
)

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ingest(broker, db: str, client_id: str, fault: str = "", metrics_port: int | None = None):
    env = dict(os.environ, FOOTFALL_FAULT=fault)
    command = [sys.executable, "-m", "dashboard", "--log-level", "WARNING", "ingest", "--mqtt", broker.url]
    command += ["--db", db, "--group", "faults", "--client-id", client_id, "--batch", "20"]
    if metrics_port:
        command += ["--metrics-port", str(metrics_port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _edge(broker, tmp_path, store: str = "shop-1", cameras=("cam1", "cam2")) -> Publisher:
    settings = Mqtt(url=broker.url, confirm_timeout_s=1.0, confirm_timeout_max_s=2.0)
    outbox = Outbox(tmp_path / f"{store}-outbox.sqlite3")
    return Publisher(settings, store, list(cameras), outbox, client_id=f"edge-{store}", window=20).start()


def _storage(db: str) -> Storage:
    storage = Storage(db)
    storage.migrate()
    return storage


def _subscribed(publisher: Publisher, storage: Storage, first) -> None:
    """Until an ingest subscribes the broker routes nothing: the edge re-sends every second."""
    assert publisher.publish_aggregate(first)
    assert wait_until(lambda: len(stored_ids(storage)) == 1, 60), "no ingest subscribed"


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, process.stderr.read().decode()[-2000:]


def test_broker_sigkilled_mid_stream(db_url, tmp_path):
    """Nothing reaches the broker's persistence file (autosave hourly): the kill loses every
    session and every queued message; the edge sends again what was never confirmed."""
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=20)  # 200
    broker = Mosquitto(tmp_path / "broker", "autosave_interval 3600\n").start()
    storage = _storage(db_url)
    ingest = _ingest(broker, db_url, "ingest-sigkill")
    publisher = _edge(broker, tmp_path)
    try:
        _subscribed(publisher, storage, messages[0])
        producer = produce(publisher, messages[1:], pause_s=0.005)
        assert wait_until(lambda: len(stored_ids(storage)) >= 60, 60)
        broker.process.kill()  # SIGKILL: no goodbye, no save
        broker.process.wait()
        broker.start()  # same port, empty: no sessions, no queues
        producer.join()
        assert publisher.drain(120), f"{publisher.outbox.depth} never confirmed"
        assert_stored_exactly_once(storage, messages, tmp_path)
        assert publisher.outbox.dropped == 0
    finally:
        publisher.close(drain_timeout_s=0)
        _stop(ingest)
        broker.stop()


def test_postgres_restarted_mid_batch(tmp_path):
    """The ingest's own PostgreSQL crashes (immediate stop: no checkpoint) and comes back while
    batches are being written: nothing is acknowledged or confirmed until it is stored."""
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=20)
    server = PostgresServer()
    broker = Mosquitto(tmp_path / "broker").start()
    storage = _storage(server.url)
    ingest = _ingest(broker, server.url, "ingest-pg-restart")
    publisher = _edge(broker, tmp_path)
    try:
        _subscribed(publisher, storage, messages[0])
        producer = produce(publisher, messages[1:], pause_s=0.005)
        assert wait_until(lambda: len(stored_ids(storage)) >= 60, 60)
        storage.engine.dispose()
        server.stop("immediate")
        time.sleep(1.0)  # batches keep arriving and failing meanwhile
        server.start()
        producer.join()
        assert publisher.drain(120), f"{publisher.outbox.depth} never confirmed"
        assert_stored_exactly_once(storage, messages, tmp_path)
        assert ingest.poll() is None, "the ingest rode the outage out"
    finally:
        publisher.close(drain_timeout_s=0)
        _stop(ingest)
        broker.stop()
        storage.engine.dispose()
        server.close()


def _metric(port: int, line_start: str) -> float:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start))


def test_ingest_killed_between_commit_and_acknowledgement(db_url, tmp_path):
    """The third batch is committed, then the process dies before confirming or acknowledging
    it: the broker hands it to the next ingest, which finds it stored and confirms it."""
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=20)
    broker = Mosquitto(tmp_path / "broker").start()
    storage = _storage(db_url)
    doomed = _ingest(broker, db_url, "ingest-commit-ack", fault="ingest.after_commit@3")
    publisher = _edge(broker, tmp_path)
    try:
        _subscribed(publisher, storage, messages[0])
        for message in messages[1:]:
            publisher.publish_aggregate(message)
        assert doomed.wait(60) == -signal.SIGKILL, "killed at the injection point"
        stored_at_kill = len(stored_ids(storage))
        assert 3 <= stored_at_kill <= 41, "three batches of at most 20 (the first was one message)"
        assert publisher.outbox.depth > len(messages) - stored_at_kill, "the third batch is unconfirmed"
        port = free_port()
        ingest = _ingest(broker, db_url, "ingest-commit-ack", metrics_port=port)
        assert publisher.drain(90), f"{publisher.outbox.depth} never confirmed"
        duplicates = _metric(port, 'footfall_ingest_messages_total{outcome="duplicate"}')
        assert duplicates >= 1, "the committed, unacknowledged batch came again and was recognised"
        assert listening_addresses(ingest.pid, port) == {"127.0.0.1"}, (
            "its counters need no login: local only"
        )
        assert_stored_exactly_once(storage, messages, tmp_path)
        _stop(ingest)
    finally:
        publisher.close(drain_timeout_s=0)
        broker.stop()


def test_two_ingest_workers_one_killed_for_good(db_url, tmp_path):
    """Two workers share the subscription; one is SIGKILLed and never comes back. The broker
    keeps what it had handed to the dead one (and, Mosquitto 2.0, routes it a share of new
    ones) for a session that will not return: the edge sends those again until the survivor
    has them all."""
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=20)
    broker = Mosquitto(tmp_path / "broker").start()
    storage = _storage(db_url)
    workers = [_ingest(broker, db_url, f"ingest-pair-{n}") for n in (1, 2)]
    publisher = _edge(broker, tmp_path)
    try:
        _subscribed(publisher, storage, messages[0])
        time.sleep(1.0)  # the second worker subscribes too (it shares from then on)
        producer = produce(publisher, messages[1:], pause_s=0.005)
        assert wait_until(lambda: len(stored_ids(storage)) >= 40, 60)
        workers[1].send_signal(signal.SIGKILL)
        workers[1].wait()
        producer.join()
        assert publisher.drain(120), f"{publisher.outbox.depth} never confirmed"
        assert publisher.delivery.resent > 0, "what the dead worker held had to be sent again"
        assert_stored_exactly_once(storage, messages, tmp_path)
    finally:
        publisher.close(drain_timeout_s=0)
        _stop(workers[0])
        broker.stop()


def test_broker_queue_full_while_ingest_is_down(tmp_path):
    """With the ingest away and its queue bounded to 4 kB, Mosquitto acknowledges every
    aggregate and keeps a few. A plain QoS 1 client loses the rest; the edge sends them again
    until the ingest has confirmed every one."""
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    broker = Mosquitto(tmp_path / "broker", "max_queued_bytes 4000\n").start()
    storage = _storage(db)
    ingest = _ingest(broker, db, "ingest-queue")
    probe = make_aggregates("probe", ["cam1"], 1)[0]
    plain = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="plain", protocol=paho.MQTTv5)
    acked = []
    plain.on_publish = lambda c, u, mid, rc, p: acked.append(rc.is_failure)
    plain.connect("127.0.0.1", broker.port)
    plain.loop_start()
    assert wait_until(
        lambda: plain.publish(agg_topic("probe", "cam1"), probe.to_json(), qos=1) and stored_ids(storage), 30
    ), "the ingest never subscribed"
    _stop(ingest)  # away: its session and its queue stay with the broker

    control = make_aggregates("plain", ["cam1"], buckets=6)  # 30 aggregates of about 1 kB
    acked.clear()
    for message in control:
        plain.publish(agg_topic("plain", "cam1"), message.to_json(), qos=1).wait_for_publish(5)
    edge_messages = make_aggregates("shop-1", ["cam1"], buckets=6)
    publisher = _edge(broker, tmp_path, cameras=("cam1",))
    for message in edge_messages:
        publisher.publish_aggregate(message)
    assert wait_until(lambda: publisher.delivery.resent >= len(edge_messages), 30), "re-sent while away"
    ingest = _ingest(broker, db, "ingest-queue")
    try:
        assert publisher.drain(60), f"{publisher.outbox.depth} never confirmed"
        plain_stored = [i for i in stored_ids(storage) if i.startswith("plain/")]
        assert acked == [False] * 30, "the broker acknowledged every plain publish"
        # measured: 12 of the 30 stored (the 4 kB queue also held the edge's first sends)
        assert len(plain_stored) < len(control), "the broker dropped some of what it acknowledged"
        assert sorted(i for i in stored_ids(storage) if i.startswith("shop-1/")) == sorted(
            m.id for m in edge_messages
        )
    finally:
        plain.loop_stop()
        publisher.close(drain_timeout_s=0)
        _stop(ingest)
        broker.stop()


@pytest.mark.parametrize("step_s", [3600, -3600], ids=["forward-1h", "back-1h"])
def test_edge_clock_stepped_mid_run(step_s, tmp_path, monkeypatch):
    """The edge's wall clock (injected into the aggregator and patched into `time.time` for the
    whole edge) steps by an hour mid-run, with an outbox that keeps only 30 minutes: nothing is
    dropped and nothing waits, because ages and timeouts run on monotonic clocks. What the step
    does to bucket times is the edge's: back, the open bucket takes the hour's data (no id is
    made twice); forward, the buckets are labelled an hour ahead."""
    config = load_config(os.path.join(ROOT, "examples/pets09.yaml"))
    config = config.model_copy(update={"analysis": config.analysis.model_copy(update={"bucket_s": 10})})
    real_time = time.time
    offset_s = [0.0]
    monkeypatch.setattr(time, "time", lambda: real_time() + offset_s[0])
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    broker = Mosquitto(tmp_path / "broker").start()
    storage = _storage(db)
    ingest = _ingest(broker, db, "ingest-clock")
    settings = Mqtt(url=broker.url, confirm_timeout_s=1.0, confirm_timeout_max_s=2.0, outbox_max_age_s=1800)
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_age_s=settings.outbox_max_age_s)
    publisher = Publisher(settings, "pets09", ["view001"], outbox, client_id="edge-pets09", window=20).start()
    aggregator = Aggregator(config, "view001")
    start_s = real_time() // 10 * 10 - 120  # two minutes of buckets, before the centre's now
    produced = []
    try:
        for tick in range(120):  # one observation per simulated second
            if tick == 60:
                offset_s[0] = step_s
            now_s = start_s + tick + offset_s[0]
            people = np.array([[-5.0 + (tick % 7), -3.0]])
            obs = FloorObservation(now_s, 1.0, people, np.array([1]))
            for message in aggregator.observe(obs):
                produced.append(message)
                publisher.publish_aggregate(message)
        for message in aggregator.flush(start_s + 120 + offset_s[0]):
            produced.append(message)
            publisher.publish_aggregate(message)
        assert publisher.drain(60), f"{publisher.outbox.depth} never confirmed"
        assert outbox.dropped == 0, "the outbox never saw an hour pass"
        ids = {m.id for m in produced}
        assert len(ids) == len(produced), "no id made twice"
        ahead = {m.id for m in produced if m.bucket_start.timestamp() > real_time() + CLOCK_AHEAD_S}
        assert bool(ahead) == (step_s > 0), "only a forward step labels buckets ahead of the centre"
        assert set(stored_ids(storage)) == ids - ahead, "every bucket the centre's clock allows is stored"
        codes = [d["code"] for d in storage.dead_letters(1000)]
        assert codes == ["clock"] * len(ahead), "the rest are dead letters, reason clock: counted"
    finally:
        publisher.close(drain_timeout_s=0)
        _stop(ingest)
        broker.stop()
