"""Two people, one box: does a box's size against a standing person's, where its feet are, tell
how many people it holds?

In Mall's crowd about 2 of 30 people a frame are inside a box another person already has
(bench/occupancy_misses.py). The calibration gives a standing person's height in image px at
any image point (`edge.tiles.standing_height_px`), and so the width of one body there; a box
much wider, or larger, than one person standing where its feet are might hold two. The rule
measured: a box holds max(1, round(w / w_e)) people (by width) or max(1, round(w h / (h_e
w_e))) (by area), h_e the standing height at its bottom centre and w_e = h_e × body width /
person height; one where the calibration puts its feet at or above the horizon. Body widths
from anthropometry, not fitted: 0.45 and 0.5 m (shoulders and arms of an adult), and the
width of a walking person's box, 0.41 of its height (the aspect Caltech Pedestrian's annotation
gives every box).

Printed:
- Mall (examples/mall.yaml's detector, its tiles on every frame, boxes whose feet are in the
  `roi` zone, as bench/occupancy_misses.py runs it): per number of annotated heads a box holds
  (heads.csv; a head in a box's top part, each head given to the box whose top centre is
  nearest), boxes a frame and the 10th/50th/90th percentiles of w / w_e and of the area ratio;
  how well each ratio tells boxes of two or more heads from boxes of one (AUC); per rule, the
  people it adds a frame to boxes of no head and of one head (false) and to boxes of several
  (true, at most one fewer than their heads), and the 10 s occupancy MAE and bias on each half;
  and, for boxes with two heads in their top part, how far apart the heads are, across and
  along the image column, as shares of the standing height (people side by side are a body
  width apart, 0.29 of it).
- PETS09 (elevated, examples/pets09.yaml's calibration) and TUD-Campus (eye level, the level
  camera bench/eye_level_floor.py assumes): the share of boxes of one person that each rule
  counts as two or more, for the annotated boxes and for the detections (yolox_nano, the
  store's default score) paired one to one with an annotated box that overlaps no other.

    .venv/bin/python bench/box_people.py        # about a minute, most of it Mall's detector
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.eye_level_floor import FOV_DEG, PERSON_M, assumed_geometry
from bench.feet_offset import LEAST_IOU, annotated_frames, iou_matrix
from bench.hidden_count import FLOOR_TOP_PX, scene
from bench.occupancy_misses import bucket_errors, heads_in, in_zone, load_annotation, people, raw_passes
from edge.detector import Detector
from edge.line_doubt import person_height_m
from edge.tiles import standing_height_px
from footfall_core.assets import REPO_ROOT, assets_dir
from footfall_core.floor import ZoneMap
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Detector as DetectorSettings
from footfall_core.store import load_config
from models.registry import find_model

BODY_WIDTHS_M = (0.45, 0.5)  # an adult's shoulders and arms
PEDESTRIAN_ASPECT = 0.41  # width / height of a walking person's box (Caltech Pedestrian)
BUCKET_S = 10
ALONE_IOU = 0.1  # an annotated box overlapping no other by this much holds one person
SIDE_BY_SIDE = 0.29  # one body width (0.5 m) as a share of a standing height (1.7 m)


def size_ratios(
    xyxy: np.ndarray, geometry: CameraGeometry, person_height_m: float, body_width_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(M,) w / w_e and (M,) w h / (h_e w_e) of (M, 4) xyxy px boxes, h_e the height of a person
    `person_height_m` tall standing at the box's bottom centre and w_e that of a body
    `body_width_m` wide there; NaN where the calibration puts the feet at or above the horizon."""
    feet_px = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
    expected_h_px = standing_height_px(geometry, feet_px, person_height_m)
    expected_w_px = expected_h_px * body_width_m / person_height_m
    width_px, height_px = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    return width_px / expected_w_px, width_px * height_px / (expected_h_px * expected_w_px)


def people_in_boxes(ratio: np.ndarray) -> np.ndarray:
    """(M,) people the rule counts in each box from its size ratio (`size_ratios`): the nearest
    whole number, at least one, and one where the ratio is unknown."""
    counted: np.ndarray = np.maximum(1, np.round(np.nan_to_num(ratio, nan=1.0))).astype(np.int64)
    return counted


def body_widths_m(person_m: float) -> list[tuple[str, float]]:
    """The body widths measured, named, for people `person_m` tall."""
    widths = [(f"body {w:.2f} m", w) for w in BODY_WIDTHS_M]
    return [*widths, (f"box {PEDESTRIAN_ASPECT} h", PEDESTRIAN_ASPECT * person_m)]


def percentiles(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return "/".join(f"{v:.2f}" for v in np.percentile(finite, [10, 50, 90])) if len(finite) else "-"


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Chance that a positive's value exceeds a negative's (ties half)."""
    positive, negative = positive[np.isfinite(positive)], negative[np.isfinite(negative)]
    above = (positive[:, None] > negative[None]).mean() + 0.5 * (positive[:, None] == negative[None]).mean()
    return float(above)


def mall() -> None:
    config = load_config(REPO_ROOT / "examples/mall.yaml")
    camera = config.cameras[0]
    dataset = assets_dir() / "datasets/mall_dev"
    frames = sorted((dataset / "frames").glob("*.jpg"))
    annotation = load_annotation(dataset)
    size_px = cv2.imread(str(frames[0])).shape[1::-1]
    geometry = CameraGeometry.from_config(camera)
    zone = ZoneMap([next(z.polygon_m for z in config.zones if z.name == "roi")])
    person_m = person_height_m(camera)
    frame, heads_held, boxes, gaps = [], [], [], []
    for index, found in enumerate(raw_passes(config, frames)):
        xyxy = people(found, config.detector.score_threshold, config.detector.nms_iou, size_px)
        xyxy = xyxy[in_zone(xyxy, geometry, zone)]
        heads_xy = annotation.heads[annotation.heads[:, 0] == index, 1:]
        holds = heads_in(xyxy, heads_xy)
        tops_px = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 1]])
        distance_px = np.where(holds, np.linalg.norm(heads_xy[:, None] - tops_px[None], axis=2), np.inf)
        nearest = distance_px[holds.any(axis=1)].argmin(axis=1) if len(xyxy) else np.zeros(0, np.int64)
        frame.append(np.full(len(xyxy), index))
        heads_held.append(np.bincount(nearest, minlength=len(xyxy)))
        boxes.append(xyxy)
        feet_px = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        expected_h_px = standing_height_px(geometry, feet_px, person_m)
        for box in np.flatnonzero(holds.sum(axis=0) == 2):
            a, b = heads_xy[holds[:, box]]
            gaps.append(np.abs(a - b) / expected_h_px[box])
    frames_of, held, xyxy = np.concatenate(frame), np.concatenate(heads_held), np.concatenate(boxes)
    n = len(frames)
    groups = [("0", held == 0), ("1", held == 1), ("2", held == 2), ("3+", held >= 3)]
    per_bucket = round(BUCKET_S * camera.fps)
    half = n // per_bucket // 2

    def occupancy(people_counted: np.ndarray) -> str:
        counted = np.bincount(frames_of, weights=people_counted, minlength=n)
        errors = bucket_errors(counted, annotation.counts, per_bucket)
        return ", ".join(
            f"{name} MAE {np.abs(e).mean():.2f} (bias {e.mean():+.2f})"
            for name, e in (("all", errors), ("first half", errors[:half]), ("second", errors[half:]))
        )

    print(f"mall: {n} frames, {len(xyxy) / n:.1f} boxes a frame in the roi, person {person_m} m")
    print(f"  one person a box: {occupancy(np.ones(len(xyxy)))}")
    for name, width_m in body_widths_m(person_m):
        by_width, by_area = size_ratios(xyxy, geometry, person_m, width_m)
        print(f"  {name}:")
        for heads, which in groups:
            print(
                f"    boxes holding {heads} heads: {which.sum() / n:.2f} a frame, w / w_e "
                f"{percentiles(by_width[which])}, area ratio {percentiles(by_area[which])}"
            )
        for rule, ratio in (("width", by_width), ("area", by_area)):
            extra = people_in_boxes(ratio) - 1
            true = np.minimum(extra, np.maximum(held - 1, 0))
            print(
                f"    by {rule}: AUC {auc(ratio[held >= 2], ratio[held == 1]):.2f}; people added a "
                f"frame to boxes of no head {extra[held == 0].sum() / n:.2f}, of one "
                f"{extra[held == 1].sum() / n:.2f} ({(extra[held == 1] > 0).mean():.1%} of them), of "
                f"several {extra[held >= 2].sum() / n:.2f} ({true.sum() / n:.2f} true, of "
                f"{np.maximum(held - 1, 0).sum() / n:.2f} missing); {occupancy(1 + extra)}"
            )
    gap = np.array(gaps).reshape(-1, 2)
    print(
        f"  boxes holding two heads ({len(gap) / n:.2f} a frame): heads apart across "
        f"{percentiles(gap[:, 0])}, along the column {percentiles(gap[:, 1])} standing heights; "
        f"side by side (across >= {SIDE_BY_SIDE}) {(gap[:, 0] >= SIDE_BY_SIDE).mean():.0%}"
    )


def alone_pairs(
    annotated: list[np.ndarray], detected: list[np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per frame, the annotated boxes that overlap no other (IoU under `ALONE_IOU`) and the
    detections paired one to one with them (IoU at least `LEAST_IOU`, Hungarian method)."""
    for truth, found in zip(annotated, detected, strict=True):
        overlap = iou_matrix(truth, truth)
        np.fill_diagonal(overlap, 0.0)
        alone = truth[(overlap < ALONE_IOU).all(axis=1)]
        if not len(alone) or not len(found):
            yield alone, found[:0]
            continue
        iou = iou_matrix(alone, found)
        rows, cols = linear_sum_assignment(-iou)
        yield alone, found[cols[iou[rows, cols] >= LEAST_IOU]]


def single_people(
    name: str, geometry: CameraGeometry, person_m: float, annotated: list, detected: list
) -> None:
    pairs = list(alone_pairs(annotated, detected))
    sets = (
        ("annotated", np.concatenate([a for a, _ in pairs])),
        ("detected", np.concatenate([d for _, d in pairs])),
    )
    print(f"{name}: boxes of one person, annotated {len(sets[0][1])}, detected {len(sets[1][1])}")
    for label, width_m in body_widths_m(person_m):
        cells = []
        for kind, xyxy in sets:
            by_width, by_area = size_ratios(xyxy, geometry, person_m, width_m)
            split_width, split_area = people_in_boxes(by_width) >= 2, people_in_boxes(by_area) >= 2
            cells.append(
                f"{kind}: w / w_e {percentiles(by_width)}, counted 2+ by width "
                f"{split_width.mean():.1%}, by area {split_area.mean():.1%}"
            )
        print(f"  {label}: " + "; ".join(cells))


def main() -> None:
    data = assets_dir() / "datasets"
    mall()
    config = load_config(REPO_ROOT / "examples/pets09.yaml")
    settings = DetectorSettings()
    detector = Detector.load(
        find_model(settings.model).path, score_threshold=settings.score_threshold, nms_iou=settings.nms_iou
    )
    annotated, detected = [], []
    for image, _, boxes in annotated_frames(
        data / "pets09_s2l1/vtest.avi", data / "pets09_s2l1/gt/gt.txt", 3
    ):
        annotated.append(boxes)
        detected.append(detector(image).detections.xyxy.astype(np.float64))
    camera = config.cameras[0]
    single_people(
        "pets09, every 3rd frame",
        CameraGeometry.from_config(camera),
        person_height_m(camera),
        annotated,
        detected,
    )
    tud = scene(data / "tud_campus/TUD-Campus.mp4", data / "tud_campus/gt/gt.txt", FLOOR_TOP_PX)
    geometry, horizon_px, camera_m = assumed_geometry(tud.annotated, FOV_DEG, PERSON_M)
    single_people(
        f"tud_campus, assumed level camera {camera_m:.2f} m up, horizon row {horizon_px:.0f}",
        geometry,
        PERSON_M,
        tud.annotated,
        [d.xyxy.astype(np.float64) for d in tud.detected],
    )


if __name__ == "__main__":
    main()
