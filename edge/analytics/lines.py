"""Counting lines: people crossing a floor segment, each way, for a `LinesAggregate`.

Direction, on the floor plan (metres, x right, y *down* the plan image): for a line from
`start_m` to `end_m`, the signed distance of a point p is

    side(p) = cross(end - start, p - start) / |end - start|
            = ((ex - sx)(py - sy) - (ey - sy)(px - sx)) / length

With y pointing down, side < 0 is on the *left* of start→end as the plan is drawn, side > 0 on
its right. "in" is a crossing from right to left (side goes from > 0 to < 0), "out" the reverse.
Example: a line from (0, 0) to (4, 0); someone walking from (2, 1) (below it on the plan) to
(2, -1) (above it) counts one "in".

Debouncing: a track has a *confirmed side* once it is at least `hysteresis_m` from the line,
plus `hysteresis_sigmas` times the doubt about its position across the line when the
observation carries the floor filter's positions (`FloorObservation.track_xy`, `track_cov_m2`:
a far person's feet wander by more than the fixed margin; with `smoothing_s`, those positions
smoothed over what followed them, `edge.analytics.smoother`); a crossing counts only when the
confirmed side flips, so someone lingering on the line counts once at most. It counts only if
the track's last step across the infinite line passed between the segment's end points, so
walking round the end of a line does not count. Tracks without a confirmed id (-1) never count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.analytics.smoother import LinePositions, LineSmoother
from edge.analytics.tracks import TrackStates
from edge.types import FloorObservation
from footfall_core.contract import LineCount
from footfall_core.store import Line


@dataclass
class _Side:
    confirmed: int = 0  # +1 right, -1 left, 0 not yet known
    last_side_m: float | None = None  # signed distance at the last observation
    last_along_m: float = 0.0  # position along the line at the last observation
    crossed_in_extent: bool = False  # the last step across the infinite line was within the segment


class _LineCounter:
    def __init__(
        self, line: Line, hysteresis_m: float, track_timeout_s: float, hysteresis_sigmas: float = 0.0
    ) -> None:
        self.line = line
        start, end = np.asarray(line.start_m, float), np.asarray(line.end_m, float)
        self._start = start
        self._length_m = float(np.linalg.norm(end - start))
        self._unit = (end - start) / self._length_m
        self._normal = np.array([-self._unit[1], self._unit[0]])
        self.hysteresis_m = hysteresis_m
        self.hysteresis_sigmas = hysteresis_sigmas
        self._tracks: TrackStates[_Side] = TrackStates(track_timeout_s, _Side)
        self.in_count = 0
        self.out_count = 0

    def observe(self, positions: LinePositions) -> None:
        rel = positions.xy - self._start
        along_m = rel @ self._unit
        side_m = self._unit[0] * rel[:, 1] - self._unit[1] * rel[:, 0]
        margin_m = np.full(len(positions.track_id), self.hysteresis_m)
        if positions.cov_m2 is not None and self.hysteresis_sigmas:
            n = self._normal
            across_m2 = np.einsum("i,kij,j->k", n, positions.cov_m2, n)
            margin_m += self.hysteresis_sigmas * np.sqrt(np.maximum(across_m2, 0.0))
        for track_id, along, side, margin in zip(
            positions.track_id.tolist(), along_m.tolist(), side_m.tolist(), margin_m.tolist()
        ):
            self._step(self._tracks.seen(track_id, positions.timestamp_s), along, side, margin)
        self._tracks.expire(positions.timestamp_s)

    def _step(self, state: _Side, along_m: float, side_m: float, margin_m: float) -> None:
        if state.last_side_m is not None and (state.last_side_m > 0) != (side_m > 0):
            # where the step from the last position meets the infinite line, along the line
            t = state.last_side_m / (state.last_side_m - side_m)
            where_m = state.last_along_m + t * (along_m - state.last_along_m)
            state.crossed_in_extent = 0.0 <= where_m <= self._length_m
        state.last_side_m, state.last_along_m = side_m, along_m
        if abs(side_m) < margin_m:
            return
        side = 1 if side_m > 0 else -1
        if state.confirmed == -side and state.crossed_in_extent:
            if side < 0:
                self.in_count += 1
            else:
                self.out_count += 1
        state.confirmed = side

    def collect(self) -> LineCount:
        count = LineCount(line=self.line.name, in_count=self.in_count, out_count=self.out_count)
        self.in_count = self.out_count = 0
        return count

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)

    def end(self) -> None:
        self._tracks.drain()


class Lines:
    """In/out counts over the config's lines (floor metres). With `smoothing_s` > 0 the lines
    take each followed person's position smoothed over what followed it
    (`edge.analytics.smoother`, with the floor filter's `accel_m_s2`), `smoothing_s` to twice
    that late, and at the latest when a bucket closes (`catch_up`): a crossing counts in the
    bucket open when its position is handed out."""

    def __init__(
        self,
        lines: list[Line],
        hysteresis_m: float,
        track_timeout_s: float,
        hysteresis_sigmas: float = 0.0,
        smoothing_s: float = 0.0,
        accel_m_s2: float = 1.0,
    ) -> None:
        self._counters = [
            _LineCounter(line, hysteresis_m, track_timeout_s, hysteresis_sigmas) for line in lines
        ]
        self._smoother = LineSmoother(smoothing_s, accel_m_s2) if smoothing_s > 0 and lines else None

    def observe(self, obs: FloorObservation) -> None:
        if not self._counters:
            return
        self._count([LinePositions.of(obs)] if self._smoother is None else self._smoother.add(obs))

    def _count(self, batches: list[LinePositions]) -> None:
        for positions in batches:
            for counter in self._counters:
                counter.observe(positions)

    def catch_up(self, now_s: float) -> None:
        """Count the smoothed positions at least `smoothing_s` older than `now_s` (before a bucket
        closes: crossings that old are counted in it, also if frames stopped coming)."""
        if self._smoother is not None:
            self._count(self._smoother.release(now_s))

    def collect(self) -> list[LineCount]:
        """This bucket's counts per line, then reset them."""
        return [counter.collect() for counter in self._counters]

    def end(self, now_s: float) -> None:
        """Count the smoothed positions not handed out yet (the last seconds of every track),
        then forget every track: a crossing not yet confirmed past the hysteresis does not count."""
        if self._smoother is not None:
            self._count(self._smoother.flush())
        for counter in self._counters:
            counter.end()

    @property
    def open_tracks(self) -> int:
        return sum(counter.open_tracks for counter in self._counters)
