"""The centre against one store's hostile device, tried as a new user would: a private broker, a
fresh database and `python -m dashboard ingest`, then a real PETS09 replay's aggregates
published around the payloads that used to stop or drain it. The ingest keeps running, every
valid aggregate is stored as the replay computed it, and every hostile payload is
dead-lettered once, with its reason, within a minute of the last one sent."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa

from dashboard import tables as t
from dashboard.storage import Storage, now_utc
from footfall_core.contract import (
    AGGREGATE_KINDS,
    MAX_PAYLOAD_BYTES,
    agg_topic,
    parse_aggregate,
    status_topic,
)
from tests.brokers import free_port
from tests.pipeline_runs import run_example
from tests.transport_support import (
    assert_same_content,
    fingerprint,
    reference_fingerprint,
    stored_ids,
    wait_until,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORE, CAMERA = "pets09", "view001"
CAP = 64  # the ingest's default registry cap


def replay_now() -> list:
    """PETS09's aggregates from the real pipeline, moved by whole days to end an hour ago."""
    replay = [m for m in run_example(STORE, CAMERA).messages if getattr(m, "kind", None) in AGGREGATE_KINDS]
    last = max(m.bucket_start for m in replay)
    days = math.ceil((last - (datetime.now(UTC) - timedelta(hours=1))) / timedelta(days=1))
    return [m.model_copy(update={"bucket_start": m.bucket_start - timedelta(days=days)}) for m in replay]


def hostile(valid: list) -> list[tuple[str, str, bytes, str]]:
    """(what, topic, payload, expected code): the payloads of the issue and their kin."""
    grid = next(m for m in valid if m.kind == "grid")
    zones = next(m for m in valid if m.kind == "zones" and m.zones)
    topic = agg_topic(STORE, CAMERA)

    def edited(message, **fields) -> bytes:
        return json.dumps({**json.loads(message.to_json()), **fields}).encode()

    first_zone = json.loads(zones.to_json())["zones"][0]
    off_plan = [[200 + i % 300, i // 300, 0.05] for i in range(60_000)]  # 100 m without a plan, 1 m cells
    return [
        ("100,000 [", topic, b"[" * 100_000, "contract"),
        ('50,000 {"a":', topic, b'{"a":' * 50_000, "contract"),
        ("cell index 2^31", topic, edited(grid, cells=[[2**31, 0, 1.0]]), "contract"),
        ("bucket_start 9999-12-31", topic, edited(zones, bucket_start="9999-12-31T00:00:00Z"), "clock"),
        (
            "16 days old",
            topic,
            edited(zones, bucket_start=_iso(zones.bucket_start - timedelta(days=16))),
            "clock",
        ),
        ("entries 2^70", topic, edited(zones, zones=[{**first_zone, "entries": 2**70}]), "contract"),
        (
            "a number of 10,000 digits",
            topic,
            edited(zones, zones=[{**first_zone, "entries": "N"}]).replace(b'"N"', b"9" * 10_000),
            "contract",
        ),
        ("NaN", topic, edited(grid, covered_s=math.nan), "contract"),
        ("60,000 cells off the plan", topic, edited(grid, cells=off_plan), "plan"),
        ("the same id, other content", topic, edited(grid, cells=[[1, 1, 9.5]]), "conflict"),
        ("1 MiB and a byte", topic, b" " * (MAX_PAYLOAD_BYTES + 1), "contract"),
        ("binary noise", topic, bytes(range(256)) * 8, "contract"),
        ("another store's topic", agg_topic("elsewhere", CAMERA), grid.to_json(), "contract"),
    ]


def _kept_sha256(payload: bytes, code: str) -> str:
    """What a dead letter's sha256 is of: what arrived, or for a refusal by storage (plan,
    conflict, registry) the message as read, in its canonical JSON (what an edge sends)."""
    kept = parse_aggregate(payload).to_json() if code in ("plan", "conflict", "registry") else payload
    return hashlib.sha256(kept).hexdigest()


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def camera_flood(valid: list) -> list:
    """Health buckets from 70 new cameras: the store may register 64 cameras in all."""
    health = next(m for m in valid if m.kind == "health")
    return [health.model_copy(update={"camera": f"x{k:02d}"}) for k in range(70)]


def _ingest(broker_url: str, db_url: str, metrics_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard",
            "--log-level",
            "ERROR",
            "ingest",
            "--mqtt",
            broker_url,
            "--db",
            db_url,
        ]
        + ["--group", "acceptance", "--client-id", "ingest-acceptance", "--metrics-port", str(metrics_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _serving(port: int) -> bool:
    """The ingest serves its metrics once it has migrated the database."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _metric(port: int, name: str) -> float:
    lines = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(name + " "))


@pytest.mark.slow
def test_hostile_payloads_around_a_real_replay_stop_nothing(broker, db_url, tmp_path):
    valid = replay_now()
    assert len(valid) >= 10, "two minutes of footage make at least two buckets of five kinds"
    flood = camera_flood(valid)
    attacks = hostile(valid)
    storage = Storage(db_url)  # fresh: the ingest migrates it
    port = free_port()
    ingest = _ingest(broker.url, db_url, port)
    sender = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="pets09-device", protocol=paho.MQTTv5)
    sender.connect("127.0.0.1", broker.port)
    sender.loop_start()

    def send(topic: str, payload: bytes) -> None:
        info = sender.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published(), f"the broker did not take {len(payload)} bytes on {topic}"

    assert wait_until(lambda: _serving(port) or ingest.poll() is not None, 60), "no metrics: not migrated"
    # Until the worker has subscribed the broker drops what nobody listens to: repeat (harmless).
    assert wait_until(
        lambda: send(agg_topic(STORE, CAMERA), valid[0].to_json()) or stored_ids(storage), 60, step_s=0.5
    ), ingest.stderr.read1().decode() if ingest.poll() is not None else "ingest never subscribed"
    half = len(valid) // 2
    for message in valid[:half]:
        send(agg_topic(message.store, message.camera), message.to_json())
    for _, topic, payload, _ in attacks:
        send(topic, payload)
    for message in flood:
        send(agg_topic(message.store, message.camera), message.to_json())
    future_status = {"schema_version": 1, "store": STORE, "camera": CAMERA, "status": "online"}
    send(
        status_topic(STORE, CAMERA), json.dumps({**future_status, "sent_at": "9999-12-31T00:00:00Z"}).encode()
    )
    send(status_topic(STORE, "x99"), json.dumps({**future_status, "camera": "x99"}).encode())
    for message in valid[half:]:
        send(agg_topic(message.store, message.camera), message.to_json())

    kept = valid + flood[: CAP - 1]  # view001 is the store's first camera
    expected = Counter((topic, code, _kept_sha256(payload, code)) for _, topic, payload, code in attacks)
    for message in flood[CAP - 1 :]:
        expected[
            (agg_topic(STORE, message.camera), "registry", hashlib.sha256(message.to_json()).hexdigest())
        ] += 1
    expected[(status_topic(STORE, "x99"), "registry", None)] += 1

    def letters() -> Counter:
        with storage.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.dead_letters.c.topic, t.dead_letters.c.code, t.dead_letters.c.payload_sha256)
            )
            return Counter(
                (topic, code, None if topic.endswith("/status") else sha) for topic, code, sha in rows
            )

    assert wait_until(
        lambda: sorted(stored_ids(storage)) == sorted(m.id for m in kept) and letters() == expected, 60
    ), (len(stored_ids(storage)), len(kept), letters() - expected, expected - letters())
    assert ingest.poll() is None, "the ingest kept running"
    assert _metric(port, 'footfall_ingest_dead_letters_total{reason="conflict"}') == 1
    assert _metric(port, 'footfall_ingest_dead_letters_total{reason="plan"}') == 1
    with storage.engine.connect() as conn:
        seen, status_at = conn.execute(
            sa.select(t.cameras.c.last_seen, t.cameras.c.status_at).where(t.cameras.c.name == CAMERA)
        ).one()
    assert seen <= now_utc() and status_at <= now_utc(), "no camera time ahead of the centre's clock"
    assert max(len(d["payload"]) for d in storage.dead_letters()) == 4096
    sender.loop_stop()
    ingest.send_signal(signal.SIGTERM)
    assert ingest.wait(30) == 0, ingest.stderr.read().decode()[-2000:]
    assert_same_content(fingerprint(storage), reference_fingerprint(kept, tmp_path))
