"""The cluster's rules as `broker-acl --broker rabbitmq` writes them (dashboard/broker_acl_rabbitmq.py),
checked against topics and queue names; tests/test_cluster.py checks them on real nodes."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from dashboard.broker_acl import write_files
from dashboard.cluster_ingest import QueueLimits, node_parameters, topic_of


@pytest.fixture
def rules(tmp_path) -> dict:
    paths = write_files(["shop-a", "shop-ab"], tmp_path, "rabbitmq")
    assert paths["config"].stat().st_mode & 0o777 == 0o600
    return json.loads(paths["config"].read_text())


def _topics(rules: dict, user: str) -> dict:
    return next(p for p in rules["topic_permissions"] if p["user"] == user)


def _queues(rules: dict, user: str) -> dict:
    return next(p for p in rules["permissions"] if p["user"] == user)


def _allows(pattern: str, key: str) -> bool:
    return re.search(pattern, key) is not None


@pytest.mark.parametrize(
    "key, allowed",
    [
        ("footfall.v1.shop-a.cam1.agg", True),
        ("footfall.v1.shop-a.status", True),
        ("footfall.v1.shop-a.cam1.status", True),
        ("footfall.v1.shop-a.live", True),
        ("footfall.v1.shop-a.confirm", False),  # only the ingest confirms
        ("footfall.v1.shop-a.alerts", False),  # only the evaluator
        ("footfall.v1.shop-ab.cam1.agg", False),  # a store whose name starts alike
        ("footfall.v1.shop-b.cam1.agg", False),
        ("footfall.v1.shop-a.cam1.agg.extra", False),
        ("footfall.v2.shop-a.cam1.agg", False),
    ],
)
def test_a_device_publishes_only_its_own_topics(rules, key, allowed):
    assert _allows(_topics(rules, "edge-shop-a")["write"], key) is allowed


def test_a_device_reads_only_its_confirmations_and_queues(rules):
    read = _topics(rules, "edge-shop-a")["read"]
    assert _allows(read, "footfall.v1.shop-a.confirm")
    assert not _allows(read, "footfall.v1.shop-ab.confirm")
    assert not _allows(read, "footfall.v1.#")
    queues = _queues(rules, "edge-shop-a")
    assert _allows(queues["configure"], "mqtt-subscription-footfall-edge-shop-aqos1")
    assert not _allows(queues["configure"], "mqtt-subscription-footfall-edge-shop-abqos1")
    assert not _allows(queues["read"], "footfall.ingest")


def test_the_centre_users(rules):
    ingest = _topics(rules, "ingest")
    assert _allows(ingest["write"], "footfall.v1.shop-a.confirm")
    assert not _allows(ingest["write"], "footfall.v1.shop-a.cam1.agg")
    assert _allows(ingest["read"], "footfall.v1.*.*.agg")
    assert _allows(_queues(rules, "ingest")["configure"], "footfall.ingest")
    assert _topics(rules, "dashboard")["write"] == "^$"
    assert _allows(_topics(rules, "alerts")["write"], "footfall.v1.shop-a.alerts")
    assert not _allows(_topics(rules, "alerts")["write"], "footfall.v1.shop-a.confirm")
    assert {u["name"] for u in rules["users"]} == {
        "ingest",
        "dashboard",
        "alerts",
        "edge-shop-a",
        "edge-shop-ab",
    }


def test_passwords_are_hashed_as_rabbitmq_does(rules, tmp_path):
    user = next(u for u in rules["users"] if u["name"] == "edge-shop-a")
    password = (tmp_path / "passwords" / "edge-shop-a").read_text().strip()
    raw = base64.b64decode(user["password_hash"])
    salt, digest = raw[:4], raw[4:]
    assert digest == hashlib.sha256(salt + password.encode()).digest()
    assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"


def test_the_ingest_queue_is_a_bounded_replicated_quorum_queue():
    arguments = QueueLimits(max_messages=10, max_bytes=4096).arguments()
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-quorum-initial-group-size"] == 3
    assert (arguments["x-max-length"], arguments["x-max-length-bytes"]) == (10, 4096)
    assert arguments["x-overflow"] == "reject-publish"  # refuse, never drop the oldest


def test_amqp_node_urls():
    nodes = node_parameters("amqp://ingest@n1:5673, amqp://ingest:pw@n2", password="from-file")
    assert [(n.host, n.port, n.credentials.password) for n in nodes] == [
        ("n1", 5673, "from-file"),
        ("n2", 5672, "pw"),
    ]
    with pytest.raises(ValueError, match="expected amqp"):
        node_parameters("mqtt://n1")
    assert topic_of("footfall.v1.shop-a.cam1.agg") == "footfall/v1/shop-a/cam1/agg"


def test_the_ingest_waits_for_a_node_and_stops_when_asked(tmp_path):
    """No node reachable: the worker keeps trying them in turn (nothing to acknowledge, nothing
    lost) and returns promptly once told to stop."""
    import threading

    from dashboard.cluster_ingest import ClusterIngest
    from dashboard.storage import Storage
    from tests.brokers import free_port

    storage = Storage(f"sqlite:///{tmp_path / 'footfall.sqlite3'}")
    storage.migrate()
    nodes = node_parameters(
        f"amqp://ingest:x@127.0.0.1:{free_port()},amqp://ingest:x@127.0.0.1:{free_port()}"
    )
    ingest = ClusterIngest(storage, nodes)
    stop = threading.Event()
    worker = threading.Thread(target=ingest.run, args=(stop,), daemon=True)
    worker.start()
    worker.join(1.5)
    assert worker.is_alive(), "still trying"
    stop.set()
    worker.join(10)
    assert not worker.is_alive()
    assert ingest.stored == 0
