"""The example stores fit their footage: solved homographies, zones and lines where people are."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_core.floor import in_polygon
from footfall_core.geometry import CameraGeometry
from footfall_core.store import load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "name, camera, size_px, max_error_m",
    [
        ("pets09", "view001", (768, 576), 0.03),  # measured 0.024 m at the worst point pair
        ("mall", "cam1", (640, 480), 0.008),  # measured 0.0054 m
    ],
)
def test_examples_carry_a_solved_homography_and_shapes_on_the_plan(name, camera, size_px, max_error_m):
    config = load_config(EXAMPLES / f"{name}.yaml")
    cal = config.camera(camera).calibration
    assert cal.homography is not None, "run: python -m calibration solve"
    geometry = CameraGeometry.from_config(config.camera(camera), size_px)
    np.testing.assert_allclose(geometry.homography, cal.homography)  # the stored one still fits
    assert geometry.errors_m.max() < max_error_m
    plan = config.floor_plan
    low, high = np.array(plan.origin_m), np.array(plan.origin_m) + [plan.width_m, plan.height_m]
    shapes = [zone.polygon_m for zone in config.zones] + [[line.start_m, line.end_m] for line in config.lines]
    for points in shapes:
        assert ((np.array(points) >= low) & (np.array(points) <= high)).all(), points


def pets09_tracks(assets):
    gt = np.loadtxt(assets / "datasets/pets09_s2l1/gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] == 1]
    return {
        int(i): gt[gt[:, 1] == i][np.argsort(gt[gt[:, 1] == i][:, 0])][:, 7:9] for i in np.unique(gt[:, 1])
    }


def test_pets09_zones_hold_the_walkers_and_the_line_is_crossed_by_most(assets):
    config = load_config(EXAMPLES / "pets09.yaml")
    tracks = pets09_tracks(assets)  # floor = GT world coordinates, by the example's choice
    everyone_m = np.vstack(list(tracks.values()))
    in_zone = np.zeros(len(everyone_m), bool)
    for zone in config.zones:
        inside = in_polygon(everyone_m, zone.polygon_m)
        assert inside.mean() > 0.2, zone.name  # both zones see real traffic
        in_zone |= inside
    assert in_zone.mean() > 0.92  # measured 0.935
    line = config.lines[0]
    start, end = np.array(line.start_m), np.array(line.end_m)
    (dx, dy), crossers = end - start, 0
    for path_m in tracks.values():
        rel = path_m - start
        side = np.sign(dx * rel[:, 1] - dy * rel[:, 0])
        steps = np.flatnonzero(side[1:] * side[:-1] < 0)
        along = [(path_m[i] - start) @ (end - start) / np.sum((end - start) ** 2) for i in steps]
        crossers += any(0 <= a <= 1 for a in along)
    print(f"PETS09: {crossers} of {len(tracks)} annotated people cross line {line.name}")
    assert crossers >= 16  # measured 17 of the 19 people


def test_mall_ground_plane_agrees_with_the_perspective_map(assets):
    """Across an image row, floor metres per pixel are constant and proportional to the
    distance below the horizon; the dataset's perspective map (∝ 1 / person height²) must
    give the same scale row by row, up to one constant."""
    geometry = CameraGeometry.from_config(load_config(EXAMPLES / "mall.yaml").camera("cam1"))
    weight = np.load(assets / "datasets/mall_dev/perspective_map.npy")
    rows = np.arange(20, 480, 20).astype(float)
    left = geometry.image_to_floor(np.c_[np.full_like(rows, 300), rows])
    right = geometry.image_to_floor(np.c_[np.full_like(rows, 340), rows])
    px_per_m = 40 / np.linalg.norm(right - left, axis=1)
    ratio = px_per_m * np.sqrt(weight[rows.astype(int), 320])
    spread = np.ptp(ratio) / ratio.mean()
    print(f"mall: px-per-metre vs perspective map scale spread {spread:.3%} over rows 20..460")
    assert spread < 0.0005  # measured 0.019 %


def test_mall_roi_zone_is_the_annotated_region_on_the_floor(assets):
    config = load_config(EXAMPLES / "mall.yaml")
    geometry = CameraGeometry.from_config(config.camera("cam1"))
    roi = cv2.imread(str(assets / "datasets/mall_dev/roi_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    ys, xs = np.mgrid[2:480:4, 2:640:4]
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    in_roi = roi[ys.ravel(), xs.ravel()]
    in_zone = in_polygon(geometry.image_to_floor(pixels + 0.5), config.zones[0].polygon_m)
    agreement = (in_zone == in_roi).mean()
    print(f"mall: ROI mask and roi zone agree on {agreement:.2%} of pixels")
    assert agreement > 0.999 and in_roi.sum() > 0.5 * len(in_roi)  # measured 99.98 %


@pytest.mark.slow
def test_mall_roi_zone_counts_detected_people_like_the_annotated_region(assets):
    """Detected people whose feet land in the roi zone (floor) are as many as those whose head
    is inside roi_mask.png (image), which is how counts.csv was annotated: the zone adds no
    error of its own to the detector's."""
    from edge.detector import Detector

    config = load_config(EXAMPLES / "mall.yaml")
    camera = config.camera("cam1")
    geometry = CameraGeometry.from_config(camera)
    detector = Detector.for_camera(camera, config)
    roi = cv2.imread(str(assets / "datasets/mall_dev/roi_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    counts = np.loadtxt(assets / "datasets/mall_dev/counts.csv", delimiter=",", skiprows=1)
    in_zone, head_in_roi, truth = [], [], []
    for frame in range(1, 801, 40):
        image = cv2.imread(str(assets / f"datasets/mall_dev/frames/seq_{frame:06d}.jpg"))
        detections = detector(image).detections
        floor_m = geometry.image_to_floor(detections.feet_xy)
        in_zone.append(in_polygon(floor_m, config.zones[0].polygon_m).sum())
        xyxy = detections.xyxy
        head_x = np.clip((xyxy[:, 0] + xyxy[:, 2]) / 2, 0, 639).astype(int)
        head_y = np.clip(xyxy[:, 1] + 0.1 * (xyxy[:, 3] - xyxy[:, 1]), 0, 479).astype(int)
        head_in_roi.append(roi[head_y, head_x].sum())
        truth.append(counts[frame - 1, 1])
    zone_mae = np.abs(np.subtract(in_zone, truth)).mean()
    roi_mae = np.abs(np.subtract(head_in_roi, truth)).mean()
    print(
        f"mall, {len(truth)} frames: roi zone occupancy MAE {zone_mae:.2f}, heads in ROI MAE {roi_mae:.2f} "
        f"(mean count {np.mean(truth):.1f})"
    )
    assert abs(zone_mae - roi_mae) < 0.4  # measured 0.15 (zone 3.50, heads in the ROI 3.65)
    assert zone_mae < 3.75  # measured 3.50 people, the mean count being 30.1
