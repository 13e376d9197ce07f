"""Ground truth of the shared footage, read straight from the dataset files (tests only)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PETS_FPS = 7.0  # seqinfo.ini frameRate: each GT frame stands for 1/7 s


def mot_gt(gt_txt: Path, floor: bool = False) -> np.ndarray:
    """The rows with flag = 1 of a MOTChallenge 2015 gt.txt (`frame,id,x,y,w,h,flag,wx,wy,wz`),
    as a structured array: frame (1-based), id, box x, y, w, h (image px) and wx, wy (the
    annotated ground-plane position, metres; -1 where the dataset has none). With `floor`, a
    kept row without a floor position (wx, wy both -1) is refused too. A row that is not that
    raises ValueError naming the file and the line: a reviewer's own file is read here, and a
    bad row found late would show up as a wrong figure instead."""
    rows = []
    with open(gt_txt, errors="replace") as lines:  # a stray byte fails its line, not the file
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{gt_txt}: line {number}"
            try:
                values = [float(field) for field in line.split(",")]
            except ValueError:
                values = []
            if len(values) < 9 or not np.isfinite(values).all():
                raise ValueError(
                    f"{where}: expected MOTChallenge 2015 numbers frame,id,x,y,w,h,flag,wx,wy[,wz], "
                    f"got {line.strip()!r}"
                )
            if floor and len(values) == 9:
                raise ValueError(
                    f"{where}: 9 numbers, the MOT16/17/20 layout frame,id,x,y,w,h,flag,class,visibility, "
                    "which carries no floor position; this needs MOTChallenge 2015's wx,wy in metres"
                )
            if values[6] != 1:
                continue
            if floor and values[7] == -1 and values[8] == -1:
                raise ValueError(
                    f"{where}: frame {values[0]:g} id {values[1]:g} has no floor position (wx, wy = -1, -1); "
                    "this needs every annotated person's position on the floor in metres"
                )
            rows.append(values[:6] + values[7:9])
    names = ["frame", "id", "x", "y", "w", "h", "wx", "wy"]
    return np.array([tuple(row) for row in rows], dtype=[(n, "f8") for n in names])


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
