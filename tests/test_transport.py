"""End to end, edge outbox → Mosquitto → ingest → database, through broker outages and crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.contract import parse_aggregate
from footfall_core.store import Mqtt
from tests.transport_support import (
    START,
    IngestThread,
    assert_stored_exactly_once,
    make_aggregates,
    stored_ids,
    wait_until,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_broker_outage_loses_nothing_and_doubles_nothing(broker, db_url, tmp_path):
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=30)  # 300 aggregates
    ingest = IngestThread(broker.url, db_url).start()
    publisher = Publisher(
        Mqtt(url=broker.url),
        "shop-1",
        ["cam1", "cam2"],
        Outbox(tmp_path / "o.sqlite3"),
        client_id="edge-outage",
        window=20,
    ).start()
    assert wait_until(lambda: publisher.connected, 10)

    def produce():
        for message in messages:
            publisher.publish_aggregate(message)
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    assert wait_until(lambda: len(stored_ids(ingest.storage)) >= 50, 30), "nothing arrives before the outage"
    broker.stop()
    time.sleep(3)  # the edge keeps producing into its outbox meanwhile
    assert publisher.outbox.depth > 0
    broker.start()
    producer.join()
    assert publisher.drain(60), f"{publisher.outbox.depth} aggregates still in the outbox"
    assert wait_until(lambda: len(stored_ids(ingest.storage)) == len(messages), 60)
    ingest.close()
    publisher.close()
    assert_stored_exactly_once(ingest.storage, messages, tmp_path)


def _edge(broker, tmp_path, buckets: int, start: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.transport_support",
            "--url",
            broker.url,
            "--outbox",
            str(tmp_path / "edge.sqlite3"),
            "--buckets",
            str(buckets),
            "--start",
            str(start),
            "--delay-s",
            "0.01",
            "--first-bucket",
            START.isoformat(),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_edge_killed_mid_run_resends_from_its_outbox(broker, tmp_path):
    messages = make_aggregates("shop-1", ["cam1", "cam2"], buckets=30)
    ingest = IngestThread(broker.url, f"sqlite:///{tmp_path / 'central.sqlite3'}").start()
    edge = _edge(broker, tmp_path, 30)
    last = -1
    for line in edge.stdout:
        last = int(line.split()[1])
        if last == 60:
            broker.stop()  # from here on, the aggregates exist only in the edge's outbox
        if last >= 160:  # the lines read lag the edge's puts by up to a few dozen on a busy machine
            break
    edge.send_signal(signal.SIGKILL)  # no goodbye, no flush
    edge.wait()
    left = Outbox(tmp_path / "edge.sqlite3")
    assert left.depth >= 50, "most of the 100 put after the broker was stopped are still on disk"
    left.close()
    broker.start()
    edge = _edge(broker, tmp_path, 30, start=last + 1)  # the pipeline goes on where it was
    assert edge.stdout.readlines()[-1].strip() == "drained"
    assert edge.wait(30) == 0
    assert wait_until(lambda: len(stored_ids(ingest.storage)) == len(messages), 30)
    ingest.close()
    assert_stored_exactly_once(ingest.storage, messages, tmp_path)


@pytest.mark.slow
def test_replay_of_real_footage_lands_in_the_database_as_in_the_jsonl(broker, tmp_path, assets):
    """`python -m edge replay --mqtt` on PETS09: the centre stores exactly what the edge computed."""
    ingest = IngestThread(broker.url, f"sqlite:///{tmp_path / 'central.sqlite3'}").start()
    out = tmp_path / "agg.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "replay",
            str(assets / "datasets/pets09_s2l1/vtest.avi"),
            "--config",
            "examples/pets09.yaml",
            "--camera",
            "view001",
            "--out",
            str(out),
            "--mqtt",
            broker.url,
            "--state-dir",
            str(tmp_path),
            "--start",
            START.strftime("%Y-%m-%dT%H:%M:%SZ"),  # recent: inside the centre's clock window
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    computed = [parse_aggregate(line) for line in out.read_bytes().splitlines()]
    assert len(computed) >= 10, "two minutes of footage make at least two buckets of five kinds"
    assert Outbox(tmp_path / "outbox.sqlite3").depth == 0, "replay waits for every PUBACK"
    assert wait_until(lambda: len(stored_ids(ingest.storage)) == len(computed), 30)
    ingest.close()
    assert_stored_exactly_once(ingest.storage, computed, tmp_path)
