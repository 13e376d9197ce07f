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


def fitted(width_px: int, height_px: int, size_px: int) -> tuple[float, int, int]:
    """The scale (model px per image px) that fits a frame into the model's square, and the
    frame's letterboxed width and height (px)."""
    scale = min(size_px / height_px, size_px / width_px)
    return scale, max(1, round(width_px * scale)), max(1, round(height_px * scale))


def letterbox_image(image: np.ndarray, size_px: int, tight: bool = False) -> tuple[np.ndarray, float]:
    """`letterbox` as a BGR uint8 (H, W, 3) image, from which a crop can be taken."""
    height, width = image.shape[:2]
    scale, resized_w, resized_h = fitted(width, height, size_px)
    canvas_h, canvas_w = (stride_ceil(resized_h), stride_ceil(resized_w)) if tight else (size_px, size_px)
    canvas = np.full((canvas_h, canvas_w, 3), PAD_VALUE, np.uint8)
    # bilinear, as the models' own letterboxes (YOLOX's preproc, Ultralytics' LetterBox): area
    # sampling costs 15 % of a YOLOX pass on a 768x576 frame and buys no accuracy
    canvas[:resized_h, :resized_w] = cv2.resize(image, (resized_w, resized_h), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


def letterbox_crop(
    image: np.ndarray, size_px: int, region: Rect
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The crop of the tight letterbox of `image` that `stride_box` makes of `region` (image px),
    the scale, and the crop's top-left corner (letterbox px). When the frame is a whole number k
    of times its letterboxed size both ways (768×576 into 192 px: 4), bilinear sampling takes
    each letterbox pixel from its own k×k block of the frame (source position k·i + (k−1)/2, no
    edge clamping), so the crop is resized from its own part of the frame alone: the same pixels
    for the crop's share of the cost (tests/test_letterbox.py); otherwise the whole frame is
    letterboxed and cut."""
    height, width = image.shape[:2]
    scale, resized_w, resized_h = fitted(width, height, size_px)
    left, top, right, bottom = stride_box(region, scale)
    k = width // resized_w
    if width != k * resized_w or height != k * resized_h:
        whole, _ = letterbox_image(image, size_px, tight=True)
        return whole[top:bottom, left:right], scale, (left, top)
    crop = np.full((bottom - top, right - left, 3), PAD_VALUE, np.uint8)
    rows, cols = min(bottom, resized_h) - top, min(right, resized_w) - left  # the rest is padding
    if rows > 0 and cols > 0:
        part = image[k * top : k * (top + rows), k * left : k * (left + cols)]
        crop[:rows, :cols] = cv2.resize(part, (cols, rows), interpolation=cv2.INTER_LINEAR)
    return crop, scale, (left, top)


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
