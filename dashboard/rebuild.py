"""`python -m dashboard rollups rebuild --store ID [--since ISO]`: a store's camera health rollups
(`health_hours`, `health_days`) computed again from its raw health rows (`health_minutes`).

Health rollups (migration 0003) start with the messages stored after that upgrade, while raw
health rows of the 14 days before it are still there: this fills them in. Each raw row is turned
back into its contract message and goes through the ingest's own `kinds.accumulate`, so the
sums are the ingest's.

Only hours and local days that start at or after both `--since` and the store's oldest raw health
row are rebuilt: an earlier period may hold buckets whose raw rows were pruned, and is left as it
is. Their rows are deleted and written again in one transaction (on PostgreSQL under the ingest's
per-store lock), so a second run gives the same rows.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.kinds import accumulate
from dashboard.rollups import Rows, StoreClock, upsert
from dashboard.settings import add_db_argument
from dashboard.storage import STORE_LOCKS, Storage, utc_naive
from footfall_core.contract import HealthAggregate

log = logging.getLogger(__name__)

# health_minutes columns that are HealthAggregate fields of the same name
HEALTH_FIELDS = (
    "bucket_s",
    "covered_s",
    "simulated",
    "frames_read",
    "frames_analysed",
    "frames_dropped",
    "detector_ms_mean",
    "detector_ms_max",
    "source_status",
    "reconnects",
)


def rebuild_health(
    conn: sa.Connection, store_id: str, since: datetime | None = None
) -> tuple[datetime | None, dict[str, int]]:
    """Rebuild a store's health rollups from its raw rows (see the module docstring). Returns the
    start of what was rebuilt (naive UTC; None when the store has no raw health row) and the rows
    written per table. Raises ValueError for an unknown store."""
    tz_name = conn.scalar(sa.select(t.stores.c.timezone).where(t.stores.c.id == store_id))
    if tz_name is None:
        raise ValueError(f"--store {store_id}: no such store")
    if conn.dialect.name == "postgresql":
        conn.execute(STORE_LOCKS, {"stores": [store_id]})  # no ingest of this store meanwhile
    h = t.health_minutes.c
    oldest = conn.scalar(sa.select(sa.func.min(h.bucket_start)).where(h.store_id == store_id))
    if oldest is None:
        return None, {}
    start = max(oldest, utc_naive(since)) if since else oldest
    clock, raw, rollups = StoreClock(tz_name), Rows(), Rows()  # raw: already stored, left unused
    query = (
        sa.select(t.health_minutes)
        .where((h.store_id == store_id) & (h.bucket_start >= start))
        .order_by(h.bucket_start, h.camera)
    )
    for row in conn.execute(query).mappings():
        message = HealthAggregate(
            store=store_id,
            camera=row["camera"],
            bucket_start=row["bucket_start"].replace(tzinfo=UTC),
            **{name: row[name] for name in HEALTH_FIELDS},
        )
        accumulate(message, clock, raw, rollups)
    computed = dict(rollups.items())
    written = {}
    for table in (t.health_hours, t.health_days):
        conn.execute(sa.delete(table).where((table.c.store_id == store_id) & (table.c.period_start >= start)))
        rows = [r for r in computed.get(table, []) if r["period_start"] >= start]  # whole periods only
        upsert(conn, table, rows)
        written[table.name] = len(rows)
    return start, written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    rebuild = actions.add_parser("rebuild", help="compute a store's health rollups again from raw rows")
    rebuild.add_argument("--store", required=True, help="store id")
    rebuild.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="ISO date or time (naive = UTC); default: the store's oldest raw health row",
    )


def main(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    storage.migrate()
    try:
        with storage.engine.begin() as conn:
            start, written = rebuild_health(conn, args.store, args.since)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if start is None:
        print(f"{args.store}: no raw health rows, nothing to rebuild")
    else:
        counts = ", ".join(f"{n} {table} rows" for table, n in written.items())
        print(f"{args.store}: health rollups from {start:%Y-%m-%d %H:%M} UTC rebuilt: {counts}")
    return 0
