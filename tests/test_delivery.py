"""The publisher's bookkeeping (edge/delivery.py) on an injected clock: windows, timeouts with
back-off, unrouted retries, confirmations, paho's early and reused acknowledgements."""

from __future__ import annotations

import pytest

from edge.delivery import Delivery


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _delivery(clock: Clock, window: int = 4, confirm_window: int = 6) -> Delivery:
    return Delivery(window, confirm_window, timeout_s=10, timeout_max_s=35, unrouted_retry_s=1, clock=clock)


def _send(delivery: Delivery, seqs, mid0: int = 100) -> None:
    for seq in seqs:
        assert delivery.sent(mid0 + seq, seq, f"d{seq}") is None


def test_windows_bound_what_is_in_flight_and_what_is_unconfirmed():
    clock = Clock()
    delivery = _delivery(clock)
    assert delivery.room() == ([], 4), "paho's window first"
    _send(delivery, [1, 2, 3, 4])
    assert delivery.room() == ([], 0)
    for seq in (1, 2, 3, 4):
        delivery.acked(100 + seq, routed=True, refused=False)
    assert delivery.room() == ([], 2), "six unconfirmed at most: four await the centre"
    delivery.confirmed(["d1", "d2", "d3"])
    assert delivery.take_confirmed() == ["d1", "d2", "d3"]
    assert delivery.room() == ([], 4)
    assert delivery.unconfirmed == 1 and delivery.cursor == 4


def test_unconfirmed_rows_are_due_after_the_timeout_which_backs_off_until_a_confirmation():
    clock = Clock()
    delivery = _delivery(clock)
    _send(delivery, [1, 2])
    delivery.acked(101, routed=True, refused=False)
    delivery.acked(102, routed=True, refused=False)
    clock.now_s += 9.9
    assert delivery.room() == ([], 4)
    clock.now_s += 0.1
    assert delivery.room() == ([1, 2], 2), "both due, and they count against the new rows"
    assert delivery.resent == 2 and delivery.timeout_s == 20
    _send(delivery, [1, 2], mid0=200)  # sent again: paho gives new mids
    delivery.acked(201, routed=True, refused=False)
    delivery.acked(202, routed=True, refused=False)
    clock.now_s += 19.9
    assert delivery.room()[0] == []
    clock.now_s += 0.1
    assert delivery.room()[0] == [1, 2]
    assert delivery.timeout_s == 35, "doubled, up to timeout_max_s"
    delivery.confirmed(["d1"])
    assert delivery.timeout_s == 10, "the centre answers again: back to the short timeout"
    assert delivery.room()[0] == [2]


def test_unrouted_rows_are_due_after_the_retry_pause():
    clock = Clock()
    delivery = _delivery(clock)
    _send(delivery, [1])
    delivery.acked(101, routed=False, refused=False)
    assert delivery.room()[0] == []
    clock.now_s += 1
    assert delivery.room()[0] == [1]
    delivery.confirmed(["d1"])  # a copy sent earlier was confirmed meanwhile: nothing left to send
    assert delivery.room()[0] == []


def test_a_puback_before_the_bookkeeping_and_reused_mids():
    clock = Clock()
    delivery = _delivery(clock)
    delivery.acked(7, routed=True, refused=False)  # paho's thread was faster than `sent`
    early = delivery.sent(7, 1, "d1")
    assert early is not None and early.seq == 1 and not early.refused
    delivery.untracked(8)  # a live message as mid 8, acknowledged: settles nothing
    assert delivery.acked(8, routed=True, refused=False).seq is None
    assert delivery.sent(8, 2, "d2") is None, "mid 8 reused by an aggregate: waits for its own PUBACK"
    assert delivery.acked(9, routed=True, refused=True).seq is None
    refused = delivery.sent(9, 3, "d3")
    assert refused is not None and refused.refused
    delivery.acked(8, routed=True, refused=False)
    assert delivery.idle


def test_two_messages_of_one_mid_at_once_are_settled_in_turn():
    """After 65535 messages paho gives a mid again while the first of that mid may still be
    queued: each acknowledgement settles the oldest message of its mid, and none is left over
    to settle a later aggregate of that mid."""
    clock = Clock()
    delivery = _delivery(clock)
    delivery.untracked(5)  # a live snapshot as mid 5, still queued
    delivery.untracked(5)  # another, 65535 messages later
    assert delivery.sent(5, 1, "d1") is None  # and an aggregate
    assert delivery.unconfirmed == 1
    assert delivery.acked(5, routed=True, refused=False).seq is None
    assert delivery.acked(5, routed=True, refused=False).seq is None
    assert delivery.acked(5, routed=False, refused=False).seq == 1, "the third PUBACK is the aggregate's"
    assert delivery.idle
    assert delivery.sent(5, 2, "d2") is None, "no acknowledgement is left over for the next of mid 5"
    assert not delivery.idle


def test_forgotten_rows_are_neither_due_nor_unconfirmed():
    clock = Clock()
    delivery = _delivery(clock)
    _send(delivery, [1, 2])
    delivery.acked(101, routed=True, refused=False)
    delivery.acked(102, routed=False, refused=False)
    delivery.forget([1, 2])
    clock.now_s += 100
    assert delivery.room() == ([], 4)
    assert delivery.unconfirmed == 0


def test_window_larger_than_confirm_window_is_refused():
    with pytest.raises(ValueError, match="window <= confirm_window"):
        Delivery(10, 5, 1, 1)
