"""Central ingest against a real Mosquitto and both database backends."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter

import paho.mqtt.client as paho
import pytest

from dashboard.ingest_batch import MESSAGES
from dashboard.storage import Storage
from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.contract import (
    ContractError,
    agg_topic,
    confirm_topic,
    parse_aggregate,
    payload_digest,
    status_topic,
)
from footfall_core.store import Mqtt
from tests.transport_support import (
    Collector,
    IngestThread,
    assert_same_content,
    assert_stored_exactly_once,
    fingerprint,
    make_aggregates,
    reference_fingerprint,
    stored_ids,
    wait_until,
    wait_while_progressing,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mutants(valid: list, count: int, seed: int) -> list[tuple[str, bytes]]:
    """Random broken payloads: truncated, wrong types, unknown versions, junk, wrong topics."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        message = rng.choice(valid)
        topic = agg_topic(message.store, message.camera)
        data = json.loads(message.to_json())
        kind = rng.randrange(7)
        if kind == 0:
            raw = message.to_json()
            payload = raw[: rng.randrange(len(raw))]
        elif kind == 1:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif kind == 2:
            key = rng.choice(sorted(data))
            data[key] = rng.choice(["x", -1, 1.5e308, None, [], {"a": 1}, True])
            payload = json.dumps(data).encode()
        elif kind == 3:
            data["schema_version"] = rng.choice([0, 2, 99, "1", None])
            payload = json.dumps(data).encode()
        elif kind == 4:
            data[rng.choice(["pixels", "boxes", "track_id"])] = [1, 2, 3]
            payload = json.dumps(data).encode()
        elif kind == 5:
            del data[rng.choice(sorted(data))]
            payload = json.dumps(data).encode()
        else:
            payload = message.to_json()
            topic = agg_topic(message.store, "other-camera")
        try:
            parse_aggregate(payload, topic)
        except ContractError:
            out.append((topic, payload))
    return out


def _sender(url_port: int) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="sender", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    return client


def test_malformed_payloads_go_to_dead_letters_and_valid_ones_still_land(broker, db_url, tmp_path):
    valid = make_aggregates("shop-1", ["cam1", "cam2"], buckets=20)
    bad = _mutants(valid, 2000, seed=7)
    dead_before = MESSAGES.labels("dead_letter")._value.get()
    ingest = IngestThread(broker.url, db_url).start()
    sender = _sender(broker.port)
    rng = random.Random(1)
    stream = [(agg_topic(m.store, m.camera), m.to_json()) for m in valid] + bad
    rng.shuffle(stream)
    for topic, payload in stream:
        sender.publish(topic, payload, qos=1)

    def arrived() -> tuple[int, int]:
        dead = sum(d["received_count"] for d in ingest.storage.dead_letters(10_000))
        return len(stored_ids(ingest.storage)), dead

    def all_arrived() -> bool:
        stored, dead = arrived()
        return stored == len(valid) and dead >= len(bad)

    assert wait_while_progressing(all_arrived, arrived, stall_s=60), arrived()
    dead = ingest.storage.dead_letters(10_000)
    # One row per payload and topic (a mutant can repeat), counting each arrival.
    assert Counter({(d["topic"], d["payload"]): d["received_count"] for d in dead}) == Counter(bad)
    assert all(d["reason"] for d in dead)
    assert sorted(stored_ids(ingest.storage)) == sorted(m.id for m in valid)
    assert ingest.thread.is_alive()
    assert MESSAGES.labels("dead_letter")._value.get() - dead_before == len(bad), "the Prometheus counter"
    sender.loop_stop()
    ingest.close()
    assert_same_content(fingerprint(ingest.storage), reference_fingerprint(valid, tmp_path))


def _ingest_process(broker, db: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard",
            "--log-level",
            "WARNING",
            "ingest",
            "--mqtt",
            broker.url,
            "--db",
            db,
            "--group",
            "crash",
            "--client-id",
            "ingest-crash",
            "--batch",
            "20",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def test_ingest_killed_mid_stream_loses_nothing_and_doubles_nothing(broker, db_url, tmp_path):
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=60)  # 600 aggregates
    storage = Storage(db_url)
    storage.migrate()
    ingest = _ingest_process(broker, db_url)
    publisher = Publisher(
        Mqtt(url=broker.url),
        "shop-1",
        ["cam1", "cam2"],
        Outbox(tmp_path / "o.sqlite3"),
        client_id="edge-1",
        window=50,
    ).start()
    assert wait_until(lambda: publisher.connected, 10)
    # Until the worker has subscribed the broker drops what nobody listens to: repeat (harmless).
    assert wait_until(
        lambda: publisher.publish_aggregate(messages[0]) and len(stored_ids(storage)) == 1, 60, step_s=0.5
    ), "ingest never subscribed"
    for message in messages[1:]:
        publisher.publish_aggregate(message)
    assert wait_until(lambda: len(stored_ids(storage)) >= 100, 60)
    ingest.send_signal(signal.SIGKILL)  # mid-stream: some received, some stored but not acknowledged
    ingest.wait()
    stored_at_kill = len(stored_ids(storage))
    last_seq = publisher.outbox.peek(1000)[-1].seq
    assert wait_until(lambda: publisher.delivery.cursor == last_seq, 60), "all handed to the broker"
    assert stored_at_kill < len(messages), "the kill came too late to test anything"
    assert publisher.outbox.depth >= len(messages) - stored_at_kill, "kept until the centre confirms"
    ingest = _ingest_process(broker, db_url)
    assert publisher.drain(90), "the broker queued for the dead worker's session; now confirmed"
    assert len(stored_ids(storage)) == len(messages)
    ingest.send_signal(signal.SIGTERM)
    assert ingest.wait(20) == 0, ingest.stderr.read().decode()[-2000:]
    publisher.close()
    assert_stored_exactly_once(storage, messages, tmp_path)


def test_stored_and_dead_lettered_payloads_are_both_confirmed_to_their_store(broker, tmp_path):
    """Settled either way: a device must stop sending a payload the centre dead-lettered too."""
    good = make_aggregates("shop-1", ["cam1"], buckets=1)[0].to_json()
    bad = b'{"schema_version": 1, "store": "shop-1", "kind": "grid"}'
    other = make_aggregates("shop-2", ["cam1"], buckets=1)[0].to_json()
    confirmed = Collector(broker.url, confirm_topic("+"), client_id="devices")
    ingest = IngestThread(broker.url, f"sqlite:///{tmp_path / 'c.sqlite3'}").start()
    sender = _sender(broker.port)
    for topic, payload in ((agg_topic("shop-1", "cam1"), good), (agg_topic("shop-1", "cam1"), bad)):
        sender.publish(topic, payload, qos=1)
    sender.publish(agg_topic("shop-2", "cam1"), other, qos=1)
    settled: dict[str, set[str]] = {}

    def arrived() -> bool:
        for topic, payload in confirmed.messages:
            settled.setdefault(topic, set()).update(json.loads(payload)["settled"])
        return len(settled.get(confirm_topic("shop-1"), ())) == 2 and confirm_topic("shop-2") in settled

    assert wait_until(arrived, 20)
    assert settled == {
        confirm_topic("shop-1"): {payload_digest(good), payload_digest(bad)},
        confirm_topic("shop-2"): {payload_digest(other)},
    }, "each store hears of its own payloads only"
    assert len(ingest.storage.dead_letters()) == 1
    sender.loop_stop()
    ingest.close()
    confirmed.close()


def test_camera_status_is_recorded(broker, tmp_path):
    import sqlalchemy as sa

    from dashboard import tables

    def statuses() -> dict[str, str]:
        with ingest.storage.engine.connect() as conn:
            return dict(conn.execute(sa.select(tables.cameras.c.name, tables.cameras.c.status)).all())

    publisher = Publisher(
        Mqtt(url=broker.url), "shop-1", ["cam1", "cam2"], Outbox(tmp_path / "o.sqlite3"), client_id="edge-1"
    ).start()
    assert wait_until(lambda: publisher.connected, 10)
    ingest = IngestThread(broker.url, f"sqlite:///{tmp_path / 'c.sqlite3'}").start()  # retained: comes late
    assert wait_until(lambda: statuses() == {"cam1": "online", "cam2": "online"}, 10)
    publisher.close()
    assert wait_until(lambda: statuses() == {"cam1": "offline", "cam2": "offline"}, 10)
    sender = _sender(broker.port)
    sender.publish(status_topic("shop-1", "cam1"), b'{"status": "sideways"}', qos=1).wait_for_publish(5)
    assert wait_until(lambda: any(d["topic"].endswith("/status") for d in ingest.storage.dead_letters()), 10)
    sender.loop_stop()
    ingest.close()


@pytest.mark.postgres
def test_database_outage_holds_messages_unacknowledged_until_it_is_back(broker, pg_url, pg_server, tmp_path):
    """The database goes away mid-stream. The ingest that got messages it cannot store is killed,
    and another one started while the database is still away waits for it; once it is back,
    every message is stored once. An ingest that acknowledged what it had not stored yet (and
    held it in memory) would lose, with the killed process, what it held."""
    import psycopg

    def publish(message) -> bool:
        return sender.publish(agg_topic(message.store, message.camera), message.to_json(), qos=1).rc == 0

    def said(log, text: str) -> bool:
        return text in log.read_text(errors="replace")

    name = pg_url.rsplit("/", 1)[1]
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=20)  # 200 aggregates
    storage = Storage(pg_url)
    storage.migrate()
    first_log, second_log = tmp_path / "ingest-1.log", tmp_path / "ingest-2.log"
    ingest = _ingest_process(broker, pg_url, stderr=open(first_log, "wb"))
    sender = _sender(broker.port)
    # Until the worker has subscribed the broker drops what nobody listens to: repeat (harmless).
    assert wait_until(lambda: publish(messages[0]) and len(stored_ids(storage)) == 1, 60, step_s=0.5), (
        "ingest never subscribed"
    )
    assert all(publish(message) for message in messages[1:50])
    assert wait_until(lambda: len(stored_ids(storage)) == 50, 60)
    with psycopg.connect(pg_server, autocommit=True) as admin:  # the database goes away
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    assert all(publish(message) for message in messages[50:])
    assert wait_until(lambda: said(first_log, "cannot store a batch"), 60), "it got messages it cannot store"
    ingest.kill()
    ingest.wait()
    ingest = _ingest_process(broker, pg_url, stderr=open(second_log, "wb"))
    try:
        assert wait_until(lambda: said(second_log, "database unreachable"), 60), "the new one waits"
        assert ingest.poll() is None, second_log.read_text()[-2000:]
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert wait_until(lambda: len(stored_ids(storage)) >= len(messages), 90), (
            f"{len(messages) - len(stored_ids(storage))} of {len(messages)} lost"
        )
        ingest.send_signal(signal.SIGTERM)
        assert ingest.wait(30) == 0, second_log.read_text()[-2000:]
    finally:
        ingest.kill()
        sender.loop_stop()
    assert_same_content(fingerprint(storage), reference_fingerprint(messages, tmp_path))
