"""Floor-plan geometry shared by the analytics: grid cells and point-in-polygon, in metres."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from footfall_core.store import FloorPlan


class PlanSize(Protocol):
    """What the grid's size needs of a plan: a store's `FloorPlan` or a chart's floor geometry."""

    @property
    def width_m(self) -> float: ...

    @property
    def height_m(self) -> float: ...


def grid_size(plan: PlanSize, cell_m: float) -> tuple[int, int]:
    """Cells across (x) and down (y) the plan, a partial last column and row included; a size
    within 1e-9 cells of a whole number (3.6 m / 0.3 m is 12.000000000000002) has no sliver."""
    return int(math.ceil(plan.width_m / cell_m - 1e-9)), int(math.ceil(plan.height_m / cell_m - 1e-9))


def cell_indices(floor_xy: np.ndarray, plan: FloorPlan, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell (ix, iy) of each floor point, cells of `cell_m` metres counted from the plan's
    `origin_m` (ix along +x, iy along +y), within `grid_size` (a point a rounding step inside
    the plan's far edge can divide out to one past the last cell). Returns `(cells (K, 2)
    int64, inside (N,) bool)`: points off the plan (x outside [origin_x, origin_x + width_m),
    same for y) are dropped."""
    floor_xy = np.asarray(floor_xy, dtype=np.float64).reshape(-1, 2)
    rel = floor_xy - np.asarray(plan.origin_m, dtype=np.float64)
    within = (rel >= 0) & (rel < (plan.width_m, plan.height_m))  # (N, 2): x and y on the plan
    inside = within[:, 0] & within[:, 1]
    last = np.subtract(grid_size(plan, cell_m), 1)
    return np.minimum(np.floor(rel[inside] / cell_m).astype(np.int64), last), inside


def in_polygon(floor_xy: np.ndarray, polygon_m: Sequence[tuple[float, float]]) -> np.ndarray:
    """(N,) bool: which points lie inside the polygon (even-odd rule; edges are ambiguous).
    Points and polygon in one frame: floor metres, or image pixels for `image_mask_px`."""
    return ZoneMap([polygon_m]).inside(floor_xy)[:, 0]


class ZoneMap:
    """Point-in-polygon for several polygons at once (even-odd rule), their edges precomputed.

    The analytics that need "which zone is each person in" (zones, flows, live) share one
    `inside(floor_xy)` per frame instead of testing every polygon each. Points and polygons are
    in one frame: floor metres, or image pixels for `image_mask_px`.
    """

    def __init__(self, polygons: Sequence[Sequence[tuple[float, float]]]) -> None:
        edges = []  # per edge: x0, y0, x1, y1 (its end), polygon index
        for k, polygon in enumerate(polygons):
            poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
            edges.append(np.column_stack([poly, np.roll(poly, -1, axis=0), np.full(len(poly), k)]))
        table = np.concatenate(edges) if edges else np.empty((0, 5))
        self._x0, self._y0, self._y1 = table[:, 0], table[:, 1], table[:, 3]
        self._dx, dy = table[:, 2] - table[:, 0], table[:, 3] - table[:, 1]
        # a horizontal edge (dy = 0) never straddles a point's y: any finite divisor will do,
        # and then no per-call np.errstate is needed
        self._dy = np.where(dy == 0, 1.0, dy)
        # (E, Z) 0/1: which polygon each edge belongs to, to count crossings per polygon
        self._owner = (table[:, 4:5] == np.arange(len(polygons))).astype(np.int64)

    def inside(self, xy: np.ndarray) -> np.ndarray:
        """(N, Z) bool: point n lies inside polygon z. `xy` is (N, 2)."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        x, y = pts[:, 0:1], pts[:, 1:2]
        straddles = (self._y0 > y) != (self._y1 > y)
        x_cross = self._x0 + (y - self._y0) * self._dx / self._dy
        crossings = (straddles & (x < x_cross)).astype(np.int64) @ self._owner
        inside: np.ndarray = crossings % 2 == 1
        return inside


def cells_of(floor_xy: np.ndarray, plan: FloorPlan, cell_m: float) -> list[tuple[int, int] | None]:
    """`cell_indices` as a loop on floats, the same arithmetic: the cell (ix, iy) of each floor
    point (N, 2) m, None off the plan (or NaN). For a frame's people (tens at most), where
    numpy's calls cost far more than the arithmetic."""
    origin_x, origin_y = plan.origin_m
    width_m, height_m = plan.width_m, plan.height_m
    cols, rows = grid_size(plan, cell_m)
    cells: list[tuple[int, int] | None] = []
    for x, y in np.asarray(floor_xy, dtype=np.float64).reshape(-1, 2).tolist():
        rel_x, rel_y = x - origin_x, y - origin_y
        on_plan = 0 <= rel_x < width_m and 0 <= rel_y < height_m  # False for NaN
        if on_plan:
            cells.append(
                (min(math.floor(rel_x / cell_m), cols - 1), min(math.floor(rel_y / cell_m), rows - 1))
            )
        else:
            cells.append(None)
    return cells


def cell_sums(
    floor_xy: np.ndarray, plan: FloorPlan, cell_m: float, weight: float
) -> dict[tuple[int, int], float]:
    """`weight` summed per grid cell (`cells_of`) of the floor points (N, 2) m on the plan,
    adding in input order from 0.0 (np.unique(axis=0) and a sum per cell cost far more on a
    frame's people)."""
    sums: dict[tuple[int, int], float] = {}
    for cell in cells_of(floor_xy, plan, cell_m):
        if cell is not None:
            sums[cell] = sums.get(cell, 0.0) + weight
    return sums
