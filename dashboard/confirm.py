"""Confirmations to edge devices: which of a store's aggregates the centre has settled.

The edge deletes an outbox row only when its digest comes back here (docs/mqtt.md,
"Delivery"), because a broker's PUBACK does not mean the message will reach a database. A
message counts as settled once the transaction that stored it, found it already stored, or
dead-lettered it has committed: in every case the device must stop sending it. The store is
taken from the topic, which the broker lets only that store's device publish to, and the
confirmation goes to `footfall/v1/{store}/confirm`, which only that device may read.
Broker-neutral: plain topics and payloads, no broker feature beyond QoS 1.

`Confirmer` gathers a store's digests over successive batches and publishes them once the store
has `max_digests` waiting or its oldest has waited `max_delay_s` (1 s): during a catch-up of
many stores, a batch holds only a few messages of each, and one confirmation per store and
batch would cost the ingest a tenth of its CPU. A device draining a backlog fills
`max_digests` within a batch and hears at once. Confirmations still pending when the process
dies are not lost for good: the device sends those aggregates again after its timeout, and
they are confirmed as duplicates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from footfall_core.contract import NAME, TOPIC_ROOT, Confirmation, confirm_topic, payload_digest

MAX_DIGESTS = 10_000  # Confirmation.settled's bound: larger batches are split
_AGG_TOPIC = re.compile(rf"^{re.escape(TOPIC_ROOT)}/([^/]+)/[^/]+/agg$")
_STORE = re.compile(NAME)


def confirmations(settled: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """(topic, payload) of the Confirmations for these settled (topic, payload) aggregates: one
    per store (more past MAX_DIGESTS). Topics without a valid store name are skipped: no device
    can publish or read there."""
    by_store: dict[str, list[str]] = {}
    for topic, payload in settled:
        match = _AGG_TOPIC.match(topic)
        if match and _STORE.match(match[1]):
            by_store.setdefault(match[1], []).append(payload_digest(payload))
    out = []
    for store, digests in by_store.items():
        unique = list(dict.fromkeys(digests))
        for start in range(0, len(unique), MAX_DIGESTS):
            # built from digests made here: validating 10,000 of them again would cost for nothing
            message = Confirmation.model_construct(store=store, settled=unique[start : start + MAX_DIGESTS])
            out.append((confirm_topic(store), message.to_json()))
    return out


class Confirmer:
    """Pending confirmations per store; `publish(topic, payload)` sends one (QoS 1)."""

    def __init__(
        self,
        publish: Callable[[str, bytes], object],
        max_delay_s: float = 1.0,
        max_digests: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._publish = publish
        self.max_delay_s = max_delay_s
        self.max_digests = max_digests
        self._clock = clock
        self._pending: dict[str, tuple[float, list[tuple[str, bytes]]]] = {}  # store -> (since, items)

    def settled(self, items: Iterable[tuple[str, bytes]]) -> None:
        """(topic, payload) of aggregates whose transaction has committed."""
        now = self._clock()
        for topic, payload in items:
            match = _AGG_TOPIC.match(topic)
            if match:
                self._pending.setdefault(match[1], (now, []))[1].append((topic, payload))

    def flush(self, everything: bool = False) -> int:
        """Publish what is due (everything: all of it, e.g. before leaving); returns how many sent."""
        due_before = self._clock() - self.max_delay_s
        due = [
            store
            for store, (since, items) in self._pending.items()
            if everything or since <= due_before or len(items) >= self.max_digests
        ]
        sent = 0
        for store in due:
            for topic, payload in confirmations(self._pending.pop(store)[1]):
                self._publish(topic, payload)
                sent += 1
        return sent

    @property
    def pending(self) -> int:
        return sum(len(items) for _, items in self._pending.values())
