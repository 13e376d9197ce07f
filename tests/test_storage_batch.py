"""A batch's rollups are folded in Python before one bulk write per table: that must leave the
database as writing the same messages one by one does (both backends). Integers, names, times
and grid cells must match exactly; sums of floats only up to their rounding, since the batch
adds its own sum to the stored one ((a + b) + c becomes a + (b + c))."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa

from dashboard import cells
from dashboard import tables as t
from dashboard.rollups import insert
from dashboard.storage import Storage
from tests.transport_support import make_aggregates

# Set when a row is written, so they differ between two writes of the same messages.
WRITE_TIMES = {"received_at", "created_at"}


def chain() -> list:
    """Two stores × two cameras × 40 one-minute buckets × five kinds, interleaved as a broker
    would deliver them. Buckets run 22:40–23:20 UTC: across a UTC hour, and across local
    midnight in Paris (the second store), so hour and day rows of both grains are shared."""
    start = datetime(2026, 3, 2, 22, 40, tzinfo=UTC)
    streams = [
        make_aggregates(store, ["cam1", "cam2"], 40, start=start, seed=k)
        for k, store in enumerate(("shop-utc", "shop-paris"))
    ]
    return [m for pair in zip(*streams) for m in pair]


def snapshot(storage: Storage) -> dict[str, list[dict]]:
    """Every row of every table in key order, less the write times; packed grids unpacked."""
    out = {}
    with storage.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            names = [c.name for c in table.columns if c.name not in WRITE_TIMES]
            query = sa.select(*(table.c[n] for n in names)).order_by(*table.primary_key.columns)
            rows = [dict(row) for row in conn.execute(query).mappings()]
            dtype = cells.HEAT if table.name.startswith("grid") else cells.DIRECTIONS
            for row in rows:
                if "cells" in row:
                    row["cells"] = cells.unpack(row["cells"], dtype)
            out[table.name] = rows
    return out


def assert_same_rows(got: list[dict], want: list[dict], table: str) -> None:
    assert len(got) == len(want), table
    for mine, theirs in zip(got, want):
        assert mine.keys() == theirs.keys()
        for name, value in theirs.items():
            where = f"{table}.{name} of {theirs}"
            if name == "cells":
                assert mine[name][["ix", "iy"]].tolist() == value[["ix", "iy"]].tolist(), where
                np.testing.assert_allclose(mine[name]["value"], value["value"], rtol=1e-6, err_msg=where)
            elif isinstance(value, float):
                assert mine[name] == pytest.approx(value, rel=1e-12), where
            else:
                assert mine[name] == value, where


def fresh(storage: Storage) -> None:
    """Empty every table, then register the two stores (the second one in Paris time)."""
    with storage.engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(sa.delete(table))
        conn.execute(
            sa.insert(t.stores),
            [
                dict(id=store, name=store, tags=[], timezone=zone, created_at=datetime(2026, 1, 1))
                for store, zone in (("shop-utc", "UTC"), ("shop-paris", "Europe/Paris"))
            ],
        )


def test_one_batch_leaves_the_same_database_as_one_message_at_a_time(db_url):
    storage = Storage(db_url)
    storage.migrate()
    messages = chain()
    head, rest = messages[:30], messages[30:]
    # A redelivery mix: ids already stored, and repeats within the batch.
    batch = rest + random.Random(4).sample(head + rest, 60)

    fresh(storage)
    assert sum(len(storage.write_aggregates([m]).stored) for m in messages) == len(messages)
    one_by_one = snapshot(storage)

    fresh(storage)
    assert len(storage.write_aggregates(head).stored) == len(head)
    assert len(storage.write_aggregates(batch).stored) == len(rest)
    batched = snapshot(storage)

    assert len(one_by_one["grid_hours"]) == 2 * 2 * 2 and len(one_by_one["zone_days"]) == 2 * 2 * 3
    assert len(one_by_one["ingested"]) == len(messages) == 800
    for table in t.metadata.sorted_tables:
        assert_same_rows(batched[table.name], one_by_one[table.name], table.name)


def test_bulk_insert_takes_whole_numbers_in_float_columns(db_url):
    # PostgreSQL gets each column as one binary array, which holds a single type.
    storage = Storage(db_url)
    storage.migrate()
    fresh(storage)
    start = datetime(2026, 3, 2, 9, 0)
    rows = [
        dict(
            store_id="shop-utc",
            camera="cam1",
            line="door",
            bucket_start=start,
            bucket_s=60,
            covered_s=covered_s,
            in_count=1,
            out_count=0,
            simulated=False,
        )
        for covered_s in (60, 2.5)
    ]
    rows[1]["line"] = "back"
    with storage.engine.begin() as conn:
        insert(conn, t.line_minutes, rows)
    assert sorted(r["covered_s"] for r in snapshot(storage)["line_minutes"]) == [2.5, 60.0]
