"""Where a box whose bottom is covered by someone in front ends, against the annotated feet.

A detector boxes what it sees: a person whose legs are hidden behind someone nearer the camera
may be boxed down to the occluder, not to the feet, and projected through the floor homography
such "feet" land metres too far away. This bench measures whether that happens: each detection
is paired with an annotated box (`bench.hidden_recall.pairs`: mostly inside it and overlapping
it, so a box cut short by an occluder still pairs with its person; annotated boxes touching the
frame's edge and detections cut by it are left out), and its bottom is compared with the
annotated bottom, as a share of the annotated height (positive: below it). Pairs are split by
whether the detection's bottom is covered (`covered_bottoms`: the bottom edge's centre inside
another detection whose bottom is lower). The annotated boxes of TUD-Campus and
PETS09 are whole bodies, drawn to the feet even where the feet are hidden, so the annotated
bottom is the truth; the same rule on the annotated boxes says whose feet are truly behind
someone, and the bench prints how many of those the detections' rule finds.

Run `.venv/bin/python bench/occluded_feet.py [--scene VIDEO GT.txt ...] [--models FILE ...]`:
PETS09 (elevated, every third frame) and TUD-Campus (eye level, every frame) by default, both
shared models at the example configs' score threshold, about a minute.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feet_offset import annotated_frames, scene_options, scenes
from bench.hidden_recall import pairs
from edge.detector import Detector
from models.registry import find_model

EDGE_PX = 2.0  # a box this close to the frame's side is cut by it
SCORE = 0.3  # examples/pets09.yaml's score threshold


def covered_bottoms(xyxy: np.ndarray) -> np.ndarray:
    """(N,) bool: which of the boxes `xyxy` (N, 4) image px have their bottom edge's centre (the
    feet) inside another box whose bottom is lower in the image: someone standing nearer the
    camera, in front of the feet (`edge.hidden`'s "in front"). Nothing is fitted: a box whose
    feet are hidden ends at the occluder or beyond it, inside the occluder's box."""
    boxes = xyxy.tolist()
    out = np.zeros(len(boxes), bool)
    for k, (x0, _, x1, y1) in enumerate(boxes):
        cx = (x0 + x1) / 2
        out[k] = any(fy1 > y1 and fx0 < cx < fx1 and fy0 < y1 for fx0, fy0, fx1, fy1 in boxes)
    return out


def offsets(video: Path, gt_txt: Path, model: str, every: int) -> np.ndarray:
    """(P, 4) per pair: bottom offset / annotated height, detected height / annotated height,
    the detection's bottom covered (0/1), the annotated feet behind someone (0/1)."""
    detector = Detector.load(find_model(model).path, score_threshold=SCORE)
    rows_out = []
    for image, _, boxes in annotated_frames(video, gt_txt, every):
        height, width = image.shape[:2]
        detected = detector(image).detections.xyxy.astype(np.float64)
        if not len(detected):
            continue
        truly_behind, covered = covered_bottoms(boxes), covered_bottoms(detected)
        gi, di = pairs(boxes, detected)
        g, d = boxes[gi], detected[di]
        inside = (g[:, :2] > EDGE_PX).all(axis=1) & (g[:, 2] < width - EDGE_PX) & (g[:, 3] < height - EDGE_PX)
        inside &= d[:, 3] < height - EDGE_PX
        g, d, gi, di = g[inside], d[inside], gi[inside], di[inside]
        g_h = g[:, 3] - g[:, 1]
        rows_out.append(
            np.stack(
                [(d[:, 3] - g[:, 3]) / g_h, (d[:, 3] - d[:, 1]) / g_h, covered[di], truly_behind[gi]], axis=1
            )
        )
    return np.concatenate(rows_out) if rows_out else np.zeros((0, 4))


def describe(label: str, r: np.ndarray) -> str:
    """Count, median and quartiles of the bottom offset and the detected height of pairs `r`."""
    if not len(r):
        return f"  {label}: none"
    q1, median, q3 = np.percentile(r[:, 0], [25, 50, 75])
    p10 = np.percentile(r[:, 0], 10)
    return (
        f"  {label}: {len(r)} pairs; bottom offset median {median:+.1%} of the height, quartiles "
        f"{q1:+.1%} .. {q3:+.1%}, 10th percentile {p10:+.1%}; above the feet by > 10 %: "
        f"{np.mean(r[:, 0] < -0.1):.0%}; detected height {np.median(r[:, 1]):.0%} of the annotated"
    )


def main() -> None:
    args = scene_options(__doc__ or "").parse_args()
    print(f"detections paired with annotated boxes, score >= {SCORE}, off the frame's edges")
    for video, gt_txt in scenes(args):
        for model in args.models:
            r = offsets(video, gt_txt, model, args.every)
            covered, behind = r[:, 2] > 0, r[:, 3] > 0
            print(
                f"{video.name} {model}: {len(r)} pairs, {covered.sum()} covered; feet truly behind "
                f"someone {behind.sum()}, of which covered {(covered & behind).sum()}; covered but "
                f"feet in view {(covered & ~behind).sum()}"
            )
            print(describe("bottom not covered", r[~covered]))
            print(describe("bottom covered", r[covered]))
            print(describe("covered, feet truly behind", r[covered & behind]))
            print(describe("not covered, feet truly behind", r[~covered & behind]))


if __name__ == "__main__":
    main()
