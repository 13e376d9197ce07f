"""Congestion heat: person-seconds per floor cell, the content of a `GridAggregate`."""

from __future__ import annotations

from edge.types import FloorObservation
from footfall_core.floor import cell_sums
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
        for cell, seconds in cell_sums(obs.floor_xy, self.plan, self.cell_m, obs.dt_s).items():
            self._person_s[cell] = self._person_s.get(cell, 0.0) + seconds

    def collect(self) -> list[tuple[int, int, float]]:
        """This bucket's `[ix, iy, person_seconds]` for every cell with any, then reset."""
        cells = [(ix, iy, round(s, 3)) for (ix, iy), s in sorted(self._person_s.items()) if s > 0]
        self._person_s.clear()
        return cells

    def end(self, now_s: float) -> None:
        """Nothing open to close: heat has no per-track state."""
