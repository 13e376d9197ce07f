"""Where people go: zone-to-zone transitions and walking directions, for a `FlowsAggregate`.

Transitions: each confirmed track remembers the last zone it was in (the first zone in config
order that contains it); entering a different zone counts one `from → to` transition, even if
the track crossed unzoned floor in between.

Directions: each track keeps an anchor point; once it is at least `min_step_m` from the anchor
the step counts one walk in the direction bin of its heading, in the `flow_cell_m` cell
(counted from the plan's origin_m) holding the step's midpoint, and the anchor moves to the
new point. Bin k covers the heading k·45° ± 22.5°, measured on the floor plan from +x towards
+y (0 = right, 2 = down the plan), as FlowsAggregate documents. Anchoring (rather than
comparing consecutive frames) lets slow walkers count while standing jitter mostly does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.analytics.tracks import TrackStates
from edge.types import FloorObservation
from footfall_core.contract import DIRECTION_BINS, Transition
from footfall_core.floor import ZoneMap, cells_of
from footfall_core.store import FloorPlan, Zone


@dataclass
class _Walk:
    anchor_xy: tuple[float, float] | None = None  # floor m
    last_zone: str | None = None


def heading_bin(step_xy: np.ndarray) -> np.ndarray:
    """(N,) int direction bin of floor steps (N, 2) metres: round(atan2(dy, dx) / 45°) mod 8."""
    angle = np.arctan2(step_xy[:, 1], step_xy[:, 0])
    return np.round(angle / (2 * np.pi / DIRECTION_BINS)).astype(np.int64) % DIRECTION_BINS


class Flows:
    """Transitions between the config's zones and per-cell histograms of walking directions."""

    def __init__(
        self,
        plan: FloorPlan,
        zones: list[Zone],
        flow_cell_m: float,
        min_step_m: float,
        track_timeout_s: float,
    ) -> None:
        self.plan = plan
        self.zones = list(zones)
        self.zone_map = ZoneMap([z.polygon_m for z in self.zones])
        self.flow_cell_m = flow_cell_m
        self.min_step_m = min_step_m
        self._tracks: TrackStates[_Walk] = TrackStates(track_timeout_s, _Walk)
        self._transitions: dict[tuple[str, str], int] = {}
        self._directions: dict[tuple[int, int], list[int]] = {}  # walks per direction bin, per cell

    def observe(self, obs: FloorObservation, inside: np.ndarray | None = None) -> None:
        """Follow this frame's tracked people. `inside` (N, Z) bool, person n in zone z in config
        order, is `zone_map.inside(obs.floor_xy)`, passed when the caller has it already."""
        tracked = np.flatnonzero(obs.track_id >= 0)
        xy = obs.floor_xy[tracked]
        if inside is None:
            inside = self.zone_map.inside(obs.floor_xy)
        walks = [self._tracks.seen(t, obs.timestamp_s) for t in obs.track_id[tracked].tolist()]
        for walk, zones_in in zip(walks, inside[tracked].tolist()):
            if True in zones_in:  # the first zone in config order that holds the person
                self._enter(walk, self.zones[zones_in.index(True)].name)
        # distance from each anchor, all at once (NaN where a track has no anchor yet)
        anchors = np.array(
            [w.anchor_xy if w.anchor_xy is not None else (np.nan, np.nan) for w in walks], dtype=np.float64
        ).reshape(-1, 2)
        step = xy - anchors
        far = np.hypot(step[:, 0], step[:, 1]) >= max(self.min_step_m, 1e-9)
        steps: list[tuple[tuple[float, float], tuple[float, float]]] = []  # (from, to) floor points
        for walk, point, is_far in zip(walks, map(tuple, xy.tolist()), far.tolist()):
            if walk.anchor_xy is None:
                walk.anchor_xy = point
            elif is_far:
                steps.append((walk.anchor_xy, point))
                walk.anchor_xy = point
        self._count_steps(steps)
        self._tracks.expire(obs.timestamp_s)

    def _enter(self, walk: _Walk, zone: str) -> None:
        if walk.last_zone is not None and walk.last_zone != zone:
            key = (walk.last_zone, zone)
            self._transitions[key] = self._transitions.get(key, 0) + 1
        walk.last_zone = zone

    def _count_steps(self, steps: list[tuple[tuple[float, float], tuple[float, float]]]) -> None:
        if not steps:
            return
        start, end = np.array(steps).transpose(1, 0, 2)  # (2, K, 2): from, to
        bins = heading_bin(end - start)
        for cell, b in zip(cells_of((start + end) / 2, self.plan, self.flow_cell_m), bins.tolist()):
            if cell is None:  # off the plan
                continue
            hist = self._directions.get(cell)
            if hist is None:
                hist = self._directions[cell] = [0] * DIRECTION_BINS
            hist[b] += 1

    def collect(self) -> tuple[list[Transition], list[tuple[int, int, list[int]]]]:
        """This bucket's transitions and `[ix, iy, [count per bin]]` direction cells, then reset."""
        transitions = [
            Transition(from_zone=a, to_zone=b, count=n) for (a, b), n in sorted(self._transitions.items())
        ]
        directions = [(ix, iy, list(hist)) for (ix, iy), hist in sorted(self._directions.items())]
        self._transitions.clear()
        self._directions.clear()
        return transitions, directions

    def end(self, now_s: float) -> None:
        """Forget every track (nothing pending: transitions and steps count when they happen)."""
        self._tracks.drain()

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)
