"""Lens intrinsics (focal lengths, principal point, distortion) from chessboard photos.

A wide-angle shop camera bends straight floor lines; one homography cannot undo that, so the
camera matrix K and the distortion coefficients (OpenCV's k1 k2 p1 p2 k3 model) are estimated
once per camera model from 10-20 photos of a printed chessboard held at different angles,
taken by the camera itself at its working resolution, and stored in the camera's
`calibration` (`camera_matrix`, `dist_coeffs`). `CameraGeometry` then undoes the distortion
on image points before the floor homography.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from footfall_core.geometry import CalibrationError

MIN_VIEWS = 3  # fewer views leave the focal length and distortion poorly determined
CORNER_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)


@dataclass(frozen=True)
class Intrinsics:
    """Result of a chessboard calibration. `rms_px` is the RMS distance between detected and
    reprojected corners in pixels (below ~0.5 px is a good calibration)."""

    camera_matrix: np.ndarray  # (3, 3) float64, px
    dist_coeffs: np.ndarray  # (5,) float64: k1 k2 p1 p2 k3
    rms_px: float
    image_size_px: tuple[int, int]  # (width, height)
    views: list[str]  # the images whose board was found and used
    skipped: list[str]  # the images without a detectable board


def parse_board(text: str) -> tuple[int, int]:
    """'9x6' → (9, 6): inner corners across and down (a board of 10×7 squares)."""
    try:
        cols, rows = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"board: expected inner corners like 9x6, got {text!r}") from None
    if cols < 2 or rows < 2:
        raise ValueError(f"board: need at least 2x2 inner corners, got {text!r}")
    return cols, rows


def find_corners(image: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    """(cols*rows, 2) float32 sub-pixel inner corners of the chessboard in a BGR or grey image,
    row by row, or None if the whole board is not visible."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    found, corners = cv2.findChessboardCorners(
        grey, board, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    )
    if not found:
        return None
    corners = cv2.cornerSubPix(grey, corners, (5, 5), (-1, -1), CORNER_CRITERIA)
    return corners.reshape(-1, 2)


def calibrate(images: dict[str, np.ndarray], board: tuple[int, int], square_mm: float) -> Intrinsics:
    """Estimate K and distortion from named images of one camera (all the same size).
    k3 is held at 0: with a handful of views it only fits noise."""
    if square_mm <= 0:
        raise CalibrationError(f"intrinsics: square_mm must be > 0, got {square_mm}")
    cols, rows = board
    board_mm = np.zeros((cols * rows, 3), np.float32)
    board_mm[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square_mm
    sizes = {name: (image.shape[1], image.shape[0]) for name, image in images.items()}
    if len(set(sizes.values())) > 1:
        raise CalibrationError(
            "intrinsics: images differ in size: "
            + ", ".join(f"{name} {w}x{h}" for name, (w, h) in sizes.items())
        )
    views, skipped, image_points = [], [], []
    for name, image in images.items():
        corners = find_corners(image, board)
        if corners is None:
            skipped.append(name)
        else:
            views.append(name)
            image_points.append(corners.reshape(-1, 1, 2))
    if len(views) < MIN_VIEWS:
        raise CalibrationError(
            f"intrinsics: the {cols}x{rows} board was found in {len(views)} image(s), "
            f"need {MIN_VIEWS}; not found in: {', '.join(skipped) or 'none'}"
        )
    size = next(iter(sizes.values()))
    rms, K, D, _, _ = cv2.calibrateCamera(
        [board_mm] * len(views), image_points, size, None, None, flags=cv2.CALIB_FIX_K3
    )
    return Intrinsics(K, D.ravel()[:5], float(rms), size, views, skipped)
