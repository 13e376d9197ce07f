"""The durable outbox: every aggregate is on disk before anyone tries to send it.

Why: paho keeps QoS 1 messages in memory only, so a crash, a power cut or a long broker
outage would lose them. The edge writes each message here first (`put` returns only after the
SQLite commit), the publisher reads oldest-first and deletes a row only when the broker's
PUBACK arrives. After a restart whatever is left is sent again, in order (at-least-once; the
centre is idempotent on the aggregate id).

Bounds: at most `max_messages` rows and nothing older than `max_age_s`; past either the
oldest rows are dropped and counted in a persistent counter that DeviceHealth reports. A full
disk ("database or disk is full") drops the oldest rows and retries once, otherwise the new
message itself is counted as dropped: the edge keeps running either way.

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

log = logging.getLogger(__name__)

_FULL_DISK_RETRIES = 4  # each retry frees twice as many of the oldest rows as the one before

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_created_s ON outbox (created_s);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class OutboxMessage:
    """One stored message; `seq` grows with insertion order and is never reused."""

    seq: int
    topic: str
    payload: bytes


def _is_full(exc: sqlite3.Error) -> bool:
    return "full" in str(exc).lower()


class Outbox:
    """A bounded, durable FIFO of (topic, payload) backed by one SQLite file.

    Thread-safe: the producer calls `put` while the MQTT network thread calls `delete`.
    `clock` returns UTC epoch seconds (injectable so tests can age messages).
    """

    def __init__(
        self,
        path: Path | str,
        max_messages: int = 200_000,
        max_age_s: float = 14 * 86400,
        clock: Callable[[], float] = time.time,
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
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise RuntimeError(f"outbox {self.path}: cannot open: {exc}") from None
        self._depth = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        self._dropped = row[0] if row else 0
        self._dropped_saved = self._dropped

    # -- producer side -------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes) -> bool:
        """Store one message durably; False if it had to be dropped (disk full and nothing to free)."""
        with self._lock:
            now_s = self._clock()
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
            "INSERT INTO outbox (topic, payload, created_s) VALUES (?, ?, ?)", (topic, bytes(payload), now_s)
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
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxMessage(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def delete(self, seqs: Iterable[int]) -> None:
        """Forget messages the broker has acknowledged (PUBACK), in one transaction."""
        params = [(seq,) for seq in seqs]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", params)
                deleted = self._db.total_changes - before
                self._db.execute("COMMIT")
                self._depth -= deleted
            except sqlite3.OperationalError as exc:  # disk full: they will be sent again, harmless
                self._rollback()
                log.warning(
                    "outbox %s: cannot delete %d acknowledged message(s): %s", self.path, len(params), exc
                )

    @property
    def depth(self) -> int:
        """Messages waiting for a PUBACK."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Messages lost to the bounds or a full disk since the outbox was created (persistent)."""
        return self._dropped

    def close(self) -> None:
        with self._lock:
            self._db.close()
