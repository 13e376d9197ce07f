"""Merge each camera's live snapshot into one store-wide LiveMessage.

Every camera pipeline emits a LiveMessage for itself (its `cameras` list holds just its name)
every `analysis.live_interval_s`. The store's live channel carries one merged message: people,
zone occupancies and live grid cells (floor metres, `live_cell_m` cells) are summed over the
cameras, so two cameras that see the same spot count its people twice: cameras are expected
to cover disjoint parts of the floor.

Lag: a merged message goes out as soon as a camera reports, but at most one every
`interval_s / 2`; a report that arrives inside that gap goes out when the gap ends (`due`).
The merger therefore adds at most interval_s / 2 (1 s by default) to the camera's own
snapshot age. `sent_at` is the oldest contributing snapshot's time, so the dashboard can show
the true age. A camera silent for `stale_after_s` is left out rather than frozen on the map.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from footfall_core.contract import LiveMessage, LiveZone


class LiveMerger:
    """Keeps the latest LiveMessage per camera; `update` and `due` return what to send, if anything.

    `clock` returns monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        store: str,
        cell_m: float,
        interval_s: float,
        stale_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.cell_m = cell_m
        self.min_gap_s = interval_s / 2
        self.stale_after_s = stale_after_s if stale_after_s is not None else 3 * interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, LiveMessage]] = {}
        self._last_sent_s = float("-inf")
        self._pending = False

    def update(self, message: LiveMessage) -> LiveMessage | None:
        """Record one camera's snapshot; the merged message if one is due now."""
        if message.store != self.store:
            raise ValueError(
                f"live message for store {message.store!r} given to the merger of {self.store!r}"
            )
        if message.cell_m != self.cell_m:
            raise ValueError(
                f"live message from cameras {message.cameras} has cell_m={message.cell_m}, "
                f"the store's live grid uses {self.cell_m}"
            )
        with self._lock:
            now_s = self._clock()
            for camera in message.cameras:
                self._latest[camera] = (now_s, message)
            self._pending = True
            return self._merge_if_due(now_s)

    def due(self) -> LiveMessage | None:
        """The merged message if an update is waiting and the gap has passed (call periodically)."""
        with self._lock:
            return self._merge_if_due(self._clock())

    def _merge_if_due(self, now_s: float) -> LiveMessage | None:
        if not self._pending or now_s - self._last_sent_s < self.min_gap_s:
            return None
        fresh = {id(m): m for seen_s, m in self._latest.values() if now_s - seen_s <= self.stale_after_s}
        if not fresh:
            return None
        self._pending = False
        self._last_sent_s = now_s
        return merge(self.store, self.cell_m, list(fresh.values()))


def merge(store: str, cell_m: float, messages: list[LiveMessage]) -> LiveMessage:
    """Sum per-camera snapshots (same store, same cell_m) into one store snapshot."""
    zones: dict[str, int] = defaultdict(int)
    leaving: dict[str, float] = {}  # queue zones: each camera's rate of people leaving its part
    cells: dict[tuple[int, int], int] = defaultdict(int)
    for message in messages:
        for zone in message.zones:
            zones[zone.zone] += zone.occupancy
            if zone.left_per_min is not None:
                leaving[zone.zone] = leaving.get(zone.zone, 0.0) + zone.left_per_min
        for ix, iy, people in message.cells:
            cells[(ix, iy)] += people
    sent_at = min((m.sent_at for m in messages), default=datetime.now(UTC))
    return LiveMessage(
        store=store,
        sent_at=sent_at,
        cell_m=cell_m,
        people=sum(m.people for m in messages),
        zones=[
            LiveZone(zone=name, occupancy=count, left_per_min=leaving.get(name))
            for name, count in sorted(zones.items())
        ],
        cells=[(ix, iy, n) for (ix, iy), n in sorted(cells.items()) if n],
        cameras=sorted({camera for m in messages for camera in m.cameras}),
    )
