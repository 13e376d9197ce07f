"""One ingest batch, whatever broker it came from: validate, store, dead-letter, then say so.

Both ingests (`dashboard.ingest` over one Mosquitto, `dashboard.cluster_ingest` over a
RabbitMQ cluster) receive (topic, payload) pairs and acknowledge them to their broker only
after this has committed them (docs/mqtt.md, "Delivery"). Every payload ends stored or
dead-lettered (dashboard/intake.py); only a lost database connection keeps a batch back, and
then it is retried whole until the database is back or the worker stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Histogram

from dashboard import faults, intake
from footfall_core.contract import TOPIC_ROOT, ContractError, DeviceStatus, StatusMessage, parse_message

log = logging.getLogger(__name__)

RETRY_MAX_S = 30.0

MESSAGES = Counter(
    "footfall_ingest_messages", "Messages handled by ingest, by outcome", ["outcome"]
)  # stored, duplicate, dead_letter, status
DEAD_LETTERS = Counter(
    "footfall_ingest_dead_letters", "Messages dead-lettered by ingest, by reason code", ["reason"]
)  # contract, clock, plan, conflict, registry, horizon, database (docs/storage.md)
BATCH_SECONDS = Histogram(
    "footfall_ingest_batch_seconds", "Time to validate, store and acknowledge one batch"
)


@dataclass(frozen=True)
class Received:
    """One message as the broker handed it over; `tag` is what acknowledges it there (an MQTT
    message id, an AMQP delivery tag), `qos` its MQTT QoS (1 over AMQP)."""

    tag: int
    qos: int
    topic: str
    payload: bytes


class BatchWriter:
    """Stores batches into `storage` (dashboard.storage.Storage) at the centre's `clock`."""

    def __init__(self, storage, clock: Callable[[], datetime]):
        self.storage = storage
        self.clock = clock
        self.stored = 0

    def commit(self, batch: list[Received], stop: threading.Event) -> bool:
        """Store the batch, retrying while the database is unreachable; True once committed,
        False if `stop` was set first (nothing of it acknowledged: the broker redelivers it)."""
        now = self.clock()
        aggregates = [item for item in batch if not item.topic.endswith("/status")]
        statuses = [item for item in batch if item.topic.endswith("/status")]
        delay_s = 0.5
        while True:
            try:
                self._store(aggregates, statuses, now)
                break
            except Exception as exc:  # database unreachable: keep the batch, nothing is acknowledged
                log.error(
                    "ingest: cannot store a batch of %d: %s; retrying in %.1f s", len(batch), exc, delay_s
                )
                if stop.wait(delay_s):
                    return False
                delay_s = min(RETRY_MAX_S, delay_s * 2)
        faults.point("ingest.after_commit")
        return True

    def _store(self, aggregates: list[Received], statuses: list[Received], now: datetime) -> None:
        """One attempt at the batch: aggregates, statuses, then every dead letter in one
        transaction; raises (to be retried whole) only when the database is unreachable."""
        settled = intake.settle(self.storage, [(item.topic, item.payload) for item in aggregates], now)
        written = settled.written
        letters = [(aggregates[k], code, why) for k, code, why in settled.letters]
        letters += [letter for item in statuses if (letter := self._status(item))]
        if letters:
            self.storage.add_dead_letters(
                [(item.topic, item.payload, code, why) for item, code, why in letters]
            )
            first, code, why = letters[0]
            log.warning("%d dead letter(s), the first from %s: %s: %s", len(letters), first.topic, code, why)
        self.stored += written.stored
        MESSAGES.labels("stored").inc(written.stored)
        MESSAGES.labels("duplicate").inc(written.duplicates)
        MESSAGES.labels("dead_letter").inc(len(letters) + len(written.refusals))
        for code in [code for _, code, _ in letters] + [r.code for r in written.refusals]:
            DEAD_LETTERS.labels(code).inc()

    def _status(self, item: Received) -> tuple[Received, str, str] | None:
        """Record a status: a device's covers each of its cameras, a camera's itself. Returns its
        dead letter (item, code, reason) when refused."""
        device = item.topic.count("/") == 3
        try:
            status = parse_message(DeviceStatus if device else StatusMessage, item.payload)
        except ContractError as exc:
            return item, exc.code, str(exc)
        cameras = status.cameras if device else [status.camera]
        expected = (
            f"{TOPIC_ROOT}/{status.store}/status"
            if device
            else f"{TOPIC_ROOT}/{status.store}/{status.camera}/status"
        )
        if item.topic != expected:
            return item, "contract", "status topic does not match its payload"
        refusals = [
            refusal
            for camera in cameras
            if (refusal := self.storage.camera_status(status.store, camera, status.status, status.sent_at))
        ]
        if refusals:
            return item, refusals[0].code, refusals[0].reason
        if isinstance(status, DeviceStatus) and status.audits:
            self.storage.camera_audits(status.store, status.audits)
        MESSAGES.labels("status").inc()
        return None


def observe(started_s: float) -> None:
    """Record one batch's time, from `started_s` (time.monotonic) to its acknowledgement."""
    BATCH_SECONDS.observe(time.monotonic() - started_s)
