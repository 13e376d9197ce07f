"""Central transport throughput: simulated stores → broker → `dashboard ingest` → SQLite / PostgreSQL.

Starts its own broker on a free port and its own databases (a temp SQLite file, a fresh
PostgreSQL database dropped afterwards), publishes `--count` real contract aggregates from
`--stores` simulated stores as fast as the broker takes them, and prints per backend and
number of ingest workers (`--workers 1,2,4`):
- sustained rate: aggregates committed per second, first publish to last commit;
- end-to-end lag p50/p95: publish → the row's `received_at` (set inside the committing
  transaction), under that full load, so it includes queueing.
Then a paced run at `--paced-rate` messages/s gives the lag of a system that is not saturated.
First, the edge side: how fast one device's outbox takes messages (one fsync each) and how fast
a backlog of `--edge-backlog` aggregates drains after an outage, each confirmed by a subscriber
that confirms on receipt as the ingest does after its commit (so: the edge, the broker and the
confirmation round trip, without a database).

    .venv/bin/python bench/transport.py [--count 20000] [--stores 200] [--workers 1]
    .venv/bin/python bench/transport.py --broker cluster --workers 1,2,4

`--broker cluster` measures a private three-node RabbitMQ cluster (scripts/cluster.py: the
devices publish MQTT 3.1.1 to all three nodes, the workers consume the replicated quorum queue
over AMQP) into PostgreSQL, and one Mosquitto beside it in the same run, for comparison.

Bounded: stops after the count or after --timeout-s per run, whichever comes first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from dashboard import tables  # noqa: E402
from dashboard.storage import Storage  # noqa: E402
from footfall_core.contract import agg_topic, confirm_topic  # noqa: E402
from tests.brokers import Mosquitto, RabbitCluster, free_port  # noqa: E402
from tests.databases import scratch_database  # noqa: E402
from tests.transport_support import make_aggregates  # noqa: E402

PG_ADMIN = os.environ.get("FOOTFALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PUBLISHERS = 4  # paho clients sharing the simulated stores
BROKER_CONFIG = "max_inflight_messages 1000\n"  # as in systemd/mosquitto/footfall.conf


def _messages(stores: int, count: int) -> list[tuple[str, str, bytes]]:
    """(id, topic, payload) round-robin over stores, each store walking through its own buckets,
    the last of which ends an hour ago (inside the centre's clock window)."""
    per_store = -(-count // stores)
    buckets = -(-per_store // 5)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1, minutes=buckets)
    streams = [
        make_aggregates(f"store-{s:04d}", ["cam1"], buckets, seed=s, start=start) for s in range(stores)
    ]
    out = []
    for i in range(per_store):
        for stream in streams:
            m = stream[i]
            out.append((m.id, agg_topic(m.store, m.camera), m.to_json()))
    return out[:count]


def _publishers(ports: list[int], v5: bool = True) -> list[paho.Client]:
    """The simulated stores' clients, spread over the broker's nodes (`ports`); the first also
    takes every store's confirmations, so that the broker delivers them as it would to a fleet
    of devices."""
    clients = []
    for k in range(PUBLISHERS):
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"bench-pub-{k}",
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        )
        if not v5:
            client.username_pw_set("admin", "admin")
        client.max_inflight_messages_set(1000)
        client.connect("127.0.0.1", ports[k % len(ports)])
        if k == 0:
            client.subscribe(confirm_topic("+"), qos=1)
        client.loop_start()
        clients.append(client)
    return clients


def _committed(storage: Storage) -> dict[str, float]:
    with storage.engine.connect() as conn:
        rows = conn.execute(sa.select(tables.ingested.c.id, tables.ingested.c.received_at)).all()
    epoch = datetime(1970, 1, 1)
    return {i: (at - epoch).total_seconds() for i, at in rows}


def _count(storage: Storage) -> int:
    """Messages committed so far: cheap enough to poll without slowing the ingest down."""
    with storage.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(tables.ingested))


def _metric(port: int, name: str) -> float:
    """One value from an ingest worker's Prometheus endpoint."""
    import httpx

    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _ingest_command(label: str, worker: int, db_url: str, metrics_port: int, broker) -> list[str]:
    command = [sys.executable, "-m", "dashboard", "--log-level", "WARNING", "ingest", "--db", db_url]
    command += ["--metrics-port", str(metrics_port)]
    if isinstance(broker, RabbitCluster):  # each worker starts on its own node
        return command + ["--broker", "cluster", "--amqp", broker.nodes_url(worker % 3, broker.amqp_url)]
    client_id = f"bench-ingest-{label}-{worker}"
    return command + ["--mqtt", broker.url, "--group", "bench", "--client-id", client_id]


def run(
    label: str,
    db_url: str,
    workdir: Path,
    messages,
    workers: int,
    rate: float | None,
    timeout_s: float,
    cluster: RabbitCluster | None = None,
) -> None:
    """One run on a fresh Mosquitto (no sessions left over from the previous run), or on the
    cluster, whose queue the previous run left empty."""
    broker = cluster or Mosquitto(workdir / f"broker-{uuid.uuid4().hex[:6]}", BROKER_CONFIG).start()
    storage = Storage(db_url)
    storage.migrate()
    metrics_ports = [free_port() for _ in range(workers)]
    procs = [
        subprocess.Popen(_ingest_command(label, w, db_url, port, broker), cwd=ROOT)
        for w, port in enumerate(metrics_ports)
    ]
    ports = cluster.mqtt_ports if cluster else [broker.port]
    clients = _publishers(ports, v5=cluster is None)
    try:
        probe = messages[0]  # wait until the workers have subscribed (unheard messages are dropped)
        deadline = time.monotonic() + 30
        while not _count(storage) and time.monotonic() < deadline:
            clients[0].publish(probe[1], probe[2], qos=1)
            time.sleep(0.3)
        sent_at: dict[str, float] = {}
        start = time.time()
        for n, (mid, topic, payload) in enumerate(messages[1:], 1):
            if rate:
                delay = start + n / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            sent_at[mid] = time.time()
            clients[n % PUBLISHERS].publish(topic, payload, qos=1)
        published_s = time.time() - start
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _count(storage) < len(messages):
            time.sleep(0.5)
        committed = _committed(storage)
        lags = [committed[i] - t for i, t in sent_at.items() if i in committed]
        done = [committed[i] for i in sent_at if i in committed]
        span = max(done) - start if done else float("nan")
        mode = f"paced {rate:.0f}/s" if rate else "full load"
        mode += f" {workers}w"
        batches = sum(_metric(port, "footfall_ingest_batch_seconds_count") for port in metrics_ports)
        print(
            f"{label:10s} {mode:12s} {len(done):6d}/{len(sent_at)} stored  "
            f"published in {published_s:5.1f} s  sustained {len(done) / span:7.0f} msg/s  "
            f"lag p50 {1000 * _percentile(lags, 0.5):7.0f} ms  p95 {1000 * _percentile(lags, 0.95):7.0f} ms  "
            f"mean batch {len(messages) / max(batches, 1):5.0f}",
            flush=True,
        )
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        if cluster is None:
            broker.stop()


def edge_catch_up(workdir: Path, count: int) -> None:
    """One edge device's backlog after an outage: outbox put rate, then the drain rate through a
    broker to a subscriber that confirms each aggregate."""
    from edge.outbox import Outbox
    from edge.publisher import Publisher
    from footfall_core.store import Mqtt
    from tests.transport_support import Collector

    broker = Mosquitto(workdir / "broker-edge", BROKER_CONFIG).start()
    try:
        collector = Collector(broker.url, "footfall/v1/+/+/agg", client_id="bench-centre", confirm=True)
        messages = make_aggregates("store-edge", ["cam1", "cam2", "cam3", "cam4"], -(-count // 20))[:count]
        outbox = Outbox(workdir / "edge-outbox.sqlite3")
        started = time.perf_counter()
        for message in messages:
            outbox.put(agg_topic(message.store, message.camera), message.to_json())
        put_s = time.perf_counter() - started
        publisher = Publisher(
            Mqtt(url=broker.url), "store-edge", ["cam1"], outbox, client_id="bench-edge"
        ).start()
        started = time.perf_counter()
        drained = publisher.drain(300)
        drain_s = time.perf_counter() - started
        publisher.close()
        collector.close()
        print(
            f"edge       outbox        {count:6d} puts (synchronous=FULL) {count / put_s:7.0f} msg/s; "
            f"backlog drained "
            f"{'' if drained else 'NOT '}in {drain_s:5.1f} s: {count / drain_s:7.0f} msg/s confirmed",
            flush=True,
        )
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--count", type=int, default=20_000, help="aggregates per full-load run (default 20000)"
    )
    parser.add_argument("--stores", type=int, default=200, help="simulated stores (default 200)")
    parser.add_argument(
        "--workers",
        default="1",
        help="ingest processes, one run per comma-separated count, e.g. 1,2,4 (default 1)",
    )
    parser.add_argument(
        "--broker",
        choices=("mosquitto", "cluster"),
        default="mosquitto",
        help="cluster: a three-node RabbitMQ cluster into PostgreSQL, with one Mosquitto beside it",
    )
    parser.add_argument(
        "--paced-rate", type=float, default=500, help="messages/s of the paced run (default 500)"
    )
    parser.add_argument("--timeout-s", type=float, default=120, help="most time to wait for commits per run")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma list (default sqlite,postgres)")
    parser.add_argument(
        "--edge-backlog", type=int, default=20_000, help="aggregates in the edge catch-up run"
    )
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    messages = _messages(args.stores, args.count + 1)
    paced = messages[: max(2, int(args.paced_rate * 10))]  # ten seconds of paced load
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        workdir = Path(tmp)
        if args.broker == "cluster":
            compare(workdir, messages, paced, workers, args)
            return
        edge_catch_up(workdir, args.edge_backlog)
        for backend in args.backends.split(","):
            for n in workers:
                for rate, batch in ((None, messages), (args.paced_rate, paced)):
                    if backend == "sqlite":
                        url = f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:6]}.sqlite3"
                        run("sqlite", url, workdir, batch, n, rate, args.timeout_s)
                        continue
                    with scratch_database(PG_ADMIN, "footfall_bench") as url:
                        run("postgresql", url, workdir, batch, n, rate, args.timeout_s)


def compare(workdir: Path, messages, paced, workers: list[int], args) -> None:
    """Mosquitto, then the cluster, into PostgreSQL: full load per worker count, then paced."""
    started = time.monotonic()
    cluster = RabbitCluster(workdir / "cluster")
    try:
        cluster.start()
        print(f"cluster    3 nodes up in {time.monotonic() - started:4.1f} s", flush=True)
        for label, on in (("mosquitto", None), ("cluster", cluster)):
            for n in workers:
                with scratch_database(PG_ADMIN, "footfall_bench") as url:
                    run(label, url, workdir, messages, n, None, args.timeout_s, on)
            with scratch_database(PG_ADMIN, "footfall_bench") as url:
                run(label, url, workdir, paced, 1, args.paced_rate, args.timeout_s, on)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
