"""Confirmations to edge devices: which of a store's aggregates the centre has settled.

The edge deletes an outbox row only when its digest comes back here (docs/mqtt.md,
"Delivery"), because a broker's PUBACK does not mean the message will reach a database. A
message counts as settled once the transaction that stored it, found it already stored, or
dead-lettered it has committed: in every case the device must stop sending it. The store is
taken from the topic, which the broker lets only that store's device publish to, and the
confirmation goes to `footfall/v1/{store}/confirm`, which only that device may read.
Broker-neutral: plain topics and payloads, no broker feature beyond QoS 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
            message = Confirmation(store=store, settled=unique[start : start + MAX_DIGESTS])
            out.append((confirm_topic(store), message.to_json()))
    return out
