"""Model-input blobs cut from the shared footage, for INT8 calibration and model benchmarks.

Calibration and evaluation use disjoint frames of the same recordings: PETS09 frames are split
at `PETS_SPLIT` (calibrate before, evaluate from it on), Mall frames at `MALL_SPLIT`
(evaluate before, calibrate from it on), so a quantized model is scored on frames it was not
calibrated on. Blobs are what the detector feeds its model: the whole frame letterboxed
(PETS09, one pass) or each of Mall's 2×2 tiles letterboxed (the example config's tiling).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from footfall_core.assets import assets_dir
from footfall_core.store import Tiling
from footfall_core.tiling import make_tiles
from models.letterbox import letterbox

PETS_SPLIT = 400  # 0-based video frame index: calibrate on [0, 400), evaluate on [400, 795)
MALL_SPLIT = 400  # 1-based frame number: evaluate on [1, 400], calibrate on (400, 800]
MALL_TILING = Tiling(cols=2, rows=2, overlap=0.2)  # examples/mall.yaml


def video_frames(path: Path, count: int | None = None) -> Iterator[np.ndarray]:
    """The first `count` (default all) decoded BGR frames of the video at `path`, one by one;
    OSError if it cannot be opened."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise OSError(f"cannot read {path}")
        read = 0
        while count is None or read < count:
            ok, frame = capture.read()
            if not ok:
                return
            read += 1
            yield frame
    finally:
        capture.release()


def pets09_frames(indices: range, root: Path | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(0-based index, BGR frame) of PETS09-S2L1 for the frames in `indices` (ascending)."""
    video = (root or assets_dir()) / "datasets/pets09_s2l1/vtest.avi"
    for index, frame in enumerate(video_frames(video, indices.stop)):
        if index in indices:
            yield index, frame


def mall_frames(numbers: range, root: Path | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(1-based frame number, BGR frame) of mall_dev for the frame numbers in `numbers`."""
    frames_dir = (root or assets_dir()) / "datasets/mall_dev/frames"
    for number in numbers:
        frame = cv2.imread(str(frames_dir / f"seq_{number:06d}.jpg"))
        if frame is None:
            raise FileNotFoundError(f"Mall frame {number} not found in {frames_dir}")
        yield number, frame


def tile_crops(frame: np.ndarray, tiling: Tiling = MALL_TILING) -> list[np.ndarray]:
    """The crops the detector runs on for `frame` with `tiling` (no full-frame pass)."""
    height, width = frame.shape[:2]
    return [frame[t.y0 : t.y1, t.x0 : t.x1] for t in make_tiles(width, height, tiling)]


def calibration_blobs(size_px: int, pets_count: int = 40, mall_count: int = 20) -> list[np.ndarray]:
    """(1, 3, size, size) blobs from the calibration halves: `pets_count` PETS09 frames
    (whole) and `mall_count` Mall frames (4 tiles each), evenly spaced."""
    blobs = []
    pets_step = max(1, PETS_SPLIT // max(pets_count, 1))
    for _, frame in pets09_frames(range(0, pets_step * pets_count, pets_step)):
        blobs.append(letterbox(frame, size_px)[0])
    mall_step = max(1, (800 - MALL_SPLIT) // max(mall_count, 1))
    for _, frame in mall_frames(range(MALL_SPLIT + 1, MALL_SPLIT + 1 + mall_step * mall_count, mall_step)):
        blobs.extend(letterbox(crop, size_px)[0] for crop in tile_crops(frame))
    return blobs
