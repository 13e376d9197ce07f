"""Helpers for the transport tests: real contract messages, a subscriber, waiting."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import paho.mqtt.client as paho

from footfall_core.contract import (
    FlowsAggregate,
    GridAggregate,
    HealthAggregate,
    LineCount,
    LinesAggregate,
    Transition,
    ZonesAggregate,
    ZoneStats,
)
from footfall_core.mqtt_link import BrokerAddress

if TYPE_CHECKING:
    from edge.publisher import Publisher

# Recent, for the centre's clock window (a bucket older than the raw retention, or ahead of the
# centre's clock, is dead-lettered): three whole hours before the hour the tests started in.
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def make_aggregates(
    store: str, cameras: list[str], buckets: int, bucket_s: int = 60, seed: int = 0, start: datetime = START
) -> list:
    """`buckets` consecutive buckets × cameras × the five kinds, with plausible random content."""
    rng = random.Random(seed)
    out = []
    for b in range(buckets):
        when = start + timedelta(seconds=b * bucket_s)
        for camera in cameras:
            common = dict(
                store=store, camera=camera, bucket_start=when, bucket_s=bucket_s, covered_s=float(bucket_s)
            )
            cells = [
                (rng.randrange(40), rng.randrange(30), round(rng.uniform(0.2, 60), 2)) for _ in range(25)
            ]
            out.append(GridAggregate(**common, cell_m=0.5, cells=cells))
            out.append(
                ZonesAggregate(
                    **common,
                    zones=[
                        ZoneStats(
                            zone=z,
                            mean_occupancy=round(rng.uniform(0, 5), 3),
                            max_occupancy=rng.randrange(8),
                            person_seconds=round(rng.uniform(0, 300), 2),
                            entries=rng.randrange(10),
                            dwells_s=[round(rng.uniform(10, 200), 1) for _ in range(rng.randrange(3))],
                        )
                        for z in ("entrance", "checkout")
                    ],
                )
            )
            out.append(
                LinesAggregate(
                    **common,
                    lines=[LineCount(line="door", in_count=rng.randrange(20), out_count=rng.randrange(20))],
                )
            )
            out.append(
                FlowsAggregate(
                    **common,
                    flow_cell_m=1.0,
                    transitions=[
                        Transition(from_zone="entrance", to_zone="checkout", count=rng.randrange(5))
                    ],
                    directions=[(rng.randrange(20), rng.randrange(15), [rng.randrange(6) for _ in range(8)])],
                )
            )
            out.append(
                HealthAggregate(
                    **common,
                    frames_read=bucket_s * 25,
                    frames_analysed=bucket_s * 5,
                    frames_dropped=0,
                    detector_ms_mean=31.5,
                    detector_ms_max=80.0,
                    source_status="ok",
                )
            )
    return out


def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def wait_while_progressing(
    predicate: Callable[[], bool], progress: Callable[[], object], stall_s: float, step_s: float = 0.2
) -> bool:
    """True once `predicate` holds; False only when it does not and `progress()` (say, rows
    stored so far) has not changed for `stall_s`. A loaded machine drains a long stream slowly
    but steadily: the test fails on a stall, not on a slow clock."""
    last, since = progress(), time.monotonic()
    while not predicate():
        now = progress()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return predicate()
        time.sleep(step_s)
    return True


def produce(publisher: Publisher, messages: list, pause_s: float) -> threading.Thread:
    """A daemon thread that publishes `messages` through `publisher` one every `pause_s` seconds,
    as a camera would while the test breaks something."""

    def run() -> None:
        for message in messages:
            publisher.publish_aggregate(message)
            time.sleep(pause_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class Collector:
    """A plain subscriber that records every (topic, payload) it gets, duplicates included.

    confirm: also confirm every aggregate it gets, as the ingest does after its commit
    (dashboard/confirm.Confirmer, flushed every CONFIRM_EVERY_S as the ingest's batches would
    be), so that an edge publisher empties its outbox without a database.
    """

    CONFIRM_EVERY_S = 0.05

    def __init__(
        self,
        url: str,
        topic: str,
        client_id: str = "collector",
        username: str | None = None,
        password: str | None = None,
        confirm: bool = False,
    ):
        address = BrokerAddress.parse(url)
        self.messages: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.confirmer = None
        if confirm:
            from dashboard.confirm import Confirmer

            publish = lambda t, p: self.client.publish(t, p, qos=1)  # noqa: E731
            self.confirmer = Confirmer(publish, max_delay_s=self.CONFIRM_EVERY_S)
            threading.Thread(target=self._confirm_loop, daemon=True).start()
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), f"collector could not subscribe to {topic}"

    def _on_message(self, client, userdata, message) -> None:
        self.messages.append((message.topic, message.payload))
        if self.confirmer is not None:
            with self._lock:
                self.confirmer.settled([(message.topic, message.payload)])

    def _confirm_loop(self) -> None:
        while not self._closed.wait(self.CONFIRM_EVERY_S):
            with self._lock:
                self.confirmer.flush()

    def close(self) -> None:
        self._closed.set()
        self.client.disconnect()
        self.client.loop_stop()


class IngestThread:
    """dashboard.ingest.Ingest running in a thread of the test process, on its own database."""

    def __init__(
        self, broker_url: str, db_url: str, client_id: str | None = "ingest-test", batch_max: int = 500
    ):
        """client_id None: the ingest's own default (unguessable under a password)."""
        from dashboard.ingest import Ingest
        from dashboard.storage import Storage
        from footfall_core.store import Mqtt

        self.storage = Storage(db_url)
        self.storage.migrate()
        self.ingest = Ingest(
            self.storage, Mqtt(url=broker_url), group="test", client_id=client_id, batch_max=batch_max
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.ingest.run, args=(self.stop,), daemon=True)

    def start(self) -> IngestThread:
        self.thread.start()
        assert self.ingest.connected.wait(10), "ingest did not connect"
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "ingest did not stop"


def stored_ids(storage) -> list[str]:
    """Every aggregate id the database has stored (one row per id by construction)."""
    import sqlalchemy as sa

    from dashboard import tables

    with storage.engine.connect() as conn:
        return list(conn.scalars(sa.select(tables.ingested.c.id)))


def _plain(table: str, value):
    """A column value that compares across SQLite and PostgreSQL (see `assert_same_content`)."""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes) and table.startswith("grid"):
        from dashboard.cells import HEAT, unpack

        grid = unpack(value, HEAT)
        return tuple(zip(grid["ix"].tolist(), grid["iy"].tolist(), grid["value"].tolist()))
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    return value


def fingerprint(storage) -> dict[str, list]:
    """Every raw and rollup row, minus arrival times: equal only if each message counted once."""
    import sqlalchemy as sa

    from dashboard import tables

    skip = {"received_at", "created_at", "status_at", "status"}
    out = {}
    with storage.engine.connect() as conn:
        for table in [
            *tables.RAW.values(),
            *[t for grain in tables.ROLLUPS.values() for t in grain.values()],
        ]:
            columns = [c for c in table.columns if c.name not in skip]
            rows = [tuple(_plain(table.name, v) for v in row) for row in conn.execute(sa.select(*columns))]
            key = lambda row: repr([v for v in row if not isinstance(v, (float, tuple))])  # noqa: E731
            out[table.name] = sorted(rows, key=key)
    return out


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-4)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_content(got: dict[str, list], want: dict[str, list]) -> None:
    """Equal tables, floats within float32 summation error (batches add in another order)."""
    assert got.keys() == want.keys()
    for name in want:
        assert len(got[name]) == len(want[name]), f"{name}: {len(got[name])} rows, expected {len(want[name])}"
        for g, w in zip(got[name], want[name]):
            assert _close(g, w), f"{name}: {g} != {w}"


def assert_stored_exactly_once(storage, messages: list, workdir) -> None:
    """The database holds each of `messages` once and nothing else: their ids, and the rows
    that writing them directly would give (`reference_fingerprint`, built in `workdir`)."""
    assert sorted(stored_ids(storage)) == sorted(m.id for m in messages)
    assert_same_content(fingerprint(storage), reference_fingerprint(messages, workdir))


def reference_fingerprint(messages: list, workdir) -> dict[str, list]:
    """What a database holds when every message is written exactly once, directly (SQLite)."""
    from dashboard.storage import Storage

    storage = Storage(f"sqlite:///{workdir}/reference.sqlite3")
    storage.migrate()
    storage.write_aggregates(messages)
    return fingerprint(storage)


def run_edge(argv: list[str] | None = None) -> None:
    """A stand-alone edge publisher for crash tests: puts aggregates `start`.. of a fixed
    sequence (from `--first-bucket`, the test's START: another process computes its own) into
    the outbox one by one, printing `put <i>` after each commit."""
    import argparse
    import sys

    from edge.outbox import Outbox
    from edge.publisher import Publisher
    from footfall_core.store import Mqtt

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--buckets", type=int, required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--delay-s", type=float, default=0.01)
    parser.add_argument("--first-bucket", required=True, help="the sequence's first bucket (ISO 8601)")
    args = parser.parse_args(argv)
    first = datetime.fromisoformat(args.first_bucket)
    messages = make_aggregates("shop-1", ["cam1", "cam2"], args.buckets, start=first)
    publisher = Publisher(
        Mqtt(url=args.url),
        "shop-1",
        ["cam1", "cam2"],
        Outbox(args.outbox),
        client_id="edge-crash-test",
        window=20,
    ).start()
    for i in range(args.start, len(messages)):
        publisher.publish_aggregate(messages[i])
        print(f"put {i}", flush=True)
        time.sleep(args.delay_s)
    publisher.drain(60)
    print("drained", flush=True)
    publisher.close()
    sys.exit(0)


if __name__ == "__main__":
    run_edge()
