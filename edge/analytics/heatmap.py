"""Congestion heat: person-seconds per floor cell, the content of a `GridAggregate`."""

from __future__ import annotations

import numpy as np

from edge.types import FloorObservation
from footfall_core.floor import cell_indices, sparse_sum
from footfall_core.store import FloorPlan


class Heatmap:
    """Adds `dt_s` seconds for every person (tracked or not) to the `cell_m` floor cell under
    their feet. Cells are counted from the plan's origin_m; points off the plan are dropped.
    No per-track state."""

    def __init__(self, plan: FloorPlan, cell_m: float) -> None:
        if cell_m <= 0:
            raise ValueError(f"cell_m must be > 0 m, got {cell_m}")
        self.plan = plan
        self.cell_m = cell_m
        self._person_s: dict[tuple[int, int], float] = {}

    def observe(self, obs: FloorObservation) -> None:
        cells, _ = cell_indices(obs.floor_xy, self.plan, self.cell_m)
        for cell, seconds in sparse_sum(cells, np.full(len(cells), obs.dt_s)).items():
            self._person_s[cell] = self._person_s.get(cell, 0.0) + seconds

    def collect(self) -> list[tuple[int, int, float]]:
        """This bucket's `[ix, iy, person_seconds]` for every cell with any, then reset."""
        cells = [(ix, iy, round(s, 3)) for (ix, iy), s in sorted(self._person_s.items()) if s > 0]
        self._person_s.clear()
        return cells

    def end(self, now_s: float) -> None:
        """Nothing open to close: heat has no per-track state."""
