"""Benchmark: trends and comparison API latency at HQ scale, on PostgreSQL.

Builds a year of rollups for 1,000 stores in a throw-away PostgreSQL database, then prints the
p50/p95 latency of GET /api/v1/stores/{id}/trends (one store-week) and GET /api/v1/compare (all
stores, one week), in-process through the FastAPI app (routing, auth, SQL, JSON).

How the year is made in a few minutes on 2 cores: 8 template stores get one week of simulated
hourly aggregates through the real write path (dashboard.seed → Storage.write_aggregates); the
database then copies their rollups server-side (INSERT ... SELECT) to 1,000 stores × 52 weeks,
each store scaled by its own factor. What is copied for the whole year: zone_days, line_days,
grid_days and grid_hours (totals): everything compare and trends read by time. Day heat and
direction blobs are kept for the last 2 weeks only (hour blobs not at all: no API reads them),
transitions for the last 8 weeks, and the other hour tables are left out: trends reads those
for one store-week through the (store_id, local_date) index, so older rows cost disk, not
latency. A scratch database is created and dropped (Ctrl-C included).

    FOOTFALL_BENCH_PG=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard_api.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import auth, seed
from dashboard import tables as t
from dashboard.storage import Storage
from tests.databases import scratch_database

TEMPLATES = 8
KEYS = {"store_id", "camera", "zone", "line", "from_zone", "to_zone", "cell_m", "flow_cell_m"}
FIXED = {"period_start", "local_date", "local_hour", "local_weekday", "covered_s", "simulated", "cells"}


def replicate(conn: sa.Connection, table: sa.Table, stores: int, weeks: int, blob_weeks: int = 0) -> int:
    """Copy the template stores' rows of `table` to `stores` stores × `weeks` weeks back."""
    exprs = []
    for column in table.c:
        name = column.name
        if name == "store_id":
            exprs.append("m.store_id")
        elif name == "period_start":
            exprs.append("r.period_start - make_interval(days => 7 * w)")
        elif name == "local_date":
            exprs.append("r.local_date - 7 * w")
        elif name == "cells":
            exprs.append(f"CASE WHEN w < {blob_weeks} THEN r.cells END")
        elif name in KEYS or name in FIXED:
            exprs.append(f"r.{name}")
        elif isinstance(column.type, sa.Integer):
            exprs.append(f"round(r.{name} * m.f)::int")
        else:
            exprs.append(f"r.{name} * m.f")
    # In primary-key order: the b-trees then fill left to right (about twice as fast as random order).
    keys = [
        c.name for c in table.primary_key.columns if c.name not in ("store_id", "period_start", "local_date")
    ]
    order = ["m.store_id", *[f"r.{k}" for k in keys], "w DESC", "r.local_date", "r.period_start"]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(c.name for c in table.c)}) SELECT {', '.join(exprs)} "
        f"FROM {table.name} r JOIN (SELECT 'store-' || lpad(s::text, 4, '0') AS store_id, "
        f"'tpl-' || (s % {TEMPLATES}) AS tpl, 0.6 + (s % 17) / 20.0 AS f "
        f"FROM generate_series(1, {stores}) s) m "
        f"ON r.store_id = m.tpl CROSS JOIN generate_series(0, {weeks - 1}) w ORDER BY {', '.join(order)}"
    )
    return conn.execute(sa.text(sql)).rowcount


def copy_registry(conn: sa.Connection, stores: int) -> None:
    mapping = (
        f"(SELECT s, 'store-' || lpad(s::text, 4, '0') AS store_id, 'tpl-' || (s % {TEMPLATES}) AS tpl "
        f"FROM generate_series(1, {stores}) s) m"
    )
    conn.execute(
        sa.text(
            "INSERT INTO stores (id, name, region, tags, timezone, origin_x_m, origin_y_m, width_m, "
            "height_m, plan_image, area_m2, auto_registered, simulated, created_at) "
            "SELECT m.store_id, 'Store ' || m.s, region, tags, timezone, origin_x_m, origin_y_m, width_m, "
            "height_m, plan_image, area_m2, auto_registered, simulated, created_at "
            f"FROM stores r JOIN {mapping} ON r.id = m.tpl"
        )
    )
    for table in (t.zones, t.lines, t.cameras):
        cols = [c.name for c in table.c if c.name != "store_id"]
        conn.execute(
            sa.text(
                f"INSERT INTO {table.name} (store_id, {', '.join(cols)}) SELECT m.store_id, "
                f"{', '.join('r.' + c for c in cols)} FROM {table.name} r "
                f"JOIN {mapping} ON r.store_id = m.tpl"
            )
        )


def build(url: str, stores: int, weeks: int, end: date) -> None:
    storage = Storage(url)
    storage.migrate()
    rng = np.random.default_rng(1)
    templates = []
    for i in range(TEMPLATES):
        store = seed.generated_store(i, rng)
        store.record = store.record.model_copy(
            update={"store": store.record.store.model_copy(update={"id": f"tpl-{i}"})}
        )
        templates.append(store)
    began = time.perf_counter()
    messages = seed.seed(storage, templates, 1, end, rng)
    print(
        f"templates: {TEMPLATES} stores × 1 week, {messages} messages through write_aggregates "
        f"in {time.perf_counter() - began:.1f} s"
    )
    began = time.perf_counter()
    with storage.engine.begin() as conn:
        copy_registry(conn, stores)
        counts = {table.name: replicate(conn, table, stores, weeks) for table in (t.zone_days, t.line_days)}
        counts["grid_days"] = replicate(conn, t.grid_days, stores, weeks, blob_weeks=2)
        counts["grid_hours"] = replicate(conn, t.grid_hours, stores, weeks)  # totals only: cells NULL
        counts["transition_days"] = replicate(conn, t.transition_days, stores, min(weeks, 8))
        counts["direction_days"] = replicate(conn, t.direction_days, stores, min(weeks, 2), blob_weeks=2)
        conn.execute(sa.delete(t.stores).where(t.stores.c.id.like("tpl-%")))
        auth.add_user(conn, "bench", "hq", "bench-password")
    with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(
        f"copied to {stores} stores × {weeks} weeks in {time.perf_counter() - began:.1f} s: "
        + ", ".join(f"{name} {n:,}" for name, n in counts.items())
    )


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(1000 * s for s in samples_s)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms (n={len(ms)})"


def measure(url: str, stores: int, end: date, runs: int) -> None:
    import secrets

    from fastapi.testclient import TestClient

    from dashboard.app import create_app
    from dashboard.settings import Settings

    app = create_app(Settings(db_url=url, secret_key=secrets.token_urlsafe(40), migrate=False))
    with app.state.engine.begin() as conn:
        token = auth.new_token(conn, "bench")
    client = TestClient(app, headers={"authorization": f"Bearer {token}"})
    year, week, _ = (end - timedelta(days=7)).isocalendar()
    rng = random.Random(2)
    trends = []
    for _ in range(runs):
        store = f"store-{rng.randint(1, stores):04d}"
        began = time.perf_counter()
        response = client.get(f"/api/v1/stores/{store}/trends", params=dict(year=year, week=week))
        trends.append(time.perf_counter() - began)
        assert response.status_code == 200 and response.json()["footfall"] > 0, response.text[:300]
    first = date.fromisocalendar(year, week, 1)
    compare = []
    for _ in range(max(10, runs // 10)):
        began = time.perf_counter()
        response = client.get("/api/v1/compare", params=dict(start=first, end=first + timedelta(days=6)))
        compare.append(time.perf_counter() - began)
        assert response.status_code == 200 and len(response.json()["stores"]) == stores
    print(
        f"trends, one store-week ({year}-W{week:02d}, random stores): {percentiles(trends)}"
        "  [target p95 < 300 ms]"
    )
    print(f"compare, all {stores} stores over one week: {percentiles(compare)}  [target p95 < 1000 ms]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("FOOTFALL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="admin URL of the PostgreSQL server (a scratch database is created and dropped)",
    )
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=200, help="trends requests (compare: a tenth)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    end = date.today() - timedelta(days=date.today().weekday())  # this Monday: last week is complete
    with scratch_database(args.pg, "footfall_bench", keep=args.keep) as url:
        build(url, args.stores, args.weeks, end)
        measure(url, args.stores, end, args.runs)
        if args.keep:
            print(f"kept database {url.rsplit('/', 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
