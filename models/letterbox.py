"""The models' input picture: a BGR frame (or a part of one) scaled to fit the model's square, at
the top-left, padded with 114, as a (1, 3, H, W) float32 BGR 0–255 blob (the convention of the
registry's models, see the shared models' README). The edge's detector and the quantizer's
calibration pictures both make their model inputs here.

Square: padded to the square (the model's own input). Tight: padded only up to the next multiple
of the largest stride, so a 4:3 frame becomes 416×320 instead of 416×416 and the model runs on
picture, not padding; it needs a model whose input height and width are left free
(the edge's `PersonModel`). A stride-aligned crop of a tight letterbox keeps the anchor grid of the whole
one, so people in it get the boxes a whole pass gives them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PAD_VALUE = 114
STRIDES = (8, 16, 32)

Rect = tuple[int, int, int, int]  # x0, y0 inclusive, x1, y1 exclusive, px


def letterbox(image: np.ndarray, size_px: int, tight: bool = False) -> tuple[np.ndarray, float]:
    """(1, 3, H, W) float32 BGR 0–255 blob and the scale applied (model px per image px)."""
    canvas, scale = letterbox_image(image, size_px, tight)
    return as_blob(canvas), scale


def letterbox_image(image: np.ndarray, size_px: int, tight: bool = False) -> tuple[np.ndarray, float]:
    """`letterbox` as a BGR uint8 (H, W, 3) image, from which a crop can be taken."""
    height, width = image.shape[:2]
    scale = min(size_px / height, size_px / width)
    resized_w, resized_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas_h, canvas_w = (stride_ceil(resized_h), stride_ceil(resized_w)) if tight else (size_px, size_px)
    canvas = np.full((canvas_h, canvas_w, 3), PAD_VALUE, np.uint8)
    # bilinear, as the models' own letterboxes (YOLOX's preproc, Ultralytics' LetterBox): area
    # sampling costs 15 % of a YOLOX pass on a 768x576 frame and buys no accuracy
    canvas[:resized_h, :resized_w] = cv2.resize(image, (resized_w, resized_h), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


def as_blob(canvas: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) float32 model input of a BGR uint8 (H, W, 3) letterbox."""
    return canvas.transpose(2, 0, 1)[None].astype(np.float32)


def stride_ceil(length_px: int) -> int:
    """`length_px` rounded up to a multiple of the largest stride."""
    return -(-length_px // STRIDES[-1]) * STRIDES[-1]


def stride_box(region: Rect, scale: float) -> Rect:
    """An image region (px, end exclusive) in letterbox px at `scale`, widened to the largest
    stride on every side (a crop of the letterbox that keeps its anchor grid)."""
    x0, y0, x1, y1 = region
    stride = STRIDES[-1]
    return (
        int(x0 * scale) // stride * stride,
        int(y0 * scale) // stride * stride,
        stride_ceil(math.ceil(x1 * scale)),
        stride_ceil(math.ceil(y1 * scale)),
    )
