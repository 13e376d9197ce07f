"""Ground truth of the shared footage, read straight from the dataset files (tests only)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PETS_FPS = 7.0  # seqinfo.ini frameRate: each GT frame stands for 1/7 s


def mot_gt(gt_txt: Path) -> np.ndarray:
    """The rows with flag = 1 of a MOTChallenge 2015 gt.txt (`frame,id,x,y,w,h,flag,wx,wy,wz`),
    as a structured array: frame (1-based), id, box x, y, w, h (image px) and wx, wy (the
    annotated ground-plane position, metres; -1 where the dataset has none)."""
    raw = np.loadtxt(gt_txt, delimiter=",", ndmin=2)
    if raw.shape[1] < 9:
        raise ValueError(
            f"{gt_txt}: expected MOTChallenge 2015 rows frame,id,x,y,w,h,flag,wx,wy[,wz], "
            f"got {raw.shape[1]} columns"
        )
    raw = raw[raw[:, 6] == 1]
    names = ["frame", "id", "x", "y", "w", "h", "wx", "wy"]
    out = np.zeros(len(raw), dtype=[(n, "f8") for n in names])
    for k, n in enumerate(["frame", "id", "x", "y", "w", "h"]):
        out[n] = raw[:, k]
    out["wx"], out["wy"] = raw[:, 7], raw[:, 8]
    return out


def pets09_gt(assets: Path) -> np.ndarray:
    """PETS09-S2L1's annotated people (`mot_gt`); wx, wy are the examples/pets09.yaml floor."""
    return mot_gt(assets / "datasets/pets09_s2l1/gt/gt.txt")


def pets09_boxes(assets: Path, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every `step`-th PETS09 frame from the first, each with its annotated people's boxes
    (K, 4) xyxy image px (flag = 1 rows)."""
    gt = pets09_gt(assets)
    capture = cv2.VideoCapture(str(assets / "datasets/pets09_s2l1/vtest.avi"))
    samples, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            rows = gt[gt["frame"] == index + 1]  # gt frames start at 1
            boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1)
            samples.append((image, boxes))
        index += 1
    capture.release()
    return samples
