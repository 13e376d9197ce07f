"""How often the detector finds a person, by how much of them the people in front hide.

Occupancy counts every detected person, so a person the detector does not find is a person
missing from the zone. At eye level people hide each other far more than from a ceiling: this
bench measures, on an annotated recording (TUD-Campus by default: eye level, 71 frames), the
share of annotated people found per band of hidden share. A person's hidden share is the part
of their annotated box covered by the boxes of annotated people whose feet are lower in the
image (nearer the camera, in front). A detection finds a person when it lies mostly inside
their annotated box (`INSIDE`, the visible part may be all the detector sees) and overlaps it
(`LEAST_IOU`); each person and each detection pairs once (Hungarian method on IoU).

Run `.venv/bin/python bench/hidden_recall.py [--video FILE --gt FILE] [--score S ...]
[--nms-iou X]`: a whole-frame pass per frame of yolox_nano.onnx, seconds for TUD-Campus. Any
MOTChallenge 2015 gt.txt (rows with flag 1) with its video works, e.g. PETS09's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.detector import Detector
from footfall_core.assets import assets_dir
from models.footage import video_frames
from models.registry import find_model
from tests.gt import mot_gt

MODEL = "yolox_nano.onnx"
INSIDE = 0.6  # least share of a detection's area inside the annotated box
LEAST_IOU = 0.2
HIDDEN_BANDS = (0.0, 0.01, 0.3, 0.6, 1.01)  # hidden share bands: none, < 30 %, 30-60 %, > 60 %
IN_FRONT_PX = 2.0  # feet this much lower in the image: in front


def hidden_share(boxes: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """(K,) share of each (K, 4) xyxy box covered by the boxes whose bottom is lower."""
    width, height = size_px
    shares = np.zeros(len(boxes))
    whole = boxes.round().astype(int).clip(0, [width, height, width, height])
    for k, (x0, y0, x1, y1) in enumerate(whole):
        front = whole[boxes[:, 3] > boxes[k, 3] + IN_FRONT_PX]
        if len(front) == 0 or x1 <= x0 or y1 <= y0:
            continue
        covered = np.zeros((y1 - y0, x1 - x0), bool)
        for fx0, fy0, fx1, fy1 in front:
            covered[max(fy0 - y0, 0) : max(fy1 - y0, 0), max(fx0 - x0, 0) : max(fx1 - x0, 0)] = True
        shares[k] = covered.mean()
    return shares


def pairs(annotated: np.ndarray, detected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (P,), (P,) of the (K, 4) annotated boxes and the (M, 4) detections that find
    them (see above), each at most once."""
    lo = np.maximum(annotated[:, None, :2], detected[None, :, :2])
    hi = np.minimum(annotated[:, None, 2:], detected[None, :, 2:])
    overlap = np.clip(hi - lo, 0, None).prod(axis=2)
    area_a = np.prod(annotated[:, 2:] - annotated[:, :2], axis=1)
    area_d = np.prod(detected[:, 2:] - detected[:, :2], axis=1)
    iou = overlap / (area_a[:, None] + area_d[None] - overlap)
    allowed = (iou > LEAST_IOU) & (overlap / np.maximum(area_d[None], 1e-6) >= INSIDE)
    rows, cols = linear_sum_assignment(-np.where(allowed, iou, 0.0))
    keep = allowed[rows, cols]
    return rows[keep], cols[keep]


def found(annotated: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """(K,) bool: which of the (K, 4) annotated boxes a (M, 4) detection finds (see above)."""
    hit = np.zeros(len(annotated), bool)
    hit[pairs(annotated, detected)[0]] = True
    return hit


def main() -> None:
    dataset = assets_dir() / "datasets/tud_campus"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=dataset / "TUD-Campus.mp4")
    parser.add_argument("--gt", type=Path, default=dataset / "gt/gt.txt")
    parser.add_argument("--score", type=float, nargs="+", default=[0.3, 0.1], help="score thresholds")
    parser.add_argument("--nms-iou", type=float, default=0.45)
    args = parser.parse_args()
    gt = mot_gt(args.gt)
    frames = list(video_frames(args.video))
    size_px = (frames[0].shape[1], frames[0].shape[0])
    annotated, shares = [], []
    for index in range(len(frames)):
        rows = gt[gt["frame"] == index + 1]  # gt frames start at 1
        boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1)
        annotated.append(boxes)
        shares.append(hidden_share(boxes, size_px))
    share = np.concatenate(shares)
    print(f"{args.video}: {len(frames)} frames, {len(share)} annotated people, {MODEL} whole frame")
    for score in args.score:
        detector = Detector.load(find_model(MODEL).path, score_threshold=score, nms_iou=args.nms_iou)
        hits, extra = [], 0
        for image, boxes in zip(frames, annotated, strict=True):
            detected = detector(image).detections.xyxy
            hit = found(boxes, detected)
            hits.append(hit)
            extra += len(detected) - int(hit.sum())
        hit = np.concatenate(hits)
        bands = []
        for lo, hi in zip(HIDDEN_BANDS, HIDDEN_BANDS[1:], strict=False):
            band = (share >= lo) & (share < hi)
            label = "none" if hi <= 0.01 else f"{lo:.0%}-{min(hi, 1):.0%}"
            bands.append(
                f"hidden {label}: {hit[band].mean() if band.any() else float('nan'):.2f} of {band.sum()}"
            )
        print(
            f"score {score:g}, nms {args.nms_iou:g}: found {hit.mean():.2f}; "
            + "; ".join(bands)
            + f"; detections pairing nobody {extra / len(frames):.2f} a frame"
        )


if __name__ == "__main__":
    main()
