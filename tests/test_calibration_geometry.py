"""Camera ↔ floor geometry: exact synthetic cameras, the real PETS09 calibration, bad inputs."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.store import load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def synthetic_camera(
    height_m=4.0, tilt_deg=35.0, f_px=800.0, size_px=(1280, 720), at_m=(0.0, 0.0), yaw_deg=0.0
):
    """A pinhole camera `height_m` above floor point `at_m`, looking along floor +y turned by
    `yaw_deg` (towards +x), tilted down. Returns (K, rvec, tvec) such that cv2.projectPoints
    maps floor (x, y, 0) to pixels."""
    K = np.array([[f_px, 0, size_px[0] / 2], [0, f_px, size_px[1] / 2], [0, 0, 1.0]])
    t, yaw = np.radians(tilt_deg), np.radians(yaw_deg)
    # camera axes in floor coordinates (floor z up): x right, y down the image, z forward
    ahead = np.array([np.sin(yaw), np.cos(yaw), 0.0])
    forward = np.cos(t) * ahead + np.array([0, 0, -np.sin(t)])
    right = np.cross(ahead, [0, 0, 1.0])
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    centre = np.array([at_m[0], at_m[1], height_m])
    rvec, _ = cv2.Rodrigues(R)
    return K, rvec, -R @ centre


def project(floor_m, K, rvec, tvec, dist=None):
    points = np.c_[floor_m, np.zeros(len(floor_m))]
    image, _ = cv2.projectPoints(points, rvec, tvec, K, dist if dist is not None else np.zeros(5))
    return image.reshape(-1, 2)


FLOOR_M = np.array([[-3, 3], [3, 3], [4, 12], [-4, 12], [0, 6], [-2, 8], [2.5, 5]], float)


def test_exact_synthetic_correspondences_solve_to_zero_error():
    K, rvec, tvec = synthetic_camera()
    image = project(FLOOR_M, K, rvec, tvec)
    geometry = CameraGeometry.solve("cam", image, FLOOR_M, image_size_px=(1280, 720))
    assert geometry.errors_m.max() < 1e-6 and not geometry.outliers.any()
    probe_m = np.random.default_rng(1).uniform([-3, 3], [3, 12], size=(50, 2))
    probe_px = project(probe_m, K, rvec, tvec)
    np.testing.assert_allclose(geometry.image_to_floor(probe_px), probe_m, atol=1e-6)
    np.testing.assert_allclose(geometry.floor_to_image(probe_m), probe_px, atol=1e-5)
    # 1 m across the floor at 3 m ahead spans more pixels than at 12 m
    near, far = geometry.pixels_per_metre([[0, 3], [0, 12]])
    assert near > 2 * far > 0


def test_points_beyond_the_horizon_are_nan():
    K, rvec, tvec = synthetic_camera()
    geometry = CameraGeometry.solve("cam", project(FLOOR_M, K, rvec, tvec), FLOOR_M)
    horizon_row = 360 - 800 * np.tan(np.radians(35))  # the floor's horizon in this camera
    floor = geometry.image_to_floor([[640, horizon_row - 20], [640, horizon_row + 20]])
    assert np.isnan(floor[0]).all() and np.isfinite(floor[1]).all()
    # (0, -2) is below the tilted camera, in front of its image plane: far below the frame
    assert geometry.floor_to_image([[0, -2]])[0, 1] > 720
    assert np.isnan(geometry.floor_to_image([[0, -10]])).all()  # behind the camera
    assert np.isnan(geometry.pixels_per_metre([[0, -10]])).all()


def test_lens_distortion_is_undone_before_the_homography():
    K, rvec, tvec = synthetic_camera()
    dist = np.array([-0.3, 0.1, 0.001, -0.001, 0.0])
    image = project(FLOOR_M, K, rvec, tvec, dist)
    lens = dict(camera_matrix=K.tolist(), dist_coeffs=dist.tolist())
    geometry = CameraGeometry.solve("cam", image, FLOOR_M, **lens)
    assert geometry.errors_m.max() < 1e-4
    probe_m = np.array([[-2.0, 4.0], [1.0, 9.0], [2.5, 6.5]])
    probe_px = project(probe_m, K, rvec, tvec, dist)
    np.testing.assert_allclose(geometry.image_to_floor(probe_px), probe_m, atol=1e-4)
    np.testing.assert_allclose(geometry.floor_to_image(probe_m), probe_px, atol=1e-3)
    ignoring = CameraGeometry.solve("cam", image, FLOOR_M, strict=False)
    assert ignoring.errors_m.max() > 100 * geometry.errors_m.max()


def pets09_ground_truth(assets):
    gt = np.loadtxt(assets / "datasets/pets09_s2l1/gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] == 1]
    feet_px = np.stack([gt[:, 2] + gt[:, 4] / 2, gt[:, 3] + gt[:, 5]], axis=1)
    return feet_px, gt[:, 7:9]


def median_error_m(geometry, feet_px, world_m):
    return float(np.median(np.linalg.norm(geometry.image_to_floor(feet_px) - world_m, axis=1)))


def test_pets09_example_places_every_ground_truth_foot_on_its_world_position(assets):
    camera = load_config(EXAMPLES / "pets09.yaml").camera("view001")
    geometry = CameraGeometry.from_config(camera, image_size_px=(768, 576))
    feet_px, world_m = pets09_ground_truth(assets)
    median = median_error_m(geometry, feet_px, world_m)
    print(f"PETS09 example homography: median foot error {median:.3f} m over {len(feet_px)} boxes")
    assert median < 0.035  # measured 0.030 m


@pytest.mark.parametrize(
    "subset, measured_m", [([0, 2, 5, 7], 0.039), ([0, 2, 4, 6, 7], 0.028), ([0, 1, 2, 3, 5, 6], 0.034)]
)
def test_pets09_four_to_six_points_are_enough(assets, subset, measured_m):
    cal = load_config(EXAMPLES / "pets09.yaml").camera("view001").calibration
    image = np.array(cal.image_points_px)[subset]
    floor = np.array(cal.floor_points_m)[subset]
    geometry = CameraGeometry.solve("view001", image, floor, image_size_px=(768, 576))
    feet_px, world_m = pets09_ground_truth(assets)
    median = median_error_m(geometry, feet_px, world_m)
    print(f"PETS09 {len(subset)} points: median foot error {median:.3f} m")
    assert median < measured_m + 0.005


SQUARE_PX = [[100, 100], [500, 120], [520, 400], [80, 380]]
SQUARE_M = [[0, 0], [4, 0], [4, 3], [0, 3]]


def with_point(points, index, value):
    points = [list(p) for p in points]
    points[index] = value
    return points


def pets09_points_with_typo():
    cal = load_config(EXAMPLES / "pets09.yaml").camera("view001").calibration
    floor = [list(p) for p in cal.floor_points_m]
    floor[4][0] += 2.0  # one mistyped coordinate
    return cal.image_points_px, floor


@pytest.mark.parametrize(
    "image_px, floor_m, size, expect",
    [
        (SQUARE_PX[:3], SQUARE_M[:3], None, "at least 4 point pairs, got 3"),
        (
            [[0, 0], [100, 1], [200, 2], [300, 3], [400, 4]],
            SQUARE_M + [[2, 2]],
            None,
            "all points are (nearly) on one line",
        ),
        (
            with_point(SQUARE_PX, 3, [300, 110]),
            SQUARE_M,
            None,
            "point 3 (300, 110) px are (nearly) on one line",
        ),
        (
            [[0, 0], [100, 10], [200, 20], [300, 30], [150, 300]],
            [[0, 0], [1, 0], [2, 0], [3, 0], [1.5, 3]],
            None,
            "point 0 (0, 0) px, point 1 (100, 10) px, point 2 (200, 20) px, point 3 (300, 30) px are "
            "(nearly) on one line",
        ),
        (SQUARE_PX, with_point(SQUARE_M, 2, [2, 0]), None, "point 2 (2, 0) m are (nearly) on one line"),
        (SQUARE_PX, SQUARE_M, (510, 500), "point 2 (520, 400) px is outside the 510x500 frame"),
        (with_point(SQUARE_PX, 0, [float("nan"), 1]), SQUARE_M, None, "point 0 is not a finite number"),
        (*pets09_points_with_typo(), None, "point 4 (479.3, 300.5) px → -7.1685, -9.0468 m is off by"),
    ],
)
def test_bad_calibrations_name_the_camera_and_the_point(image_px, floor_m, size, expect):
    with pytest.raises(CalibrationError) as err:
        CameraGeometry.solve("door-cam", image_px, floor_m, image_size_px=size)
    assert "camera door-cam" in str(err.value) and expect in str(err.value)


def test_degenerate_or_folded_homographies_are_refused():
    singular = [[1, 2, 3], [2, 4, 6], [0, 0, 1]]
    with pytest.raises(CalibrationError, match="camera door-cam: the homography is degenerate"):
        CameraGeometry.from_homography("door-cam", singular, SQUARE_PX, SQUARE_M)
    # a horizon (w = 0) at image x = 300 separates point 0 and 3 from points 1 and 2
    folded = [[1, 0, 0], [0, 1, 0], [-1 / 300, 0, 1]]
    with pytest.raises(CalibrationError, match=r"camera door-cam: image point \d \(.*\) px falls beyond"):
        CameraGeometry.from_homography("door-cam", folded, SQUARE_PX, SQUARE_M)


def test_stored_homography_is_used_only_while_it_fits(assets):
    camera = load_config(EXAMPLES / "pets09.yaml").camera("view001")
    cal = camera.calibration
    solved = CameraGeometry.solve("view001", cal.image_points_px, cal.floor_points_m)
    stored = camera.model_copy(
        update={
            "calibration": camera.calibration.model_copy(
                update={"homography": (solved.homography * 3).tolist()}
            )
        }
    )
    np.testing.assert_allclose(CameraGeometry.from_config(stored).homography, solved.homography * 3)
    stale = camera.model_copy(
        update={
            "calibration": camera.calibration.model_copy(
                update={"homography": np.diag([0.02, 0.02, 1.0]).tolist()}
            )
        }
    )
    np.testing.assert_allclose(CameraGeometry.from_config(stale).errors_m, solved.errors_m, atol=1e-9)
