"""Where each outbox row is on its way to the centre: the publisher's bookkeeping, without paho.

A row is, in turn:
1. *in flight*: handed to paho, no PUBACK yet (at most `window`);
2. *awaiting*: the broker acknowledged it (PUBACK) but the centre has not confirmed it yet;
3. *due*: to be sent again: the centre's confirmation did not come within the timeout (the
   broker may have dropped it after its PUBACK: a full queue, an expired session, a crash), or
   the broker said nobody subscribes (MQTT 5 "No matching subscribers", retried after
   `unrouted_retry_s`);
4. gone: its digest was confirmed and the outbox deleted it.

Rows never handed over (the outbox beyond `cursor`) are sent once there is room: at most
`confirm_window` rows are unconfirmed at a time, so an outage of the centre makes the device
wait, not pour its whole backlog into the broker's queue again and again. The confirmation
timeout doubles after each round that timed out (up to `timeout_max_s`) and drops back to
`timeout_s` as soon as any confirmation arrives: a centre that is down for a day costs a few
dozen rounds of re-sends, not one every minute.

Paho numbers messages 1 to 65535 and starts again, whether or not the earlier message of a
number was acknowledged: with many messages queued (a burst of live snapshots on a slow link)
two of one mid are on their way at once, and a PUBACK can arrive before `sent` is recorded.
Both are handled here: each mid keeps whom its acknowledgements settle, oldest first (the
broker acknowledges in the order it received them). Thread-safe: paho's network thread calls `acked` and
`confirmed`, the pump thread the rest. `clock` is monotonic seconds, injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Acked:
    """What a PUBACK meant for the outbox."""

    seq: int | None  # the outbox row it acknowledged, None for live/health or an early ack
    refused: bool  # the broker refused it for good (e.g. not authorised): forget the row


class Delivery:
    def __init__(
        self,
        window: int,
        confirm_window: int,
        timeout_s: float,
        timeout_max_s: float,
        unrouted_retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 1 <= window <= confirm_window:
            raise ValueError(f"need 1 <= window <= confirm_window, got {window} and {confirm_window}")
        self.window = window
        self.confirm_window = confirm_window
        self.timeout_base_s = timeout_s
        self.timeout_max_s = max(timeout_s, timeout_max_s)
        self.timeout_s = timeout_s
        self.unrouted_retry_s = unrouted_retry_s
        self._clock = clock
        self._lock = threading.Lock()
        # mid -> what its outstanding PUBACKs settle, oldest first: (seq, digest) of an outbox row,
        # None for a live or health message
        self._owners: dict[int, deque[tuple[int, str] | None]] = {}
        self._inflight = 0  # outbox rows among them
        self._early: dict[int, tuple[bool, bool]] = {}  # mid -> (routed, refused), PUBACK before `sent`
        self._awaiting: dict[int, tuple[str, float]] = {}  # seq -> (digest, when acknowledged)
        self._due: dict[int, tuple[str, float]] = {}  # seq -> (digest, not before)
        self._digests: dict[str, set[int]] = {}  # digest -> seqs awaiting or due
        self._confirmed: list[str] = []  # digests for the pump to delete from the outbox
        self.cursor = 0  # highest outbox seq ever handed over in this run
        self.resent = 0

    # -- the pump ------------------------------------------------------------------------------

    def room(self) -> tuple[list[int], int]:
        """(seqs due to be sent again now, how many new rows may follow them)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            free = self.window - self._inflight
            due = sorted(seq for seq, (_, at) in self._due.items() if at <= now)[: max(free, 0)]
            unconfirmed = self._inflight + len(self._awaiting) + len(self._due)
            new = min(free - len(due), self.confirm_window - unconfirmed)
            return due, max(new, 0)

    def _expire(self, now: float) -> None:
        expired = [seq for seq, (_, at) in self._awaiting.items() if at + self.timeout_s <= now]
        if not expired:
            return
        for seq in expired:
            self._due[seq] = (self._awaiting.pop(seq)[0], now)
        self.resent += len(expired)
        self.timeout_s = min(self.timeout_max_s, self.timeout_s * 2)

    def sent(self, mid: int, seq: int, digest: str) -> Acked | None:
        """A row was handed to paho as `mid`; returns the PUBACK that already came, if one did."""
        with self._lock:
            if (entry := self._due.pop(seq, None)) is not None:
                self._unlink(entry[0], seq)
            self.cursor = max(self.cursor, seq)
            early = self._early.pop(mid, None)
            if early is None:
                self._owners.setdefault(mid, deque()).append((seq, digest))
                self._inflight += 1
                return None
            return self._settle(seq, digest, *early)

    def forget(self, seqs: Iterable[int]) -> None:
        """Rows that are no longer in the outbox (confirmed, dropped by its bounds)."""
        with self._lock:
            for seq in seqs:
                entry = self._awaiting.pop(seq, None) or self._due.pop(seq, None)
                if entry is not None:
                    self._unlink(entry[0], seq)

    def take_confirmed(self) -> list[str]:
        with self._lock:
            confirmed, self._confirmed = self._confirmed, []
            return confirmed

    @property
    def unconfirmed(self) -> int:
        with self._lock:
            return self._inflight + len(self._awaiting) + len(self._due)

    # -- paho's network thread -----------------------------------------------------------------

    def untracked(self, mid: int) -> None:
        """A live or health message went out as `mid`: its PUBACK settles nothing."""
        with self._lock:
            if self._early.pop(mid, None) is None:
                self._owners.setdefault(mid, deque()).append(None)

    def acked(self, mid: int, routed: bool, refused: bool) -> Acked:
        with self._lock:
            owners = self._owners.get(mid)
            if not owners:
                self._early[mid] = (routed, refused)
                return Acked(None, False)
            owner = owners.popleft()
            if not owners:
                del self._owners[mid]
            if owner is None:
                return Acked(None, False)
            self._inflight -= 1
            return self._settle(*owner, routed, refused)

    def _settle(self, seq: int, digest: str, routed: bool, refused: bool) -> Acked:
        if refused:
            return Acked(seq, True)
        if routed:
            self._awaiting[seq] = (digest, self._clock())
        else:
            self._due[seq] = (digest, self._clock() + self.unrouted_retry_s)
        self._digests.setdefault(digest, set()).add(seq)
        return Acked(seq, False)

    def confirmed(self, digests: list[str]) -> None:
        """The centre settled these payloads: stop waiting for them and let the pump delete them."""
        with self._lock:
            self._confirmed.extend(digests)
            self.timeout_s = self.timeout_base_s  # the centre is alive and keeping up
            for digest in digests:
                for seq in self._digests.pop(digest, ()):
                    self._awaiting.pop(seq, None)
                    self._due.pop(seq, None)

    def _unlink(self, digest: str, seq: int) -> None:
        seqs = self._digests.get(digest)
        if seqs is not None:
            seqs.discard(seq)
            if not seqs:
                del self._digests[digest]

    @property
    def idle(self) -> bool:
        """No PUBACK outstanding for anything, live and health included (for tests)."""
        with self._lock:
            return not self._owners and not self._early
