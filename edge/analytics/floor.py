"""Floor-plan geometry shared by the analytics: grid cells and point-in-polygon, in metres."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.config import FloorPlan


def cell_indices(floor_xy: np.ndarray, plan: FloorPlan, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell (ix, iy) of each floor point, cells of `cell_m` metres counted from the plan's
    `origin_m` (ix along +x, iy along +y). Returns `(cells (K, 2) int64, inside (N,) bool)`:
    points off the plan (x outside [origin_x, origin_x + width_m), same for y) are dropped."""
    floor_xy = np.asarray(floor_xy, dtype=np.float64).reshape(-1, 2)
    rel = floor_xy - np.asarray(plan.origin_m, dtype=np.float64)
    inside = (rel[:, 0] >= 0) & (rel[:, 0] < plan.width_m) & (rel[:, 1] >= 0) & (rel[:, 1] < plan.height_m)
    return np.floor(rel[inside] / cell_m).astype(np.int64), inside


def in_polygon(floor_xy: np.ndarray, polygon_m: Sequence[tuple[float, float]]) -> np.ndarray:
    """(N,) bool: which points lie inside the polygon (even-odd rule; edges are ambiguous).
    Points and polygon in one frame: floor metres, or image pixels for `image_mask_px`."""
    pts = np.asarray(floor_xy, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon_m, dtype=np.float64)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return np.count_nonzero(straddles & (x < x_cross), axis=1) % 2 == 1


def sparse_sum(cells: np.ndarray, weights: np.ndarray) -> dict[tuple[int, int], float]:
    """Sum `weights (K,)` per distinct cell of `cells (K, 2)`."""
    if len(cells) == 0:
        return {}
    unique, inverse = np.unique(cells, axis=0, return_inverse=True)
    sums = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(unique))
    return {(int(ix), int(iy)): float(s) for (ix, iy), s in zip(unique, sums)}
