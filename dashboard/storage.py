"""The dashboard's storage: schema migration, the idempotent write path, retention.

`Storage(url).write_aggregates(messages)` is what `dashboard.ingest` calls: in one transaction it
records each message id with its content hash in `ingested` (a redelivered id changes nothing),
stores the raw per-bucket rows, and adds the message to the hour and day rollups of the store's
local time zone. Unknown stores, cameras, zones and lines are registered on the fly with
defaults, up to a cap per store. What it refuses (`dashboard.admission`: off the plan, a
conflict, past the cap or the dedup horizon) is dead-lettered in the same transaction.

On PostgreSQL, concurrent writers (several ingest workers) are serialised per store by an
advisory lock; SQLite has one writer at a time anyway (others wait up to 30 s).

`python -m dashboard migrate --db URL [--prune]` upgrades the schema (and applies retention).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dashboard import tables as t
from dashboard.admission import (
    DEFAULT_NAMES_CAP,
    Outcome,
    Refusal,
    StoreRow,
    Written,
    admit,
    rounds,
    store_rows,
)
from dashboard.kinds import accumulate, writer
from dashboard.rollups import Rows, StoreClock, insert, merged_blobs, upsert
from dashboard.settings import add_db_argument
from footfall_core.contract import Aggregate, CameraAudit, agg_topic

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")

# Retention (docs/storage.md). Message ids are kept longer than the edge outbox keeps messages
# (14 days), so that a redelivery is always recognised; older messages are dead-lettered.
RETENTION = {
    "raw_minutes": timedelta(days=14),
    "ingested_ids": timedelta(days=35),
    "hour_grids": timedelta(days=35),
    "hours": timedelta(days=400),
    "dead_letters": timedelta(days=30),
}
DEAD_LETTER_KEEP_BYTES = 4096
DEAD_LETTER_REASON_CHARS = 2000
# One advisory lock per store, in hash order (what is locked), so that writers never wait in a cycle.
STORE_LOCKS = sa.text(
    "SELECT pg_advisory_xact_lock(h) FROM"
    " (SELECT DISTINCT hashtext(s) AS h FROM unnest(CAST(:stores AS text[])) AS s ORDER BY h) AS locks"
)


def utc_naive(value: datetime) -> datetime:
    """The database convention: naive datetimes in UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_engine(url: str) -> sa.Engine:
    """An engine for a SQLite or PostgreSQL URL; SQLite gets WAL, foreign keys and a busy timeout
    so that ingest and the web app can share one file."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class Storage:
    """The database of one dashboard; `url` is a SQLAlchemy URL (sqlite:///path or
    postgresql+psycopg://user@host/db). `names_cap`: the most cameras, zones and lines (each)
    that messages may register in one store."""

    def __init__(self, url: str, engine: sa.Engine | None = None, names_cap: int = DEFAULT_NAMES_CAP) -> None:
        self.url = url
        self.engine = engine or create_engine(url)
        self.names_cap = names_cap

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    # ---- the write path -------------------------------------------------------------------

    def write_aggregates(self, messages: Sequence[Aggregate]) -> Written:
        """Store aggregates in one transaction. Returns what became of each id: stored (new),
        a duplicate (stored before with the same content) or refused, with its dead letter
        written in the same transaction (`dashboard.admission` says why a message is refused)."""
        if not messages:
            return Written()
        now = now_utc()
        outcome = Outcome()
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Writers of the same store take turns (locks in a fixed order: no deadlock), so
                # that two ingest workers can neither both claim an id nor both merge a new grid.
                conn.execute(STORE_LOCKS, {"stores": sorted({m.store for m in messages})})
            stores = store_rows(conn, {m.store for m in messages})
            raw, rollups = Rows(), Rows()
            for round_ in rounds(messages):
                fresh = admit(conn, round_, stores, self.names_cap, now, outcome)
                for message, clock in zip(fresh, _register(conn, fresh, stores, now)):
                    accumulate(message, clock, raw, rollups)
            add_dead_letter_rows(
                conn,
                [
                    dead_letter_row(agg_topic(m.store, m.camera), m.to_json(), code, reason, now)
                    for m, code, reason in outcome.refused
                ],
            )
            for table, rows in raw.items():
                insert(conn, table, rows)
            for table, rows in rollups.items():
                upsert(conn, table, rows)
            for table, rows in merged_blobs(conn, rollups.blobs).items():
                upsert(conn, table, rows, replace=True)
        return outcome.written()

    def dead_letter(self, topic: str, payload: bytes, reason: str, code: str = "contract") -> None:
        """Keep a message that could not be stored, with why, for 30 days: its first 4 KB, its
        length and its sha256 (`code` is the reason in one word, docs/storage.md)."""
        self.add_dead_letters([(topic, payload, code, reason)])

    def add_dead_letters(self, letters: Sequence[tuple[str, bytes, str, str]]) -> None:
        """Several dead letters, (topic, payload, code, reason) each, in one transaction."""
        if not letters:
            return
        now = now_utc()
        with self.engine.begin() as conn:
            add_dead_letter_rows(conn, [dead_letter_row(*letter, now) for letter in letters])

    def dead_letters(self, limit: int = 1000) -> list[dict]:
        """Newest first: dicts with id, received_at, topic, payload (bytes), reason."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.dead_letters).order_by(t.dead_letters.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    def camera_status(
        self, store: str, camera: str, status: str, at: datetime | None = None
    ) -> Refusal | None:
        """Record a camera's online/offline status (from its retained status message), at `at`
        but never later than now. An unknown camera is registered unless its store has its cap
        of cameras: then nothing is recorded and the refusal (code `registry`) is returned."""
        now = now_utc()
        at = min(utc_naive(at), now) if at else now
        with self.engine.begin() as conn:
            cameras = t.cameras.c
            names = set(conn.scalars(sa.select(cameras.name).where(cameras.store_id == store)))
            if camera not in names and len(names) >= self.names_cap:
                return Refusal(
                    f"{store}/{camera}/status",
                    "registry",
                    f"camera {camera} would give store {store!r} more than {self.names_cap} cameras",
                )
            _ensure_stores(conn, {store})
            _insert_missing(conn, t.cameras, [dict(store_id=store, name=camera)])
            conn.execute(
                sa.update(t.cameras)
                .where(cameras.store_id == store, cameras.name == camera)
                .values(status=status, status_at=at)
            )
        return None

    def camera_audits(self, store: str, audits: Sequence[CameraAudit]) -> None:
        """Keep each camera's latest on-site audit: an audit replaces the camera's rows unless
        they are from a later day (a retained status that arrives again changes nothing)."""
        a = t.line_audits.c
        with self.engine.begin() as conn:
            _ensure_stores(conn, {store})
            for audit in audits:
                where = (a.store_id == store) & (a.camera == audit.camera)
                kept = conn.scalar(sa.select(sa.func.max(a.audited_on)).where(where))
                if kept is not None and kept > audit.date:
                    continue
                conn.execute(sa.delete(t.line_audits).where(where))
                key = dict(store_id=store, camera=audit.camera, audited_on=audit.date, clip_s=audit.clip_s)
                if audit.lines:
                    conn.execute(sa.insert(t.line_audits), [key | line.model_dump() for line in audit.lines])

    # ---- retention ------------------------------------------------------------------------

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Apply the retention policy; returns rows deleted (or blobs cleared) per table."""
        now = utc_naive(now) if now else now_utc()
        done: dict[str, int] = {}
        with self.engine.begin() as conn:
            for table in t.RAW.values():
                done[table.name] = _delete(conn, table, table.c.bucket_start < now - RETENTION["raw_minutes"])
            for table in t.ROLLUPS["hour"].values():
                done[table.name] = _delete(conn, table, table.c.period_start < now - RETENTION["hours"])
            for table in (t.grid_hours, t.direction_hours):
                old = (table.c.period_start < now - RETENTION["hour_grids"]) & table.c.cells.is_not(None)
                done[f"{table.name}.cells"] = conn.execute(
                    sa.update(table).where(old).values(cells=None)
                ).rowcount
            horizon = now - RETENTION["ingested_ids"]
            done["ingested"] = _delete(conn, t.ingested, t.ingested.c.bucket_start < horizon)
            upsert(conn, t.meta, [dict(key="dedup_horizon", value=horizon.isoformat())], replace=True)
            done["dead_letters"] = _delete(
                conn, t.dead_letters, t.dead_letters.c.received_at < now - RETENTION["dead_letters"]
            )
        return done


def _delete(conn: sa.Connection, table: sa.Table, where) -> int:
    return conn.execute(sa.delete(table).where(where)).rowcount


def _insert_missing(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert rows whose primary key is absent; existing rows are left as they are."""
    if rows:
        upsert(conn, table, rows, nothing=True)


def _ensure_stores(conn: sa.Connection, store_ids: Iterable[str]) -> None:
    """Auto-register unknown stores with defaults (UTC, no floor plan), marked auto_registered."""
    wanted = set(store_ids)
    known = set(conn.scalars(sa.select(t.stores.c.id).where(t.stores.c.id.in_(wanted))))
    missing = sorted(wanted - known)
    if missing:
        log.info("auto-registering unknown store(s): %s", ", ".join(missing))
        _insert_missing(
            conn,
            t.stores,
            [dict(id=s, name=s, tags=[], auto_registered=True, created_at=now_utc()) for s in missing],
        )


def dead_letter_row(topic: str, payload: bytes, code: str, reason: str, now: datetime) -> dict:
    """A `dead_letters` row: what arrived cut to DEAD_LETTER_KEEP_BYTES, with its whole length
    and sha256, so that a 1 MiB payload costs 4 KB and can still be recognised."""
    payload = bytes(payload)
    return dict(
        received_at=now,
        topic=_storable(topic)[:300],
        payload=payload[:DEAD_LETTER_KEEP_BYTES],
        payload_bytes=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        code=code,
        reason=_storable(reason)[:DEAD_LETTER_REASON_CHARS],
    )


def add_dead_letter_rows(conn: sa.Connection, rows: list[dict]) -> None:
    """Insert dead letters, one row per payload, topic and code: a device sends what the centre
    has not confirmed again, so a refused payload can arrive twice (a confirmation lost with a
    broker, or later than the device's timeout). A repeat counts in `received_count` and keeps
    the first row's time and reason, so that the table counts payloads, not deliveries."""
    folded: dict[tuple[str, str, str], dict] = {}
    for row in rows:
        key = (row["payload_sha256"], row["topic"], row["code"])
        if key in folded:
            folded[key]["received_count"] += 1
        else:
            folded[key] = {**row, "received_count": 1}
    if not folded:
        return
    insert_ = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    statement = insert_(t.dead_letters)
    statement = statement.on_conflict_do_update(
        index_elements=["payload_sha256", "topic", "code"],
        set_={"received_count": t.dead_letters.c.received_count + statement.excluded.received_count},
    )
    conn.execute(statement, list(folded.values()))


def _storable(text: str) -> str:
    """Text any database column takes: a reason may quote a hostile payload, and PostgreSQL
    refuses NUL characters and both refuse lone surrogates (escaped instead, as Python writes them)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _register(
    conn: sa.Connection, messages: list[Aggregate], stores: dict[str, StoreRow], now: datetime
) -> list[StoreClock]:
    """Register stores, cameras, zones and lines seen in messages; returns each message's store
    clock. A camera's `last_seen` is the end of its newest bucket, never later than `now`."""
    missing = {m.store for m in messages} - set(stores)
    if missing:
        _ensure_stores(conn, missing)
        stores.update({s: StoreRow("UTC", None, None) for s in missing})
    zone_rows, line_rows, last_seen = {}, {}, {}
    for m in messages:
        end = min(now, utc_naive(m.bucket_start) + timedelta(seconds=m.bucket_s))
        last_seen[(m.store, m.camera)] = max(end, last_seen.get((m.store, m.camera), end))
        names = writer(m).names(m)
        zone_rows.update({(m.store, z): dict(store_id=m.store, name=z) for z in names.zones})
        line_rows.update({(m.store, n): dict(store_id=m.store, name=n) for n in names.lines})
    # New cameras are inserted; known ones move `last_seen` forward (never back).
    upsert(conn, t.cameras, [dict(store_id=s, name=c, last_seen=end) for (s, c), end in last_seen.items()])
    _insert_missing(conn, t.zones, list(zone_rows.values()))
    _insert_missing(conn, t.lines, list(line_rows.values()))
    clocks = {store: StoreClock(stores[store].timezone) for store in {m.store for m in messages}}
    return [clocks[m.store] for m in messages]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    parser.add_argument(
        "--prune",
        action="store_true",
        help="also apply the retention policy of docs/storage.md (run it daily)",
    )


def main(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    storage.migrate()
    log.info("schema of %s is at the newest revision", storage.engine.url.render_as_string())
    if args.prune:
        for table, count in storage.prune().items():
            if count:
                log.info("prune: %s: %d", table, count)
    return 0
