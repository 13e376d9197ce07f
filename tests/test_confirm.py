"""The ingest's confirmations (dashboard/confirm.py): per store, digests of the payloads as
received, gathered until a store has enough or its oldest has waited long enough."""

from __future__ import annotations

import json

from dashboard.confirm import MAX_DIGESTS, Confirmer, confirmations
from footfall_core.contract import Confirmation, agg_topic, confirm_topic, parse_message, payload_digest


def test_one_confirmation_per_store_with_each_payload_once():
    items = [
        (agg_topic("shop-1", "cam1"), b"a"),
        (agg_topic("shop-2", "cam1"), b"b"),
        (agg_topic("shop-1", "cam2"), b"c"),
        (agg_topic("shop-1", "cam1"), b"a"),  # delivered twice
        ("footfall/v1/shop-1/cam1/status", b"s"),  # not an aggregate
        ("footfall/v1/Bad Store/cam1/agg", b"x"),  # no device can read such a topic
    ]
    out = dict(confirmations(items))
    assert sorted(out) == [confirm_topic("shop-1"), confirm_topic("shop-2")]
    one = parse_message(Confirmation, out[confirm_topic("shop-1")])
    assert one.store == "shop-1" and one.settled == [payload_digest(b"a"), payload_digest(b"c")]


def test_a_huge_batch_is_split():
    items = [(agg_topic("shop-1", "cam1"), str(i).encode()) for i in range(MAX_DIGESTS + 1)]
    sizes = [len(json.loads(payload)["settled"]) for _, payload in confirmations(items)]
    assert sizes == [MAX_DIGESTS, 1]


def test_confirmer_publishes_a_store_when_it_has_enough_or_waited_enough():
    now_s = [100.0]
    sent: list[tuple[str, bytes]] = []
    confirmer = Confirmer(
        lambda t, p: sent.append((t, p)), max_delay_s=1.0, max_digests=3, clock=lambda: now_s[0]
    )
    confirmer.settled([(agg_topic("busy", "cam1"), bytes([i])) for i in range(3)])
    confirmer.settled([(agg_topic("quiet", "cam1"), b"q")])
    assert confirmer.flush() == 1 and sent[0][0] == confirm_topic("busy"), "three waiting: at once"
    now_s[0] += 0.5
    confirmer.settled([(agg_topic("quiet", "cam1"), b"r")])
    assert confirmer.flush() == 0 and confirmer.pending == 2
    now_s[0] += 0.5
    assert confirmer.flush() == 1, "the oldest waited a second"
    assert json.loads(sent[1][1])["settled"] == [payload_digest(b"q"), payload_digest(b"r")]
    confirmer.settled([(agg_topic("late", "cam1"), b"z")])
    assert confirmer.flush(everything=True) == 1 and confirmer.pending == 0
