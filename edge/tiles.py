"""Which model passes a camera's frames get: the tile plan.

Tiling (for small, distant people) runs the model on cols × rows overlapping tiles, each
letterboxed to the model input and so enlarged, optionally plus a whole-frame pass. With
`small_below_input_px` the tiles cover only the band of image rows where the camera's
calibration puts people too small for a whole-frame pass (far from the camera), and one
whole-frame pass finds the nearer, larger people: fewer passes than tiling the whole frame.

`TilePlan` is built once per camera from its tiling and calibration (the pipeline does it) and
works out the passes once per frame size. Coordinates are image pixels.
"""

from __future__ import annotations

import logging

import numpy as np

from footfall_core.geometry import CameraGeometry
from footfall_core.store import Tiling
from footfall_core.tiling import Tile, make_tiles

log = logging.getLogger(__name__)


def standing_height_px(geometry: CameraGeometry, feet_px: np.ndarray, person_height_m: float) -> np.ndarray:
    """(N,) expected height in image px of a person standing with their feet at image points
    (N, 2) px: `person_height_m` × the floor's px per metre along the image row there. Seen by a
    camera without roll, a floor line along an image row keeps its distance to the camera, and
    an upright person looks as tall as that scale says, times the cosine of the camera's tilt
    (so the estimate is 4 % too tall at 15° down, 13 % at 30°). NaN at or above the horizon,
    where nobody's feet can be."""
    half_px = np.array([0.5, 0.0])
    metres_per_px = np.linalg.norm(
        geometry.image_to_floor(feet_px + half_px) - geometry.image_to_floor(feet_px - half_px), axis=1
    )
    heights: np.ndarray = person_height_m / metres_per_px
    return heights


def person_height_px(
    geometry: CameraGeometry, width_px: int, height_px: int, person_height_m: float
) -> np.ndarray:
    """(height_px,) expected height in image px of a person standing with their feet on each
    image row, at the centre column (`standing_height_px`); 0 for rows at or above the
    horizon."""
    rows = np.arange(height_px) + 0.5  # pixel centres
    feet_px = np.stack([np.full(height_px, width_px / 2), rows], axis=1)
    heights: np.ndarray = np.nan_to_num(standing_height_px(geometry, feet_px, person_height_m), nan=0.0)
    return heights


def small_people_rows(
    heights_px: np.ndarray, scale: float, small_below_input_px: float
) -> tuple[int, int] | None:
    """Rows [y0, y1) spanning every row whose `heights_px` (person height by row, image px) is
    under `small_below_input_px` once scaled by `scale` (model input px per image px of a
    whole-frame pass); None when no row is."""
    small = np.flatnonzero(heights_px * scale < small_below_input_px)
    return (int(small[0]), int(small[-1]) + 1) if len(small) else None


class TilePlan:
    """The model passes of one camera's frames: without a tiling the whole frame alone; else
    its tiles, then the whole frame when the tiling has that pass. `input_size_px` is the
    model's square (a band's rows depend on how far a whole-frame pass shrinks people);
    `geometry` (the camera's calibration) is needed by `tiling.small_below_input_px` only."""

    def __init__(
        self, tiling: Tiling | None, input_size_px: int, geometry: CameraGeometry | None = None
    ) -> None:
        if tiling is not None and tiling.small_below_input_px is not None and geometry is None:
            raise ValueError("tiling.small_below_input_px needs the camera's calibration (geometry)")
        self.tiling, self.input_size_px, self.geometry = tiling, input_size_px, geometry
        self._passes: dict[tuple[int, int], tuple[Tile, ...]] = {}

    @property
    def tiled(self) -> bool:
        return self.tiling is not None

    @property
    def with_whole(self) -> bool:
        """Whether the last pass is the whole frame (always without a tiling)."""
        tiling = self.tiling
        return tiling is None or tiling.full_frame or tiling.small_below_input_px is not None

    def passes(self, width_px: int, height_px: int) -> tuple[Tile, ...]:
        """The passes of a frame of this size, as the tiles they see (worked out once per size)."""
        size = (width_px, height_px)
        if size not in self._passes:
            whole = (Tile.whole(width_px, height_px),) if self.with_whole else ()
            self._passes[size] = (*self._tiles(width_px, height_px), *whole)
        return self._passes[size]

    def tiles(self, width_px: int, height_px: int) -> tuple[Tile, ...]:
        """The tiles of a frame of this size: its passes but the whole-frame one."""
        passes = self.passes(width_px, height_px)
        return passes[:-1] if self.with_whole else passes

    def _tiles(self, width_px: int, height_px: int) -> list[Tile]:
        tiling = self.tiling
        if tiling is None:
            return []
        small_below = tiling.small_below_input_px
        if small_below is None or self.geometry is None:
            return make_tiles(width_px, height_px, tiling)
        heights = person_height_px(self.geometry, width_px, height_px, tiling.person_height_m)
        scale = min(self.input_size_px / width_px, self.input_size_px / height_px)
        rows = small_people_rows(heights, scale, small_below)
        tiles = make_tiles(width_px, height_px, tiling, rows) if rows else []
        log.info(
            "camera %s: %d tiles over image rows %s (people under %g model px in a "
            "whole-frame pass), plus the whole frame",
            self.geometry.camera,
            len(tiles),
            rows,
            small_below,
        )
        return tiles
