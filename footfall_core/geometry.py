"""Camera image ↔ store floor plan geometry for one camera.

Frames: image points are pixels of the camera frame as decoded (x right, y down, origin at the
top-left pixel corner); floor points are metres on the store floor plan (x right, y down the
plan image, see `edge.types`). A flat floor seen through a pinhole lens is a plane-to-plane
homography, so one 3×3 matrix (`homography`, undistorted image px → floor m) holds the whole
calibration; a lens with distortion (`camera_matrix` + `dist_coeffs`, the OpenCV model) is
undone on image points first, with `cv2.undistortPoints(..., P=K)`, so the homography works in
an ideal pinhole image with the same intrinsics.

Horizon: image points above the floor's horizon (and floor points behind the camera) have no
projection. They come out as NaN rows rather than as mirrored points far away, so callers
drop them with `np.isfinite(...).all(axis=1)`.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from footfall_core.store import Camera

log = logging.getLogger(__name__)

# A point triple whose height over its longest side is below this fraction is collinear.
COLLINEAR_RATIO = 0.01
# Projective denominators below this (relative to the calibration points') count as the horizon.
HORIZON_EPS = 1e-9
# Condition number of the homography in Hartley-normalised coordinates above which it is degenerate.
MAX_CONDITION = 1e6
# Point sets up to this size are searched for a line holding all points but one.
MAX_SPREAD_CHECK = 64
# Image steps of the Jacobian's central differences, in units of its step: +x, -x, +y, -y.
_JACOBIAN_STEPS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


class CalibrationError(ValueError):
    """A calibration that cannot be used; the message names the camera and the offending point."""


def _points(array: npt.ArrayLike, name: str, camera: str) -> np.ndarray:
    out = np.asarray(array, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] != 2:
        raise CalibrationError(f"camera {camera}: {name}: expected shape (N, 2), got {out.shape}")
    return out


def _point_text(index: int | np.integer, point: np.ndarray, unit: str) -> str:
    return f"point {index} ({point[0]:.6g}, {point[1]:.6g}) {unit}"


def _check_spread(points: np.ndarray, name: str, unit: str, camera: str) -> None:
    """Refuse point sets that cannot fix a homography. It needs four points with no three on
    one line; such four exist unless all points but at most one lie on one line (then every
    four include three on it and the fit is free to fold the floor along that line).
    "On a line" means within COLLINEAR_RATIO of the points' span; sets of more than
    MAX_SPREAD_CHECK points are only checked for all lying on one line."""
    span = np.ptp(points, axis=0).max()
    if span <= 0:
        raise CalibrationError(f"camera {camera}: {name}: all points are the same")
    centred = (points - points.mean(axis=0)) / span
    if np.linalg.svd(centred, compute_uv=False)[-1] < COLLINEAR_RATIO:
        raise CalibrationError(
            f"camera {camera}: {name}: all points are (nearly) on one line; spread them over the floor"
        )
    if len(points) > MAX_SPREAD_CHECK:
        return
    unit_points = points / span
    for i, j in itertools.combinations(range(len(points)), 2):
        direction = unit_points[j] - unit_points[i]
        length = np.linalg.norm(direction)
        if length < 0.1:  # a short pair fixes no direction; a longer pair on the same line will
            continue
        offset = unit_points - unit_points[i]
        distance = np.abs(direction[0] * offset[:, 1] - direction[1] * offset[:, 0]) / length
        on_line = np.flatnonzero(distance < COLLINEAR_RATIO)
        if len(on_line) >= len(points) - 1:
            listed = ", ".join(_point_text(k, points[k], unit) for k in on_line)
            raise CalibrationError(
                f"camera {camera}: {name}: {listed} are (nearly) on one line, with at most one point off "
                "it: a homography needs four points with no three on a line; move one off it or add points"
            )


def _hartley(points: np.ndarray) -> np.ndarray:
    """Similarity that moves points to zero mean and mean distance √2 (for conditioning)."""
    mean = points.mean(axis=0)
    scale = np.sqrt(2) / max(np.linalg.norm(points - mean, axis=1).mean(), 1e-12)
    return np.array([[scale, 0, -scale * mean[0]], [0, scale, -scale * mean[1]], [0, 0, 1]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projective transform of (N, 2) points: returns (N, 2) results and (N,) denominators w."""
    homogeneous = points @ matrix[:, :2].T + matrix[:, 2]  # [x, y, 1] @ matrix.T, without building [x, y, 1]
    w = homogeneous[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return homogeneous[:, :2] / w[:, None], w


@dataclass(frozen=True, eq=False)
class CameraGeometry:
    """The solved image→floor mapping of one camera, with its fit on the calibration points.

    `homography` maps undistorted image px to floor m and is scaled so that w > 0 in front of
    the camera. `errors_m` (N,) is each calibration point's distance in metres between its
    floor position and its image point projected onto the floor; `outliers` (N,) flags those
    above `max_error_m` (RANSAC's inlier threshold too, so these are the points it rejected).
    """

    camera: str
    homography: np.ndarray  # (3, 3) float64, undistorted image px → floor m
    image_points_px: np.ndarray  # (N, 2) float64, as clicked (distorted) px
    floor_points_m: np.ndarray  # (N, 2) float64
    errors_m: np.ndarray  # (N,) float64
    outliers: np.ndarray  # (N,) bool
    max_error_m: float
    camera_matrix: np.ndarray | None = None  # (3, 3) float64
    dist_coeffs: np.ndarray | None = None  # (K,) float64
    image_size_px: tuple[int, int] | None = None  # (width, height)

    def __post_init__(self) -> None:
        inverse = np.linalg.inv(self.homography)
        # Keep w > 0 for floor points in front of the camera in the inverse too.
        _, w = _apply(inverse, self.floor_points_m)
        object.__setattr__(self, "_inverse", inverse if np.median(w) > 0 else -inverse)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, camera: Camera, image_size_px: tuple[int, int] | None = None) -> CameraGeometry:
        """Geometry of a configured camera. A stored `calibration.homography` is used when it
        still reprojects every point within `max_error_m`; otherwise (or when absent) the
        homography is solved again from the point pairs, which are the source of truth."""
        cal = camera.calibration
        points = (
            cal.image_points_px,
            cal.floor_points_m,
            cal.max_error_m,
            cal.camera_matrix,
            cal.dist_coeffs,
        )
        if cal.homography is not None:
            stored = cls.from_homography(camera.name, cal.homography, *points, image_size_px)
            if not stored.outliers.any():
                return stored
            log.warning(
                "camera %s: stored homography no longer fits the points (worst %.3f m); solving again",
                camera.name,
                stored.errors_m.max(),
            )
        return cls.solve(camera.name, *points, image_size_px)

    @classmethod
    def solve(
        cls,
        camera: str,
        image_points_px: npt.ArrayLike,
        floor_points_m: npt.ArrayLike,
        max_error_m: float = 0.3,
        camera_matrix: npt.ArrayLike | None = None,
        dist_coeffs: npt.ArrayLike | None = None,
        image_size_px: tuple[int, int] | None = None,
        strict: bool = True,
    ) -> CameraGeometry:
        """Fit the homography from ≥ 4 point pairs (RANSAC with `max_error_m` as the inlier
        threshold, then least squares on the inliers). With `strict`, any point off by more
        than `max_error_m` raises CalibrationError naming it; without, it is only flagged."""
        image_px, floor_m, K, D = cls._inputs(
            camera, image_points_px, floor_points_m, camera_matrix, dist_coeffs, image_size_px
        )
        ideal_px = _undistort(image_px, K, D)
        _check_spread(ideal_px, "image_points_px", "px", camera)
        _check_spread(floor_m, "floor_points_m", "m", camera)
        method = cv2.RANSAC if len(image_px) > 4 else 0
        matrix, _ = cv2.findHomography(ideal_px, floor_m, method, ransacReprojThreshold=max_error_m)
        if matrix is None:
            raise CalibrationError(f"camera {camera}: no homography fits these {len(image_px)} point pairs")
        return cls.from_homography(
            camera, matrix, image_px, floor_m, max_error_m, K, D, image_size_px, strict=strict
        )

    @classmethod
    def from_homography(
        cls,
        camera: str,
        homography: npt.ArrayLike,
        image_points_px: npt.ArrayLike,
        floor_points_m: npt.ArrayLike,
        max_error_m: float = 0.3,
        camera_matrix: npt.ArrayLike | None = None,
        dist_coeffs: npt.ArrayLike | None = None,
        image_size_px: tuple[int, int] | None = None,
        strict: bool = False,
    ) -> CameraGeometry:
        """Wrap a known image→floor homography and measure it on the point pairs."""
        image_px, floor_m, K, D = cls._inputs(
            camera, image_points_px, floor_points_m, camera_matrix, dist_coeffs, image_size_px
        )
        matrix = np.asarray(homography, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
            raise CalibrationError(
                f"camera {camera}: homography: expected a finite 3x3 matrix, got shape {matrix.shape}"
            )
        ideal_px = _undistort(image_px, K, D)
        normalised = _hartley(floor_m) @ matrix @ np.linalg.inv(_hartley(ideal_px))
        condition = np.linalg.cond(normalised)
        if not np.isfinite(condition) or condition > MAX_CONDITION:
            raise CalibrationError(
                f"camera {camera}: the homography is degenerate (condition number "
                f"{condition:.3g}); check that the point pairs match and are spread "
                "over the floor"
            )
        _, w = _apply(matrix, ideal_px)
        if np.median(w) < 0:
            matrix, w = -matrix, -w
        behind = np.flatnonzero(w <= HORIZON_EPS * np.abs(w).max())
        if len(behind):
            i = behind[0]
            raise CalibrationError(
                f"camera {camera}: image {_point_text(i, image_px[i], 'px')} falls beyond "
                "the floor's horizon of the other points; it does not pair with its "
                "floor point"
            )
        projected, _ = _apply(matrix, ideal_px)
        errors = np.linalg.norm(projected - floor_m, axis=1)
        geometry = cls(
            camera, matrix, image_px, floor_m, errors, errors > max_error_m, max_error_m, K, D, image_size_px
        )
        if strict:
            geometry.raise_for_outliers()
        return geometry

    @staticmethod
    def _inputs(
        camera: str,
        image_points_px: npt.ArrayLike,
        floor_points_m: npt.ArrayLike,
        camera_matrix: npt.ArrayLike | None,
        dist_coeffs: npt.ArrayLike | None,
        image_size_px: tuple[int, int] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        image_px = _points(image_points_px, "image_points_px", camera)
        floor_m = _points(floor_points_m, "floor_points_m", camera)
        if len(image_px) != len(floor_m):
            raise CalibrationError(
                f"camera {camera}: {len(image_px)} image points but {len(floor_m)} floor points"
            )
        if len(image_px) < 4:
            raise CalibrationError(f"camera {camera}: need at least 4 point pairs, got {len(image_px)}")
        for name, array in (("image_points_px", image_px), ("floor_points_m", floor_m)):
            bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
            if len(bad):
                raise CalibrationError(f"camera {camera}: {name}: point {bad[0]} is not a finite number")
        if image_size_px is not None:
            width, height = image_size_px
            outside = np.flatnonzero(
                (image_px[:, 0] < 0)
                | (image_px[:, 0] > width)
                | (image_px[:, 1] < 0)
                | (image_px[:, 1] > height)
            )
            if len(outside):
                i = outside[0]
                raise CalibrationError(
                    f"camera {camera}: image_points_px: "
                    f"{_point_text(i, image_px[i], 'px')} "
                    f"is outside the {width}x{height} frame"
                )
        if (camera_matrix is None) != (dist_coeffs is None):
            raise CalibrationError(f"camera {camera}: camera_matrix and dist_coeffs go together")
        K = D = None
        if camera_matrix is not None:
            K = np.asarray(camera_matrix, dtype=np.float64)
            D = np.asarray(dist_coeffs, dtype=np.float64).ravel()
            if K.shape != (3, 3):
                raise CalibrationError(f"camera {camera}: camera_matrix: expected 3x3, got shape {K.shape}")
            if D.size not in (4, 5, 8, 12, 14):
                raise CalibrationError(
                    f"camera {camera}: dist_coeffs: expected 4, 5, 8, 12 or 14 values, got {D.size}"
                )
        return image_px, floor_m, K, D

    def raise_for_outliers(self) -> None:
        """CalibrationError naming every point that reprojects further than `max_error_m`."""
        bad = np.flatnonzero(self.outliers)
        if len(bad):
            worst = ", ".join(
                f"{_point_text(i, self.image_points_px[i], 'px')} → "
                f"{self.floor_points_m[i][0]:.6g}, {self.floor_points_m[i][1]:.6g} m "
                f"is off by {self.errors_m[i]:.3f} m"
                for i in bad
            )
            raise CalibrationError(
                f"camera {self.camera}: reprojection error above max_error_m {self.max_error_m:g} m: {worst}"
            )

    # ------------------------------------------------------------------ mapping
    @property
    def inverse(self) -> np.ndarray:
        """(3, 3) floor m → undistorted image px, with w > 0 in front of the camera."""
        inverse: np.ndarray = self._inverse  # type: ignore[attr-defined]
        return inverse

    def image_to_floor(self, points_px: npt.ArrayLike) -> np.ndarray:
        """(N, 2) image px → (N, 2) floor m; NaN rows for points at or above the horizon."""
        points = _points(points_px, "points_px", self.camera)
        floor, w = _apply(self.homography, _undistort(points, self.camera_matrix, self.dist_coeffs))
        floor[~(w > HORIZON_EPS)] = np.nan
        return floor

    def floor_to_image(self, points_m: npt.ArrayLike) -> np.ndarray:
        """(N, 2) floor m → (N, 2) image px (lens distortion applied); NaN rows for floor points
        behind the camera. Points may land outside the frame: check against the frame size."""
        points = _points(points_m, "points_m", self.camera)
        ideal, w = _apply(self.inverse, points)
        ideal[~(w > HORIZON_EPS)] = np.nan
        return _distort(ideal, self.camera_matrix, self.dist_coeffs)

    def image_to_floor_jacobian(self, points_px: npt.ArrayLike, step_px: float = 0.5) -> np.ndarray:
        """(N, 2, 2) derivative of image_to_floor at image points (N, 2) px, in m per px:
        [[dX/dx, dX/dy], [dY/dx, dY/dy]], lens distortion included (central differences of
        `step_px`). A pixel of doubt at a point becomes J · (that pixel) of floor: how much
        less precisely the camera places people far away. NaN at or above the horizon."""
        points = _points(points_px, "points_px", self.camera)
        # the four shifted copies of the points projected in one call: (4, N, 2)
        floor = self.image_to_floor((points + _JACOBIAN_STEPS[:, None] * step_px).reshape(-1, 2))
        floor = floor.reshape(4, len(points), 2)
        jacobian = np.empty((len(points), 2, 2))  # filled in place: np.stack costs more on a few people
        np.subtract(floor[0], floor[1], out=jacobian[:, :, 0])
        np.subtract(floor[2], floor[3], out=jacobian[:, :, 1])
        jacobian /= 2 * step_px
        return jacobian

    def pixels_per_metre(self, points_m: npt.ArrayLike) -> np.ndarray:
        """(N,) image scale at floor points: √|det J| of the floor→image map, in px per m
        (the side of a 1 m floor square in pixels; lens distortion ignored). NaN behind the
        camera. Larger means the camera sees that spot in more detail."""
        points = _points(points_m, "points_m", self.camera)
        image, w = _apply(self.inverse, points)
        g = self.inverse
        with np.errstate(invalid="ignore", divide="ignore"):
            j11 = (g[0, 0] - image[:, 0] * g[2, 0]) / w
            j12 = (g[0, 1] - image[:, 0] * g[2, 1]) / w
            j21 = (g[1, 0] - image[:, 1] * g[2, 0]) / w
            j22 = (g[1, 1] - image[:, 1] * g[2, 1]) / w
            scale: np.ndarray = np.sqrt(np.abs(j11 * j22 - j12 * j21))
        scale[~(w > HORIZON_EPS)] = np.nan
        return scale


def _undistort(points_px: np.ndarray, K: np.ndarray | None, D: np.ndarray | None) -> np.ndarray:
    """Distorted px → ideal pinhole px with the same intrinsics (identity without a lens model)."""
    if K is None or len(points_px) == 0:
        return points_px
    # cv2.undistortPoints with P=K, iterated to convergence: its default 5 iterations leave
    # ~0.01 px of error at strong barrel distortion.
    ideal = cv2.undistortPoints(points_px.reshape(-1, 1, 2), K, D, None, None, K, UNDISTORT_CRITERIA)
    return ideal.reshape(-1, 2)


def _distort(ideal_px: np.ndarray, K: np.ndarray | None, D: np.ndarray | None) -> np.ndarray:
    """Ideal pinhole px → distorted px; NaN rows stay NaN."""
    if K is None or len(ideal_px) == 0:
        return ideal_px
    out = np.full_like(ideal_px, np.nan)
    ok = np.isfinite(ideal_px).all(axis=1)
    if ok.any():
        normalised = (ideal_px[ok] - K[:2, 2]) / np.diag(K)[:2]
        rays = np.c_[normalised, np.ones(ok.sum())]
        projected, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, D)
        out[ok] = projected.reshape(-1, 2)
    return out
