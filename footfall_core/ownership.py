"""Which camera counts which floor cell, so that people in overlapping views count once.

Every cell of the floor plan's heat grid (`analysis.cell_m`, row-major from the plan's
`origin_m`, x right and y down in floor metres) is owned by at most one camera: among the
cameras that see part of the cell (its centre or a corner projects inside the frame and inside
the camera's `image_mask_px`, in front of the camera), the one with the most pixels per floor
metre there, i.e. the one that sees it in most detail and detects people there most reliably.
Ties go to the camera listed first in the config. Each camera then keeps only people standing
on its own cells (`keep`), and the union over cameras counts everyone once.

A person can still stand on a cell that no camera owns (a sliver of the frame's edge that
misses the cell's centre and corners): the camera that reports them keeps them, since nobody
else can count them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from footfall_core.floor import cells_of, grid_size
from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.store import FloorPlan, StoreConfig

UNSEEN = -1
CELL_SAMPLES = [(0.5, 0.5), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]  # centre and corners, in cells


@dataclass(frozen=True)
class FloorGrid:
    """The plan's cells: `cols` × `rows` squares of `cell_m` metres from `origin_m`, numbered
    as `footfall_core.floor.cell_indices` numbers them (a partial last row/column included)."""

    origin_m: tuple[float, float]
    cell_m: float
    cols: int
    rows: int

    @classmethod
    def of(cls, plan: FloorPlan, cell_m: float) -> FloorGrid:
        return cls(plan.origin_m, cell_m, *grid_size(plan, cell_m))

    def points_m(self, at: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
        """(rows*cols, 2) floor m, one point of every cell in row-major order: `at` is its
        place within the cell in cell sizes ((0.5, 0.5) the centre, (0, 0) the top-left corner)."""
        x = self.origin_m[0] + (np.arange(self.cols) + at[0]) * self.cell_m
        y = self.origin_m[1] + (np.arange(self.rows) + at[1]) * self.cell_m
        xx, yy = np.meshgrid(x, y)
        return np.stack([xx.ravel(), yy.ravel()], axis=1)


def visible(
    geometry: CameraGeometry,
    points_m: np.ndarray,
    frame_size_px: tuple[int, int],
    image_mask_px: list[tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which floor points (N, 2) m one camera sees: in front of it, inside its frame of
    `frame_size_px` (width, height) and inside its mask polygon. Returns (N,) bool and the
    points' image positions (N, 2) px (NaN behind the camera)."""
    width, height = frame_size_px
    image_px = geometry.floor_to_image(points_m)
    with np.errstate(invalid="ignore"):
        seen = (
            np.isfinite(image_px).all(axis=1)
            & (image_px[:, 0] >= 0)
            & (image_px[:, 0] < width)
            & (image_px[:, 1] >= 0)
            & (image_px[:, 1] < height)
        )
    if image_mask_px is not None and seen.any():
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(np.asarray(image_mask_px)).astype(np.int32)], 1)
        pixels = image_px[seen].astype(np.int64)
        seen[np.flatnonzero(seen)] = mask[pixels[:, 1], pixels[:, 0]] > 0
    return seen, image_px


class Ownership:
    """The owner of every floor cell. `grid` (rows, cols) int: index into `cameras`, -1 where
    no camera sees the cell. `coverage[name]` (rows, cols) bool: the cells that camera sees."""

    def __init__(
        self,
        cameras: list[str],
        grid: np.ndarray,
        coverage: dict[str, np.ndarray],
        plan: FloorPlan,
        floor: FloorGrid,
    ):
        self.cameras = cameras
        self.plan = plan
        self.grid = grid
        self.coverage = coverage
        self.floor = floor
        self._counted: dict[tuple[str, ...], list[list[bool]]] = {}  # `_counted_cells`, per group of cameras

    @classmethod
    def build(
        cls,
        config: StoreConfig,
        frame_sizes: dict[str, tuple[int, int]],
        geometries: dict[str, CameraGeometry] | None = None,
    ) -> Ownership:
        """Assign every cell of `config`'s plan. `frame_sizes` gives (width, height) px per
        camera name; `geometries` may pass already solved cameras (default: from the config)."""
        floor = FloorGrid.of(config.floor_plan, config.analysis.cell_m)
        samples = [floor.points_m(at) for at in CELL_SAMPLES]
        names = [camera.name for camera in config.cameras]
        best = np.full(floor.rows * floor.cols, -np.inf)
        owner = np.full(floor.rows * floor.cols, UNSEEN, np.int64)
        coverage = {}
        for index, camera in enumerate(config.cameras):
            if camera.name not in frame_sizes:
                raise CalibrationError(
                    f"camera {camera.name}: no frame size given to Ownership.build "
                    f"(have {', '.join(sorted(frame_sizes)) or 'none'})"
                )
            size = frame_sizes[camera.name]
            geometry = (geometries or {}).get(camera.name) or CameraGeometry.from_config(camera, size)
            seen, scale = np.zeros(len(best), bool), np.full(len(best), -np.inf)
            for points in samples:  # seen if any sample point is; scale: the best among those seen
                sample_seen, _ = visible(geometry, points, size, camera.image_mask_px)
                seen |= sample_seen
                scale = np.fmax(scale, np.where(sample_seen, geometry.pixels_per_metre(points), -np.inf))
            better = seen & (scale > best)
            owner[better], best[better] = index, scale[better]
            coverage[camera.name] = seen.reshape(floor.rows, floor.cols)
        return cls(names, owner.reshape(floor.rows, floor.cols), coverage, config.floor_plan, floor)

    def keep(self, camera: str, floor_xy: np.ndarray) -> np.ndarray:
        """(N, 2) floor m of people `camera` sees → (N,) bool: True for those on cells it owns
        or on cells nobody owns. Points off the plan or NaN (beyond the horizon) are not kept."""
        return self.keep_for([camera], floor_xy)

    def keep_for(self, cameras: list[str], floor_xy: np.ndarray) -> np.ndarray:
        """`keep` for people that a group of cameras sees together (their views fused): True
        for those on cells any of them owns or on cells nobody owns."""
        counted = self._counted_cells(cameras)
        cells = cells_of(floor_xy, self.plan, self.floor.cell_m)
        return np.array([cell is not None and counted[cell[1]][cell[0]] for cell in cells], bool)

    def _counted_cells(self, cameras: list[str]) -> list[list[bool]]:
        """[row][col]: whether any of `cameras` owns the cell or nobody does; worked out once
        per group (every frame asks, for each person)."""
        group = tuple(cameras)
        counted = self._counted.get(group)
        if counted is None:
            for camera in cameras:
                if camera not in self.cameras:
                    raise KeyError(f"camera {camera!r} is not in this store (have {', '.join(self.cameras)})")
            mine = [self.cameras.index(camera) for camera in cameras] + [UNSEEN]
            counted = self._counted[group] = np.isin(self.grid, mine).tolist()
        return counted
