"""Where a detected box's bottom sits against the annotated feet: is there a bias to correct?

The edge places a person at the bottom centre of their box; a line counts them by where that
lands on the floor. If a model's boxes ended, say, 3 % of their height below the feet on every
camera, that would be a property of the model and could be taken off; what is left after it
is the boxes' spread, which no setting removes (docs/accuracy.md, "Where the errors come
from"). This bench pairs each annotated box with the detection that overlaps it most (IoU at
least `LEAST_IOU`, Hungarian method; boxes that touch the frame's edge are left out, their
bottom is not the feet) and prints, per scene and model, the bottom's offset as a share of the
annotated height (positive: below the annotated bottom), its median and quartiles, the
centre's offset as a share of the width, and the detected height against the annotated.

It also asks whether the box's top would place the feet better: the top's offset, and the
feet placed from the top with each person's own detected height (the median over their boxes,
as a filter could learn it): median |error| of the bottom, of that estimate, and of the mean of
the two, as shares of the height.

Run `.venv/bin/python bench/feet_offset.py [--scene VIDEO GT.txt ...] [--models FILE ...]`:
PETS09 (elevated, every third frame) and TUD-Campus (eye level) by default, both shared
models, about a minute. Any MOTChallenge 2015 gt.txt (rows with flag 1) with its video works.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.detector import Detector
from footfall_core.assets import assets_dir
from models.footage import video_frames
from models.registry import find_model
from tests.gt import mot_gt

LEAST_IOU = 0.5
EDGE_PX = 2.0  # a box this close to the frame's side is cut by it
SCORE = 0.3


def annotated_frames(
    video: Path, gt_txt: Path, every: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The frames of `video` that `gt_txt` annotates, each `every`-th one of a scene annotated on
    over 100 frames (a short one whole): (image, its gt rows (`mot_gt`), their boxes (K, 4) xyxy
    image px)."""
    gt = mot_gt(gt_txt)
    every = every if len(np.unique(gt["frame"])) > 100 else 1
    for index, image in enumerate(video_frames(video)):
        rows = gt[gt["frame"] == index + 1]  # gt frames start at 1
        if index % every or not len(rows):
            continue
        boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1)
        yield image, rows, boxes


def scene_options(description: str) -> argparse.ArgumentParser:
    """The command line of the benches that pair detections with annotated boxes: --scene (a
    recording and its gt.txt, repeated), --models and --every; `scenes` reads the scenes."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scene",
        nargs=2,
        action="append",
        type=Path,
        metavar=("VIDEO", "GT"),
        help="a recording and its MOTChallenge gt.txt (default: PETS09 and TUD-Campus)",
    )
    parser.add_argument("--models", nargs="+", default=["yolox_nano.onnx", "person_detector_192.onnx"])
    parser.add_argument("--every", type=int, default=3, help="every n-th frame of a scene over 100 frames")
    return parser


def scenes(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """The --scene pairs given, else PETS09's and TUD-Campus's recordings and annotations."""
    data = assets_dir() / "datasets"
    return args.scene or [
        (data / "pets09_s2l1/vtest.avi", data / "pets09_s2l1/gt/gt.txt"),
        (data / "tud_campus/TUD-Campus.mp4", data / "tud_campus/gt/gt.txt"),
    ]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(K, M) IoU of (K, 4) and (M, 4) xyxy boxes."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap = np.clip(hi - lo, 0, None).prod(axis=2)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1)
    return overlap / (area_a[:, None] + area_b[None] - overlap)


def frame_pairs(
    image: np.ndarray, rows: np.ndarray, boxes: np.ndarray, detector: Detector
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's annotated boxes (K, 4) xyxy px, those off the frame's edges (`EDGE_PX`: a box
    cut by the edge does not end at the feet), each paired with the detection that overlaps it
    most (Hungarian method, IoU at least `LEAST_IOU`): the pairs' gt rows, annotated boxes (P, 4)
    and detected boxes (P, 4), in the order of the annotated rows."""
    height, width = image.shape[:2]
    inside = (boxes[:, :2] > EDGE_PX).all(axis=1) & (boxes[:, 2] < width - EDGE_PX)
    inside &= boxes[:, 3] < height - EDGE_PX
    boxes, rows = boxes[inside], rows[inside]
    detected = detector(image).detections.xyxy.astype(np.float64)
    if not len(boxes) or not len(detected):
        return rows[:0], boxes[:0], detected.reshape(-1, 4)[:0]
    iou = iou_matrix(boxes, detected)
    gi, di = linear_sum_assignment(-iou)
    keep = iou[gi, di] >= LEAST_IOU
    return rows[gi[keep]], boxes[gi[keep]], detected[di[keep]]


def offsets(video: Path, gt_txt: Path, model: str, every: int) -> np.ndarray:
    """(P, 5) per pair: bottom offset / annotated height, centre offset / annotated width,
    detected height / annotated height, top offset / annotated height, annotated person id."""
    detector = Detector.load(find_model(model).path, score_threshold=SCORE)
    pairs = []
    for image, rows, boxes in annotated_frames(video, gt_txt, every):
        paired_rows, g, d = frame_pairs(image, rows, boxes, detector)
        if not len(g):
            continue
        p = np.asarray(paired_rows["id"], np.float64)
        g_h, g_w = g[:, 3] - g[:, 1], g[:, 2] - g[:, 0]
        pairs.append(
            np.stack(
                [
                    (d[:, 3] - g[:, 3]) / g_h,
                    ((d[:, 0] + d[:, 2]) - (g[:, 0] + g[:, 2])) / 2 / g_w,
                    (d[:, 3] - d[:, 1]) / g_h,
                    (d[:, 1] - g[:, 1]) / g_h,
                    p,
                ],
                axis=1,
            )
        )
    return np.concatenate(pairs) if pairs else np.zeros((0, 5))


def feet_errors(pairs: np.ndarray) -> tuple[float, float, float]:
    """Median |error| of the feet, as shares of the annotated height: at the box's bottom,
    placed from its top with the person's own median detected height, and the mean of both."""
    from_top = np.empty(len(pairs))
    for person in np.unique(pairs[:, 4]):
        mine = pairs[:, 4] == person
        from_top[mine] = pairs[mine, 3] + np.median(pairs[mine, 2]) - 1.0
    bottom = pairs[:, 0]
    return (
        float(np.median(np.abs(bottom))),
        float(np.median(np.abs(from_top))),
        float(np.median(np.abs((bottom + from_top) / 2))),
    )


def main() -> None:
    args = scene_options(__doc__ or "").parse_args()
    print(f"detected against annotated boxes, score >= {SCORE}, IoU >= {LEAST_IOU}, boxes off the edges")
    for video, gt_txt in scenes(args):
        for model in args.models:
            r = offsets(video, gt_txt, model, args.every)
            if not len(r):
                print(f"{video.name} {model}: no pairs")
                continue
            q1, median, q3 = np.percentile(r[:, 0], [25, 50, 75])
            print(
                f"{video.name} {model}: {len(r)} pairs; bottom offset {median:+.1%} of the height "
                f"(quartiles {q1:+.1%} .. {q3:+.1%}); centre offset {np.median(r[:, 1]):+.1%} of the "
                f"width; detected height {np.median(r[:, 2]):.1%} of the annotated"
            )
            t1, t3 = np.percentile(r[:, 3], [25, 75])
            bottom, from_top, mean = feet_errors(r)
            print(
                f"  top offset quartiles {t1:+.1%} .. {t3:+.1%}; feet median |error|: bottom "
                f"{bottom:.1%}, from the top and the person's height {from_top:.1%}, mean of both {mean:.1%}"
            )


if __name__ == "__main__":
    main()
