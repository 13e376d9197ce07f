"""`Storage.write_aggregates` alone (no broker): the transport benchmark's mix, in ingest-sized batches.

Builds `--count` contract aggregates from `--stores` simulated stores (the same round-robin mix as
bench/transport.py: grid, zones, lines, flows and health per one-minute bucket) and writes them in
batches of `--batch` (the ingest's default, 500) into a temp SQLite file and a fresh PostgreSQL
database (dropped afterwards). Prints messages/s per backend: the ceiling of the ingest's rate.

    .venv/bin/python bench/write_path.py [--count 20000] [--stores 200] [--batch 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.storage import Storage  # noqa: E402
from tests.databases import scratch_database  # noqa: E402
from tests.transport_support import make_aggregates  # noqa: E402

PG_ADMIN = os.environ.get("FOOTFALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def messages(stores: int, count: int) -> list:
    """Round-robin over stores, each store walking through its own one-minute buckets."""
    per_store = -(-count // stores)
    streams = [make_aggregates(f"store-{s:04d}", ["cam1"], -(-per_store // 5), seed=s) for s in range(stores)]
    return [stream[i] for i in range(per_store) for stream in streams][:count]


def measure(label: str, url: str, batches: list[list]) -> None:
    storage = Storage(url)
    storage.migrate()
    storage.write_aggregates(batches[0])  # warm-up: connection, registration of the stores
    started = time.perf_counter()
    written = sum(len(storage.write_aggregates(batch).stored) for batch in batches[1:])
    elapsed_s = time.perf_counter() - started
    storage.engine.dispose()
    print(
        f"{label:10s} {written:6d} messages in {elapsed_s:5.1f} s: {written / elapsed_s:6.0f} msg/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20_000, help="aggregates written (default 20000)")
    parser.add_argument("--stores", type=int, default=200, help="simulated stores (default 200)")
    parser.add_argument(
        "--batch", type=int, default=500, help="messages per write_aggregates call (default 500)"
    )
    parser.add_argument("--backends", default="sqlite,postgres", help="comma list (default sqlite,postgres)")
    args = parser.parse_args()
    every = messages(args.stores, args.count + args.batch)
    batches = [every[i : i + args.batch] for i in range(0, len(every), args.batch)]
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
                measure("sqlite", f"sqlite:///{tmp}/bench.sqlite3", batches)
            continue
        with scratch_database(PG_ADMIN, "footfall_bench") as url:
            measure("postgresql", url, batches)


if __name__ == "__main__":
    main()
