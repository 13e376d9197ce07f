"""Per-track state with a timeout, shared by the analytics that follow people (zones, lines,
flows). A track unseen for `timeout_s` seconds is closed and its state handed back once, so
that no state outlives the person it describes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass
class _Entry(Generic[S]):
    state: S
    last_seen_s: float


class TrackStates(Generic[S]):
    """`track_id -> state`, created on first sight by `factory()`; `expire(now_s)` removes the
    tracks last seen more than `timeout_s` seconds before `now_s` and returns their states."""

    def __init__(self, timeout_s: float, factory: Callable[[], S]) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 s, got {timeout_s}")
        self.timeout_s = timeout_s
        self._factory = factory
        self._entries: dict[int, _Entry[S]] = {}
        # at most every entry's last_seen_s: until timeout_s past it nothing can expire, and
        # `expire` (every frame, in every analytic that follows people) need not look
        self._earliest_s = math.inf

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._entries

    def seen(self, track_id: int, now_s: float) -> S:
        """The state of `track_id`, created if new; marks it seen at `now_s`."""
        entry = self._entries.get(track_id)
        if entry is None:
            entry = self._entries[track_id] = _Entry(self._factory(), now_s)
        entry.last_seen_s = now_s
        if now_s < self._earliest_s:
            self._earliest_s = now_s
        return entry.state

    def expire(self, now_s: float) -> list[tuple[S, float]]:
        """Remove tracks unseen for longer than timeout_s; returns (state, last_seen_s) of each."""
        if now_s - self._earliest_s <= self.timeout_s:
            return []
        gone = [k for k, e in self._entries.items() if now_s - e.last_seen_s > self.timeout_s]
        closed = [(e.state, e.last_seen_s) for e in (self._entries.pop(k) for k in gone)]
        self._earliest_s = min((e.last_seen_s for e in self._entries.values()), default=math.inf)
        return closed

    def drain(self) -> list[tuple[S, float]]:
        """Remove every track (end of a recording); returns (state, last_seen_s) of each."""
        out = [(e.state, e.last_seen_s) for e in self._entries.values()]
        self._entries.clear()
        self._earliest_s = math.inf
        return out
