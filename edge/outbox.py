"""The durable outbox: every aggregate is on disk before anyone tries to send it.

Why: paho keeps QoS 1 messages in memory only, and a broker may drop a message after it has
acknowledged it (a full queue, an expired session, a hard crash). So the edge writes each
message here first (`put` returns only after the SQLite commit), the publisher reads
oldest-first and deletes a row only when the centre confirms it has settled it (stored or
dead-lettered; `confirm`, by payload digest). After a restart whatever is left is sent again,
in order (at-least-once; the centre is idempotent on the aggregate id).

Bounds: at most `max_messages` rows and nothing older than `max_age_s`; past either the
oldest rows are dropped and counted in a persistent counter that DeviceHealth reports. A full
disk ("database or disk is full") drops the oldest rows and retries once, otherwise the new
message itself is counted as dropped: the edge keeps running either way.

Ages: measured on the outbox's own clock, the seconds the outbox has been open, from a
monotonic clock and kept across restarts; never the wall clock, which an NTP correction or a
dead RTC battery can step by days and drop a whole backlog with it. Time the edge spent
switched off does not age its messages (the centre dead-letters what is older than its raw
retention, and confirms it, so nothing stays forever).

Durability: WAL with synchronous=FULL. NORMAL would survive a process crash but may lose the
last commits on a power cut, and edge boxes in shops do lose power; aggregates are a few
messages per camera per minute, so an fsync per message costs nothing that matters.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from footfall_core.contract import payload_digest

log = logging.getLogger(__name__)

_FULL_DISK_RETRIES = 4  # each retry frees twice as many of the oldest rows as the one before

_SCHEMA_VERSION = 1  # PRAGMA user_version; 0 is the layout before confirmations (wall-clock ages)
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_s REAL NOT NULL,
        digest TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_created_s ON outbox (created_s)",
    "CREATE INDEX IF NOT EXISTS outbox_digest ON outbox (digest)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


@dataclass(frozen=True)
class OutboxMessage:
    """One stored message; `seq` grows with insertion order and is never reused; `digest` is
    what the centre's confirmation names it by (`payload_digest`)."""

    seq: int
    topic: str
    payload: bytes
    digest: str


def _is_full(exc: sqlite3.Error) -> bool:
    return "full" in str(exc).lower()


class Outbox:
    """A bounded, durable FIFO of (topic, payload) backed by one SQLite file.

    Thread-safe: the producer calls `put` while the publisher's pump calls `confirm`.
    `clock` is monotonic seconds (injectable so tests can age messages or step it).
    """

    def __init__(
        self,
        path: Path | str,
        max_messages: int = 200_000,
        max_age_s: float = 14 * 86400,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_messages < 1:
            raise ValueError(f"outbox max_messages must be at least 1, got {max_messages}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._upgrade()
        except sqlite3.Error as exc:
            raise RuntimeError(f"outbox {self.path}: cannot open: {exc}") from None
        self._depth = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        self._dropped = self._dropped_saved = int(self._counter("dropped"))
        self._origin_s = clock() - self._counter("clock_s")  # the outbox clock goes on from where it was

    def _counter(self, name: str) -> float:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def _upgrade(self) -> None:
        """Create the tables, or bring an outbox of the earlier layout up to this one: digests
        computed, wall-clock creation times turned into ages on the outbox clock (now 0)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        old = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox'").fetchone()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if old and version < _SCHEMA_VERSION:
            db.execute("ALTER TABLE outbox ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
            rows = db.execute("SELECT seq, payload FROM outbox").fetchall()
            db.executemany(
                "UPDATE outbox SET digest = ? WHERE seq = ?", [(payload_digest(p), s) for s, p in rows]
            )
            db.execute("UPDATE outbox SET created_s = MIN(0, created_s - ?)", (time.time(),))
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        db.execute("COMMIT")

    def now_s(self) -> float:
        """The outbox clock: seconds it has been open, over all its runs."""
        return self._clock() - self._origin_s

    # -- producer side -------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes) -> bool:
        """Store one message durably; False if it had to be dropped (disk full and nothing to free)."""
        with self._lock:
            now_s = self.now_s()
            for attempt in range(_FULL_DISK_RETRIES + 1):
                try:
                    self._insert(topic, payload, now_s)
                    return True
                except sqlite3.OperationalError as exc:
                    self._rollback()
                    if not _is_full(exc):
                        raise
                    freed = self._free_space(max(1, self._depth // 10) << attempt)
                    log.warning(
                        "outbox %s: %s; dropped the %d oldest message(s) to make room", self.path, exc, freed
                    )
                    if not freed:
                        break
            self._dropped += 1
            log.error(
                "outbox %s: disk full, message for %s dropped (%d dropped so far)",
                self.path,
                topic,
                self._dropped,
            )
            return False

    def _insert(self, topic: str, payload: bytes, now_s: float) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        dropped = db.execute("DELETE FROM outbox WHERE created_s < ?", (now_s - self.max_age_s,)).rowcount
        excess = self._depth - dropped + 1 - self.max_messages
        if excess > 0:
            dropped += db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (excess,)
            ).rowcount
        db.execute(
            "INSERT INTO outbox (topic, payload, created_s, digest) VALUES (?, ?, ?, ?)",
            (topic, bytes(payload), now_s, payload_digest(payload)),
        )
        db.execute(
            "INSERT INTO counters (name, value) VALUES ('clock_s', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (now_s,),
        )
        total_dropped = self._dropped + dropped
        if total_dropped != self._dropped_saved:
            db.execute(
                "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (total_dropped,),
            )
        db.execute("COMMIT")
        if dropped:
            log.warning("outbox %s: full or too old, dropped %d oldest message(s)", self.path, dropped)
        self._depth += 1 - dropped
        self._dropped = self._dropped_saved = total_dropped

    def _free_space(self, count: int) -> int:
        """Delete the `count` oldest rows to make room; returns how many went."""
        try:
            freed = self._db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (count,)
            ).rowcount
        except sqlite3.OperationalError as exc:
            log.error("outbox %s: cannot free space: %s", self.path, exc)
            return 0
        self._depth -= freed
        self._dropped += freed
        return freed

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # -- publisher side ------------------------------------------------------------------------

    def peek(self, limit: int, after_seq: int = 0) -> list[OutboxMessage]:
        """Up to `limit` oldest messages with seq > after_seq, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, digest FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxMessage(seq, topic, bytes(payload), digest) for seq, topic, payload, digest in rows]

    def get(self, seqs: Iterable[int]) -> list[OutboxMessage]:
        """The messages of these seqs still in the outbox (confirmed ones are gone), oldest first."""
        wanted = sorted(set(seqs))
        rows = []
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._db.execute(
                    f"SELECT seq, topic, payload, digest FROM outbox WHERE seq IN ({marks}) ORDER BY seq",
                    chunk,
                ).fetchall()
        return [OutboxMessage(seq, topic, bytes(payload), digest) for seq, topic, payload, digest in rows]

    def confirm(self, digests: Iterable[str]) -> int:
        """Forget the messages the centre has settled, in one transaction; returns how many went.

        A digest may match several rows (the same payload put twice): all go, since the centre
        holds that content. A digest matching nothing (confirmed before, or dropped) is ignored.
        """
        params = [(digest,) for digest in digests]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                self._db.executemany("DELETE FROM outbox WHERE digest = ?", params)
                deleted = self._db.total_changes - before
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # disk full: they will be sent again, harmless
                self._rollback()
                log.warning(
                    "outbox %s: cannot delete %d confirmed message(s): %s", self.path, len(params), exc
                )
                return 0
            self._depth -= deleted
            return deleted

    def discard(self, seqs: Iterable[int]) -> int:
        """Forget messages the broker refused for good (not authorised), counted as dropped."""
        params = [(seq,) for seq in seqs]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", params)
            gone = self._db.total_changes - before
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (self._dropped + gone,),
            )
            self._db.execute("COMMIT")
            self._depth -= gone
            self._dropped = self._dropped_saved = self._dropped + gone
            return gone

    @property
    def depth(self) -> int:
        """Messages the centre has not confirmed yet."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Messages lost to the bounds or a full disk since the outbox was created (persistent)."""
        return self._dropped

    def close(self) -> None:
        with self._lock:
            self._db.close()
