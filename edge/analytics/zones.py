"""Zone occupancy, entries and dwell times on floor polygons: the content of a `ZonesAggregate`.

Occupancy counts everyone inside a zone (tracked or not), frame by frame; its mean is weighted
by each frame's `dt_s`. Entries and dwell need a confirmed track: a *stay* starts when a track
is first seen inside the zone (an entry) and ends once the track has been outside it for more
than `exit_grace_s` (or the track times out, or the recording ends). The stay lasts from the
first to the last time the track was seen inside; stays of at least `min_dwell_s` are reported
as dwells, in the bucket in which they end. Stepping out and back within the grace continues
the same stay, so someone standing on the edge is one entry, not many.

Queue zones (`kind: queue`) also keep the times people left them over the last `window_s`:
`leaving_per_min` is the live rate a queue's wait is estimated from (Little's law: wait =
length ÷ rate of leaving), whatever the stay's length (being served after 3 s is leaving too).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge.analytics.tracks import TrackStates
from edge.types import FloorObservation
from footfall_core.contract import ZoneStats
from footfall_core.floor import ZoneMap
from footfall_core.store import Zone


@dataclass
class _Stay:
    entered_s: float
    last_inside_s: float


@dataclass
class _Bucket:
    person_s: float = 0.0
    max_occupancy: int = 0
    entries: int = 0
    dwells_s: list[float] = field(default_factory=list)


class Zones:
    """Per-zone occupancy and stays over the config's zones (floor metres)."""

    def __init__(
        self,
        zones: list[Zone],
        min_dwell_s: float,
        exit_grace_s: float,
        track_timeout_s: float,
        window_s: float = 300.0,
    ) -> None:
        self.zones = list(zones)
        self.window_s = window_s
        self._left: dict[str, deque[float]] = {z.name: deque() for z in self.zones if z.kind == "queue"}
        self._first_s: float | None = None
        self.zone_map = ZoneMap([z.polygon_m for z in self.zones])
        self.min_dwell_s = min_dwell_s
        self.exit_grace_s = exit_grace_s
        self._tracks: TrackStates[dict[str, _Stay]] = TrackStates(track_timeout_s, dict)
        self._bucket = {z.name: _Bucket() for z in self.zones}

    def observe(self, obs: FloorObservation, inside: np.ndarray | None = None) -> None:
        """Count this frame. `inside` (N, Z) bool, person n in zone z in config order, is
        `zone_map.inside(obs.floor_xy)`, passed when the caller has it already (the aggregator
        shares it with flows)."""
        now = obs.timestamp_s
        if self._first_s is None:
            self._first_s = now
        if inside is None:
            inside = self.zone_map.inside(obs.floor_xy)
        names = [z.name for z in self.zones]
        for name, count in zip(names, np.count_nonzero(inside, axis=0).tolist()):
            bucket = self._bucket[name]
            bucket.person_s += count * obs.dt_s
            bucket.max_occupancy = max(bucket.max_occupancy, count)
        tracked = obs.track_id >= 0
        for track_id, row in zip(obs.track_id[tracked].tolist(), inside[tracked].tolist()):
            stays = self._tracks.seen(track_id, now)
            for name, is_inside in zip(names, row):
                if is_inside:
                    self._stay_inside(stays, name, now)
                elif name in stays and now - stays[name].last_inside_s > self.exit_grace_s:
                    self._close(name, stays.pop(name))
        for stays, _ in self._tracks.expire(now):
            self._close_all(stays)

    def _stay_inside(self, stays: dict[str, _Stay], name: str, now_s: float) -> None:
        stay = stays.get(name)
        if stay is None:
            stays[name] = _Stay(entered_s=now_s, last_inside_s=now_s)
            self._bucket[name].entries += 1
        else:
            stay.last_inside_s = now_s

    def _close(self, name: str, stay: _Stay) -> None:
        if name in self._left:
            self._left[name].append(stay.last_inside_s)
        duration_s = stay.last_inside_s - stay.entered_s
        if duration_s >= self.min_dwell_s:
            self._bucket[name].dwells_s.append(round(duration_s, 3))

    def _close_all(self, stays: dict[str, _Stay]) -> None:
        for name, stay in stays.items():
            self._close(name, stay)

    def collect(self, covered_s: float) -> list[ZoneStats]:
        """This bucket's stats per zone, the mean over the `covered_s` seconds analysed, then
        reset the bucket."""
        stats = [
            ZoneStats(
                zone=name,
                mean_occupancy=round(b.person_s / covered_s, 3) if covered_s > 0 else 0.0,
                max_occupancy=b.max_occupancy,
                person_seconds=round(b.person_s, 3),
                entries=b.entries,
                dwells_s=b.dwells_s,
            )
            for name, b in self._bucket.items()
        ]
        self._bucket = {z.name: _Bucket() for z in self.zones}
        return stats

    def leaving_per_min(self, now_s: float) -> dict[str, float]:
        """Per queue zone, the people who left it per minute over the last `window_s` (over
        the time observed so far, if shorter: a camera that just started does not read a slow
        queue)."""
        if self._first_s is None:
            return {}
        span_s = min(self.window_s, now_s - self._first_s)
        rates = {}
        for name, left in self._left.items():
            while left and left[0] < now_s - self.window_s:
                left.popleft()
            rates[name] = round(60.0 * len(left) / span_s, 3) if span_s > 0 else 0.0
        return rates

    def end(self, now_s: float) -> None:
        """Close every open stay (end of a recording or a stop)."""
        for stays, _ in self._tracks.drain():
            self._close_all(stays)

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)
