"""A property-based fuzzer (hypothesis) over the contract and the centre's write path.

Each example is a stream of payloads that goes through what the ingest does with a batch
(`dashboard.intake.settle`, then the dead letters), in batches of a drawn size, into a fresh
database: valid messages, mutated ones (a value, a key, the topic, the end cut off) and hostile
ones (nesting 100,000 deep, binary noise, integers of 2^70 and 10,000 digits, NaN and
infinities, dates from year 1 to 9999, cells off the plan, wrong types), with ids repeating,
same or other content. The properties, for every stream:
- no exception escapes;
- every valid payload is stored exactly once: the ids in `ingested` and their content hashes
  are those of the first arrival of each id, as if written one at a time in order, and the raw
  tables hold one row per stored message (per zone, line and transition);
- every other payload is dead-lettered once, with its reason code: the known ones for
  hostile payloads (`contract`, `clock`, `plan`), a conflict for the same id with other
  content, `registry` past the store's cap.

The oracle (`Centre`) decides plan, duplicates, conflicts and caps on its own; whether a
mutated payload is still valid is the contract's call (`intake.read`), and the property for it
is that it ends in exactly one place. The slow test runs at least 100,000 payloads on SQLite and
5,000 on PostgreSQL; the fast one about a thousand on each.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import intake
from dashboard import tables as t
from dashboard.admission import PLAN_MARGIN_CELLS, UNPLANNED_EXTENT_M
from dashboard.storage import Storage, now_utc
from footfall_core.contract import (
    ContractError,
    FlowsAggregate,
    GridAggregate,
    HealthAggregate,
    LineCount,
    LinesAggregate,
    Transition,
    ZonesAggregate,
    ZoneStats,
    agg_topic,
)

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
PLANS = {"fz": (20.0, 10.0), "fy": None}  # fy is registered by its messages, without a plan
CAP = 3  # cameras, zones and lines a store may register (each)
CAMERAS, ZONES, LINES = ["c0", "c1", "c2", "c3"], ["a", "b", "c", "d"], ["l1", "l2", "l3", "l4"]
RETENTION_S = 14 * 86_400
STREAM_SIZE = (50, 150)  # payloads in one example's stream


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _extent(store: str, cell_m: float) -> tuple[int, int]:
    width_m, height_m = PLANS[store] or (UNPLANNED_EXTENT_M, UNPLANNED_EXTENT_M)
    return math.ceil(width_m / cell_m) + PLAN_MARGIN_CELLS, math.ceil(height_m / cell_m) + PLAN_MARGIN_CELLS


# ---- valid messages ------------------------------------------------------------------------
#
# A valid message is built from one drawn seed by a plain random generator biased towards the
# limits (0, the largest value, the last cell of the plan): drawing every number through
# hypothesis costs 10-50 times more, and what hypothesis shrinks here is the stream (which
# payloads, which mutation, which hostile kind), not the numbers inside a valid message.


def _number(rng: random.Random, high: float, integer: bool = False):
    """0, `high` or anything between, as a camera could report."""
    pick = rng.random()
    value = 0 if pick < 0.15 else high if pick < 0.3 else rng.uniform(0, high)
    return int(value) if integer else float(value)


def _cells(rng: random.Random, store: str, cell_m: float, value) -> list:
    across, down = _extent(store, cell_m)
    chosen = {(rng.randrange(across), rng.randrange(down)) for _ in range(rng.randrange(7))}
    if rng.random() < 0.2:
        chosen.add((across - 1, down - 1))  # the last cell with the margin: on the plan
    return [(ix, iy, value()) for ix, iy in sorted(chosen)]


def build_valid(seed: int):
    """A message within every limit, in the clock window and on the plan; few distinct buckets,
    so that ids repeat (duplicates and conflicts)."""
    rng = random.Random(seed)
    s = rng.choice([60, 300, 3600])
    newest = NOW.timestamp() // s * s
    back = rng.randrange(4) if rng.random() < 0.8 else rng.randrange((RETENTION_S - 3600) // s)
    common = dict(
        store=rng.choice(sorted(PLANS)),
        camera=rng.choice(CAMERAS),
        bucket_start=datetime.fromtimestamp(newest - back * s, UTC),
        bucket_s=s,
        covered_s=_number(rng, s),
        simulated=rng.random() < 0.5,
    )
    kind = rng.choice(["grid", "zones", "lines", "flows", "health"])
    if kind == "grid":
        cell_m = rng.choice([0.5, 1.0])
        cells = _cells(rng, common["store"], cell_m, lambda: _number(rng, s))
        return GridAggregate(**common, cell_m=cell_m, cells=cells)
    if kind == "zones":
        zones = [
            ZoneStats(
                zone=z,
                mean_occupancy=_number(rng, 1000),
                max_occupancy=_number(rng, 1000, integer=True),
                person_seconds=_number(rng, 1000 * s),
                entries=_number(rng, 50 * s, integer=True),
                dwells_s=[_number(rng, 7 * 86_400) for _ in range(rng.randrange(3))],
            )
            for z in rng.sample(ZONES, rng.randrange(4))
        ]
        return ZonesAggregate(**common, zones=zones)
    if kind == "lines":
        lines = [
            LineCount(line=n, in_count=_number(rng, 50 * s, True), out_count=_number(rng, 50 * s, True))
            for n in rng.sample(LINES, rng.randrange(4))
        ]
        return LinesAggregate(**common, lines=lines)
    if kind == "flows":
        flow_cell_m = rng.choice([1.0, 2.0])
        pairs = sorted({(rng.choice(ZONES), rng.choice(ZONES)) for _ in range(rng.randrange(4))})
        bins = lambda: [_number(rng, 1000, integer=True) for _ in range(8)]  # noqa: E731
        return FlowsAggregate(
            **common,
            flow_cell_m=flow_cell_m,
            transitions=[
                Transition(from_zone=a, to_zone=b, count=_number(rng, 50 * s, True)) for a, b in pairs
            ],
            directions=_cells(rng, common["store"], flow_cell_m, bins),
        )
    frames = 240 * s
    return HealthAggregate(
        **common,
        frames_read=_number(rng, frames, True),
        frames_analysed=_number(rng, frames, True),
        frames_dropped=_number(rng, frames, True),
        detector_ms_mean=_number(rng, 3_600_000),
        detector_ms_max=_number(rng, 3_600_000),
        source_status=rng.choice(["ok", "reconnecting", "ended", "error"]),
        reconnects=_number(rng, frames, True),
    )


def valid_message() -> st.SearchStrategy:
    return st.integers(0, 2**32).map(build_valid)


# ---- mutated and hostile payloads ---------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class Sent:
    """One payload on its topic, and what it must become when known in advance (None: valid or
    invalid as the contract says)."""

    topic: str
    payload: bytes
    code: str | None = None


def _sent(message, data: dict | None = None, code: str | None = None, topic: str | None = None) -> Sent:
    body = message.to_json() if data is None else json.dumps(data, allow_nan=True).encode()
    return Sent(topic or agg_topic(message.store, message.camera), body, code)


@st.composite
def mutated(draw) -> Sent:
    """A valid message with one thing changed: any key's value, a key gone or added, the payload
    cut short, another camera's topic. Valid or not, as the contract says."""
    message = draw(valid_message())
    data = json.loads(message.to_json())
    how = draw(st.sampled_from(["value", "drop", "add", "cut", "topic"]))
    if how == "value":
        data[draw(st.sampled_from(sorted(data)))] = draw(JSON)
    elif how == "drop":
        del data[draw(st.sampled_from(sorted(data)))]
    elif how == "add":
        data[draw(st.text(min_size=1, max_size=10))] = draw(JSON)
    elif how == "cut":
        body = message.to_json()
        return Sent(agg_topic(message.store, message.camera), body[: draw(st.integers(0, len(body) - 1))])
    else:
        return _sent(message, topic=agg_topic(message.store, draw(st.sampled_from(CAMERAS + ["x"]))))
    return _sent(message, data)


@st.composite
def hostile(draw) -> Sent:
    """Payloads no camera sends, each with the reason it must be dead-lettered for."""
    message = draw(valid_message())
    topic = agg_topic(message.store, message.camera)
    data = json.loads(message.to_json())
    how = draw(st.sampled_from(["nesting", "noise", "huge", "nan", "far", "off-plan", "type"]))
    if how == "nesting":
        depth = draw(st.integers(1_000, 100_000))
        return Sent(topic, draw(st.sampled_from([b"[", b'{"a":', b'{"zones":['])) * depth, "contract")
    if how == "noise":
        return Sent(topic, draw(st.binary(max_size=2000)), "contract")
    if how == "huge":  # 2^70 and up, past the 4,300 digits Python converts
        numbers = [k for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)]
        data[draw(st.sampled_from(numbers))] = "HUGE"
        digits = str(2**70) if draw(st.booleans()) else "9" * draw(st.integers(22, 10_000))
        return Sent(topic, json.dumps(data).replace('"HUGE"', digits).encode(), "contract")
    if how == "nan":
        data["covered_s"] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        return _sent(message, data, "contract")
    if how == "far":
        s = message.bucket_s
        earliest = datetime(1, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        latest = datetime(9999, 12, 31, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        window = (NOW.timestamp() - RETENTION_S - s, NOW.timestamp() + 300 + s)
        past = st.integers(int(earliest.total_seconds()) // s + 1, int(window[0]) // s)
        future = st.integers(int(window[1]) // s + 1, int(latest.total_seconds()) // s)
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(past | future) * s)
        data["bucket_start"] = start.isoformat().replace("+00:00", "Z")
        return _sent(message, data, "clock")
    if how == "off-plan" and isinstance(message, GridAggregate | FlowsAggregate):
        cell_m = message.cell_m if isinstance(message, GridAggregate) else message.flow_cell_m
        across, down = _extent(message.store, cell_m)
        if draw(st.booleans()):
            off = [draw(st.integers(across, 40_000)), draw(st.integers(0, down - 1))]
        else:
            off = [draw(st.integers(0, across - 1)), draw(st.integers(down, 40_000))]
        key = "cells" if isinstance(message, GridAggregate) else "directions"
        extra = [*off, 1.0] if key == "cells" else [*off, [1] * 8]
        data[key] = [*data[key], extra]
        return _sent(message, data, "plan")
    data[draw(st.sampled_from(["zones", "lines", "cells", "directions", "transitions"]))] = draw(
        st.sampled_from(["x", {"a": 1}, [[[[]]]], True, None])
    )
    return _sent(message, data, "contract")


# A stream and the ingest's batch size: mostly all in one (as under load), else small batches or
# one at a time.
STREAM = st.tuples(
    st.lists(
        st.one_of(valid_message().map(_sent), mutated(), hostile()),
        min_size=STREAM_SIZE[0],
        max_size=STREAM_SIZE[1],
    ),
    st.sampled_from([500, 500, 500, 500, 25, 1]),
)


# ---- the oracle -----------------------------------------------------------------------------


@dataclass
class Centre:
    """What the centre must hold after a stream, decided one payload at a time in order."""

    stored: dict[str, bytes] = field(default_factory=dict)  # id -> content of its first arrival
    names: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    letters: Counter = field(default_factory=Counter)  # (topic, code, sha256 of the payload kept)

    def receive(self, sent: Sent) -> None:
        try:
            message = intake.read(sent.payload, sent.topic, NOW)
        except ContractError as exc:
            assert sent.code in (None, exc.code), f"{sent.code} payload refused as {exc.code}: {exc}"
            self.letters[(sent.topic, exc.code, _sha(sent.payload))] += 1
            return
        assert sent.code in (None, "plan"), f"a {sent.code} payload was read as valid: {sent.payload[:200]}"
        body, topic = message.to_json(), agg_topic(message.store, message.camera)
        if not self._on_plan(message):
            self.letters[(topic, "plan", _sha(body))] += 1
            return
        assert sent.code is None, f"an off-plan payload was found on the plan: {sent.payload[:200]}"
        if message.id in self.stored:
            if self.stored[message.id] != body:
                self.letters[(topic, "conflict", _sha(body))] += 1
            return
        wanted = self._names(message)
        known = {kind: self.names.setdefault((message.store, kind), set()) for kind in wanted}
        if any(len(known[kind] | wanted[kind]) > CAP for kind in wanted):
            self.letters[(topic, "registry", _sha(body))] += 1
            return
        for kind in wanted:
            known[kind] |= wanted[kind]
        self.stored[message.id] = body

    def _on_plan(self, message) -> bool:
        if isinstance(message, GridAggregate):
            cell_m, cells = message.cell_m, message.cells
        elif isinstance(message, FlowsAggregate):
            cell_m, cells = message.flow_cell_m, message.directions
        else:
            return True
        across, down = _extent(message.store, cell_m)
        return all(c[0] < across and c[1] < down for c in cells)

    @staticmethod
    def _names(message) -> dict[str, set[str]]:
        zones = {z.zone for z in getattr(message, "zones", [])}
        zones |= {z for tr in getattr(message, "transitions", []) for z in (tr.from_zone, tr.to_zone)}
        return dict(camera={message.camera}, zone=zones, line={c.line for c in getattr(message, "lines", [])})


# ---- the run --------------------------------------------------------------------------------


class Fuzz:
    """A fresh centre database per example (SQLite: a copy of a migrated file; PostgreSQL: the
    tables emptied), the store `fz` registered with its plan."""

    def __init__(self, db_url: str, workdir: Path):
        self.db_url, self.workdir = db_url, workdir
        self.sqlite = db_url.startswith("sqlite")
        self.storage = Storage(db_url, names_cap=CAP)
        self.storage.migrate()
        self.storage.engine.dispose()
        if self.sqlite:
            self.template = workdir / "template.sqlite3"
            shutil.copy(self.storage.engine.url.database, self.template)
        self.payloads = 0

    def fresh(self) -> Storage:
        if self.sqlite:
            self.storage.engine.dispose()
            shutil.copy(self.template, self.storage.engine.url.database)
        else:
            with self.storage.engine.begin() as conn:
                names = ", ".join(table.name for table in t.metadata.sorted_tables)
                conn.execute(sa.text(f"TRUNCATE {names}"))
        width_m, height_m = PLANS["fz"]
        with self.storage.engine.begin() as conn:
            conn.execute(
                sa.insert(t.stores),
                dict(id="fz", name="fz", tags=[], width_m=width_m, height_m=height_m, created_at=now_utc()),
            )
        return self.storage

    def run(self, stream: list[Sent], batch_max: int) -> None:
        storage, centre = self.fresh(), Centre()
        for sent in stream:
            centre.receive(sent)
        for first in range(0, len(stream), batch_max):  # as Ingest._store does with each batch
            part = stream[first : first + batch_max]
            settled = intake.settle(storage, [(s.topic, s.payload) for s in part], NOW)
            storage.add_dead_letters(
                [(part[k].topic, part[k].payload, code, reason) for k, code, reason in settled.letters]
            )
        self.payloads += len(stream)
        self.check(storage, centre, len(stream))

    @staticmethod
    def check(storage: Storage, centre: Centre, sent: int) -> None:
        with storage.engine.connect() as conn:
            ingested = {
                i: bytes(h) for i, h in conn.execute(sa.select(t.ingested.c.id, t.ingested.c.content_sha256))
            }
            letters: Counter = Counter()
            for d in conn.execute(
                sa.select(
                    t.dead_letters.c.topic,
                    t.dead_letters.c.code,
                    t.dead_letters.c.payload_sha256,
                    t.dead_letters.c.received_count,
                )
            ):  # one row per payload, topic and code, counting each time it arrived
                letters[(d.topic, d.code, d.payload_sha256)] += d.received_count
            raw = {
                table.name: conn.scalar(sa.select(sa.func.count()).select_from(table))
                for table in t.RAW.values()
            }
        assert ingested == {i: hashlib.sha256(body).digest() for i, body in centre.stored.items()}
        assert letters == centre.letters
        kinds = Counter(json.loads(body)["kind"] for body in centre.stored.values())
        rows = Counter()
        for body in centre.stored.values():
            data = json.loads(body)
            rows["zone_minutes"] += len(data.get("zones", []))
            rows["line_minutes"] += len(data.get("lines", []))
            rows["transition_minutes"] += len(data.get("transitions", []))
        expected = dict(
            grid_minutes=kinds["grid"],
            direction_minutes=kinds["flows"],
            health_minutes=kinds["health"],
            **{k: rows[k] for k in ("zone_minutes", "line_minutes", "transition_minutes")},
        )
        assert raw == expected
        assert len(ingested) + sum(letters.values()) <= sent


def _fuzz(db_url: str, workdir: Path, examples: int) -> int:
    fuzz = Fuzz(db_url, workdir)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(STREAM)
    def stream_ends_stored_or_dead_lettered(case):
        stream, batch_max = case
        fuzz.run(stream, batch_max)

    stream_ends_stored_or_dead_lettered()
    return fuzz.payloads


def test_fuzz_the_contract_and_the_write_path(db_url, tmp_path):
    assert _fuzz(db_url, tmp_path, 10) >= 10 * STREAM_SIZE[0]


@pytest.mark.slow
def test_fuzz_100k_payloads(db_url, tmp_path):
    """At least 100,000 payloads on SQLite (about 1,250 streams of 50-150), 5,000 on PostgreSQL."""
    want = 100_000 if db_url.startswith("sqlite") else 5_000
    assert _fuzz(db_url, tmp_path, want // 80) >= want
