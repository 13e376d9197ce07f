"""Floor positions at eye level: the floor filter's error and jumps, for people behind others.

TUD-Campus has no floor positions, so this bench assumes a calibration and applies it to both
sides: a level pinhole camera (horizontal field of view `FOV_DEG`, a common lens) over a flat
floor. Its horizon row and height come from the annotated boxes themselves: a standing
person's feet lie below the horizon by (camera height / person height) × their image height,
so a line fitted through (box height, bottom row) gives the horizon (its intercept) and, with
people `PERSON_M` tall, the camera's height (its slope × `PERSON_M`). The figures are
self-consistent, not absolute: the annotated feet and the pipeline's go through the same map.

The pipeline's side: the detector (yolox_nano, the store's default score and NMS; feet on the
walkway, `bench/hidden_count.py`), the image tracker, `edge.fusion.feet_covariance` and the
floor filter (`edge.floor_tracks.FloorTracks`, the store's defaults), at every `--steps`-th
frame from each possible first frame. Each tracked box is paired with an annotated person
(`bench.hidden_recall.pairs`). Printed per step and run: the filtered position's distance to
the annotated feet (median, 90th percentile), for every pair, for those whose annotated feet
are behind someone (`bench.occluded_feet.covered_bottoms` on the annotated boxes) and for
those whose detected box's bottom is covered (the same rule on the detections), and the
jumps: between two analysed frames, how far the filtered position moved beyond the annotated
feet's own move (90th percentile, the largest, and how many exceed `JUMP_M`).

    .venv/bin/python bench/eye_level_floor.py [--steps 1 3 5] [--fov-deg 60] [--person-m 1.75]

A few seconds (the detector runs once a frame; the runs re-use its boxes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hidden_count import FLOOR_TOP_PX, Scene, scene
from bench.hidden_recall import pairs
from bench.occluded_feet import covered_bottoms
from edge.floor_tracks import FEET_SIGMA, FLOOR_SIGMA_M, FloorTracks
from edge.fusion import feet_covariance
from edge.tracker import Tracker
from footfall_core.assets import assets_dir
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Analysis
from tests.gt import mot_gt

FOV_DEG = 60.0  # assumed horizontal field of view
PERSON_M = 1.75  # assumed height of a standing person
JUMP_M = 1.0  # a move this much beyond the annotated one: a jump (two body widths)
SIZE_PX = (640, 480)


def assumed_geometry(
    annotated: list[np.ndarray], fov_deg: float, person_m: float
) -> tuple[CameraGeometry, float, float]:
    """The assumed level camera (see the module docstring), `fov_deg` wide, seeing people
    `person_m` tall; its horizon row (px) and height (m)."""
    boxes = np.concatenate(annotated)
    slope, horizon_px = np.polyfit(boxes[:, 3] - boxes[:, 1], boxes[:, 3], 1)
    height_m = slope * person_m
    focal_px = SIZE_PX[0] / 2 / np.tan(np.radians(fov_deg / 2))
    cx = SIZE_PX[0] / 2
    # (u, v) -> X = (u - cx) Z / f, Z = f H / (v - horizon): floor (X across, Z away from the camera)
    homography = np.array(
        [[height_m, 0.0, -cx * height_m], [0.0, 0.0, focal_px * height_m], [0.0, 1.0, -horizon_px]]
    )
    corners_px = np.array([[0.0, 479.0], [639.0, 479.0], [100.0, 300.0], [540.0, 300.0]])
    w = corners_px @ homography[2, :2] + homography[2, 2]
    floor_m = (corners_px @ homography[:2, :2].T + homography[:2, 2]) / w[:, None]
    geometry = CameraGeometry.from_homography("tud", homography, corners_px, floor_m, image_size_px=SIZE_PX)
    return geometry, float(horizon_px), float(height_m)


def replay(
    seen: Scene, ids: list[np.ndarray], frames: range, fps: float, geometry: CameraGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """(P, 3) per paired tracked box: the filtered position's error (m), whether the annotated
    feet are behind someone (0/1) and whether the box's bottom is covered (0/1); (J,) jumps (m)
    of the same filtered person on the same annotated person (`ids`, per frame) between
    analysed frames."""
    analysis = Analysis()
    tracker = Tracker(frame_rate=fps / frames.step)
    floor = FloorTracks(analysis.walk_accel_m_s2, analysis.track_timeout_s)
    rows, jumps = [], []
    last: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for index in frames:
        tracks = tracker.update(seen.detected[index], index / fps)
        boxes = tracks.detections
        floor_xy = geometry.image_to_floor(boxes.feet_xy)
        cov_m2 = feet_covariance(geometry, boxes, SIZE_PX, FEET_SIGMA, FLOOR_SIGMA_M)
        followed = floor.update(index / fps, tracks.track_id, floor_xy, cov_m2)
        annotated = seen.annotated[index]
        truth_m = geometry.image_to_floor(np.c_[(annotated[:, 0] + annotated[:, 2]) / 2, annotated[:, 3]])
        behind, covered = covered_bottoms(annotated), covered_bottoms(boxes.xyxy.astype(np.float64))
        now = {}
        for g, d in zip(*pairs(annotated, boxes.xyxy.astype(np.float64)), strict=True):
            if followed.person_id[d] < 0:
                continue
            filtered = followed.state[d, :2]
            rows.append((float(np.linalg.norm(filtered - truth_m[g])), float(behind[g]), float(covered[d])))
            key = (int(followed.person_id[d]), int(ids[index][g]))
            now[key] = (filtered, truth_m[g])
            if key in last:
                moved_m = (filtered - last[key][0]) - (truth_m[g] - last[key][1])
                jumps.append(float(np.linalg.norm(moved_m)))
        last = now
    return np.array(rows).reshape(-1, 3), np.array(jumps)


def main() -> None:
    dataset = assets_dir() / "datasets/tud_campus"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fps", type=float, default=25.0, help="the recording's frame rate (default 25)")
    parser.add_argument("--fov-deg", type=float, default=FOV_DEG, help="assumed horizontal field of view")
    parser.add_argument("--person-m", type=float, default=PERSON_M, help="assumed height of a person, m")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 5], help="analyse every n-th frame")
    args = parser.parse_args()
    gt_txt = dataset / "gt/gt.txt"
    seen = scene(dataset / "TUD-Campus.mp4", gt_txt, FLOOR_TOP_PX)
    gt = mot_gt(gt_txt)
    ids = [gt["id"][gt["frame"] == index + 1] for index in range(len(seen.annotated))]
    geometry, horizon_px, height_m = assumed_geometry(seen.annotated, args.fov_deg, args.person_m)
    print(
        f"TUD-Campus, assumed level camera: horizon row {horizon_px:.0f} px, height {height_m:.2f} m, "
        f"{args.fov_deg:g} deg wide; people {args.person_m:g} m tall"
    )
    for step in args.steps:
        for first in range(step):
            rows, jumps = replay(seen, ids, range(first, len(seen.detected), step), args.fps, geometry)
            parts = [
                f"{label} {np.median(r[:, 0]):.2f} / {np.percentile(r[:, 0], 90):.2f} m ({len(r)})"
                for label, r in (
                    ("all", rows),
                    ("feet behind someone", rows[rows[:, 1] > 0]),
                    ("box bottom covered", rows[rows[:, 2] > 0]),
                )
                if len(r)
            ]
            print(
                f"every {step} frame(s) from {first + 1}: error median / 90th pct: "
                + ", ".join(parts)
                + f"; jumps 90th pct {np.percentile(jumps, 90):.2f} m, largest {jumps.max():.2f} m, "
                f"above {JUMP_M:g} m {int((jumps > JUMP_M).sum())} of {len(jumps)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
