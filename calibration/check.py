"""Check pictures of a calibration, for a person to look at (drawing only; geometry lives in
`footfall_core.geometry`, cell ownership in `footfall_core.ownership`).

- `draw_on_frame`: the floor plan's 1 m grid, zones, lines and calibration points drawn onto
  the camera frame: a good calibration puts the grid flat on the floor and the points on their
  crosses.
- `warp_to_plan`: the camera frame seen from above on the floor plan, with the same grid.
- `draw_ownership`: per camera, the cells it sees (light) and the cells it owns (strong).

Plan pictures are `px_per_m` pixels per floor metre with the plan's `origin_m` at the top-left
corner, x right and y down, like the floor frame itself.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from footfall_core.geometry import CameraGeometry
from footfall_core.ownership import UNSEEN, Ownership
from footfall_core.store import StoreConfig

GRID_BGR = (255, 255, 0)  # cyan: rare on floors and footage, easy to find in a test
ZONE_BGR = (0, 200, 255)
LINE_BGR = (255, 0, 255)
POINT_BGR = (0, 0, 255)
REPROJECTED_BGR = (0, 255, 0)
CAMERA_BGR = [(230, 120, 30), (40, 160, 40), (40, 40, 220), (160, 60, 160), (30, 170, 200), (120, 120, 120)]
STEP_M = 0.05  # floor lines are sampled this finely so that lens distortion bends them correctly


def _runs(points_px: np.ndarray, size_px: tuple[int, int]) -> list[np.ndarray]:
    """Split a projected polyline at NaN points (beyond the horizon) and at points far outside
    the frame, whose huge coordinates would overflow the rasteriser."""
    width, height = size_px
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(points_px).all(axis=1)
            & (np.abs(points_px[:, 0] - width / 2) < 4 * width)
            & (np.abs(points_px[:, 1] - height / 2) < 4 * height)
        )
    runs, start = [], None
    for i, good in enumerate(np.append(ok, False)):
        if good and start is None:
            start = i
        elif not good and start is not None:
            if i - start >= 2:
                runs.append(np.round(points_px[start:i]).astype(np.int32))
            start = None
    return runs


def _sample(points_m, closed: bool) -> np.ndarray:
    """(K, 2) floor m along a polyline, every STEP_M metres."""
    points = np.asarray(points_m, dtype=np.float64)
    if closed:
        points = np.vstack([points, points[:1]])
    pieces = []
    for a, b in zip(points[:-1], points[1:]):
        n = max(2, int(math.ceil(np.linalg.norm(b - a) / STEP_M)) + 1)
        pieces.append(a + (b - a) * np.linspace(0, 1, n)[:, None])
    return np.vstack(pieces)


def grid_lines_m(config: StoreConfig, spacing_m: float = 1.0) -> list[np.ndarray]:
    """Every whole-`spacing_m` floor line across the plan, each as a (2, 2) segment in m."""
    (x0, y0), plan = config.floor_plan.origin_m, config.floor_plan
    x1, y1 = x0 + plan.width_m, y0 + plan.height_m
    xs = np.arange(math.ceil(x0 / spacing_m), math.floor(x1 / spacing_m) + 1) * spacing_m
    ys = np.arange(math.ceil(y0 / spacing_m), math.floor(y1 / spacing_m) + 1) * spacing_m
    return [np.array([[x, y0], [x, y1]]) for x in xs] + [np.array([[x0, y], [x1, y]]) for y in ys]


def draw_on_frame(frame: np.ndarray, geometry: CameraGeometry, config: StoreConfig) -> np.ndarray:
    """A copy of the BGR camera frame with the floor grid (1 px cyan), zones, lines and the
    calibration points (red dots as clicked, green crosses where their floor points project)."""
    out = frame.copy()
    size = (out.shape[1], out.shape[0])

    def polyline(points_m, closed, colour, thickness):
        for run in _runs(geometry.floor_to_image(_sample(points_m, closed)), size):
            cv2.polylines(out, [run], False, colour, thickness)

    for segment in grid_lines_m(config):
        polyline(segment, False, GRID_BGR, 1)
    for zone in config.zones:
        polyline(zone.polygon_m, True, ZONE_BGR, 2)
        centre_m = np.mean(zone.polygon_m, axis=0, keepdims=True)
        _label(out, zone.name, geometry.floor_to_image(centre_m)[0], ZONE_BGR)
    for line in config.lines:
        polyline([line.start_m, line.end_m], False, LINE_BGR, 2)
        _label(out, line.name, geometry.floor_to_image([line.end_m])[0], LINE_BGR)
    reprojected = geometry.floor_to_image(geometry.floor_points_m)
    for i, (clicked, projected) in enumerate(zip(geometry.image_points_px, reprojected)):
        cv2.circle(out, tuple(np.round(clicked).astype(int)), 4, POINT_BGR, -1)
        if np.isfinite(projected).all():
            at = tuple(np.round(projected).astype(int))
            cv2.drawMarker(out, at, REPROJECTED_BGR, cv2.MARKER_CROSS, 12, 2)
        _label(out, str(i), clicked + 6, POINT_BGR)
    return out


def _label(image: np.ndarray, text: str, at_px: np.ndarray, colour) -> None:
    if np.isfinite(at_px).all() and abs(at_px[0]) < 1e5 and abs(at_px[1]) < 1e5:
        cv2.putText(
            image,
            text,
            tuple(np.round(at_px).astype(int)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            colour,
            1,
            cv2.LINE_AA,
        )


def plan_size_px(config: StoreConfig, px_per_m: float) -> tuple[int, int]:
    plan = config.floor_plan
    return int(math.ceil(plan.width_m * px_per_m)), int(math.ceil(plan.height_m * px_per_m))


def plan_px(config: StoreConfig, points_m, px_per_m: float) -> np.ndarray:
    """(N, 2) floor m → (N, 2) plan picture px."""
    return (np.asarray(points_m, dtype=np.float64) - np.asarray(config.floor_plan.origin_m)) * px_per_m


def _draw_plan_overlay(image: np.ndarray, config: StoreConfig, px_per_m: float) -> None:
    """Grid, zones and lines onto a plan picture (in place)."""
    for segment in grid_lines_m(config):
        run = np.round(plan_px(config, segment, px_per_m)).astype(np.int32)
        cv2.polylines(image, [run], False, GRID_BGR, 1)
    for zone in config.zones:
        outline = np.round(plan_px(config, zone.polygon_m, px_per_m)).astype(np.int32)
        cv2.polylines(image, [outline], True, ZONE_BGR, 2)
        _label(image, zone.name, outline.mean(axis=0), ZONE_BGR)
    for line in config.lines:
        ends = np.round(plan_px(config, [line.start_m, line.end_m], px_per_m)).astype(int)
        cv2.arrowedLine(image, tuple(ends[0]), tuple(ends[1]), LINE_BGR, 2, tipLength=0.05)
        _label(image, line.name, ends[1] + 4, LINE_BGR)


def warp_to_plan(
    frame: np.ndarray, geometry: CameraGeometry, config: StoreConfig, px_per_m: float = 20.0
) -> np.ndarray:
    """The camera frame resampled onto the floor plan (black where the camera does not see),
    with the grid, zones and lines on top. Things standing up (people, walls) smear away from
    the camera: only the floor is where it belongs."""
    width, height = plan_size_px(config, px_per_m)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    plan_xy_px = np.stack([cols.ravel(), rows.ravel()], axis=1)
    floor_m = np.asarray(config.floor_plan.origin_m) + plan_xy_px / px_per_m
    image_px = geometry.floor_to_image(floor_m).astype(np.float32)
    image_px[~np.isfinite(image_px).all(axis=1)] = -1.0
    maps = image_px.reshape(height, width, 2)
    out = cv2.remap(frame, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    _draw_plan_overlay(out, config, px_per_m)
    return out


def draw_ownership(
    config: StoreConfig, ownership: Ownership, camera: str | None = None, px_per_m: float = 20.0
) -> np.ndarray:
    """Plan picture of cell ownership. With `camera`: that camera's coverage (light tint) and
    owned cells (full colour). Without: every camera's owned cells in its colour."""
    width, height = plan_size_px(config, px_per_m)
    cell_px = config.analysis.cell_m * px_per_m
    cells = np.zeros((ownership.grid.shape[0], ownership.grid.shape[1], 3), np.uint8) + 255
    for index, name in enumerate(ownership.cameras):
        colour = np.array(CAMERA_BGR[index % len(CAMERA_BGR)], np.uint8)
        if camera is None:
            cells[ownership.grid == index] = colour
        elif name == camera:
            cells[ownership.coverage[name]] = (colour.astype(int) + 2 * 255) // 3
            cells[ownership.grid == index] = colour
    if camera is None:
        cells[ownership.grid == UNSEEN] = (235, 235, 235)
    row = np.minimum((np.arange(height) + 0.5) // cell_px, cells.shape[0] - 1).astype(int)
    col = np.minimum((np.arange(width) + 0.5) // cell_px, cells.shape[1] - 1).astype(int)
    out = np.ascontiguousarray(cells[row][:, col])
    _draw_plan_overlay(out, config, px_per_m)
    return out
