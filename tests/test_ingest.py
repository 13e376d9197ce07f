"""Central ingest against a real Mosquitto and both database backends."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import paho.mqtt.client as paho
import pytest

from dashboard.storage import Storage
from edge.config import Mqtt
from edge.contract import ContractError, StatusMessage, agg_topic, parse_aggregate, status_topic
from edge.outbox import Outbox
from edge.publisher import Publisher
from tests.transport_support import (
    IngestThread,
    assert_same_content,
    fingerprint,
    make_aggregates,
    reference_fingerprint,
    stored_ids,
    wait_until,
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
    ingest = IngestThread(broker.url, db_url).start()
    sender = _sender(broker.port)
    rng = random.Random(1)
    stream = [(agg_topic(m.store, m.camera), m.to_json()) for m in valid] + bad
    rng.shuffle(stream)
    for topic, payload in stream:
        sender.publish(topic, payload, qos=1)
    assert wait_until(lambda: len(stored_ids(ingest.storage)) == len(valid)
                      and len(ingest.storage.dead_letters(10_000)) >= len(bad), 120)
    dead = ingest.storage.dead_letters(10_000)
    assert len(dead) == len(bad)
    assert sorted(d["payload"] for d in dead) == sorted(p for _, p in bad)
    assert all(d["reason"] for d in dead)
    assert sorted(stored_ids(ingest.storage)) == sorted(m.id for m in valid)
    assert ingest.thread.is_alive()
    sender.loop_stop()
    ingest.close()
    assert_same_content(fingerprint(ingest.storage), reference_fingerprint(valid, tmp_path))
