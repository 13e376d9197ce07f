"""A floor plan picture made from the store's own cameras: each camera's people-free background
(the per-pixel median over frames spread across its source: someone walking is in few of
them, the floor in all), warped onto the floor plan through its calibration.

The installer's explicit choice, run once on site (`python -m calibration plan`): the picture
shows the empty floor, never a person, and it stays on the central server as the store's plan
image (uploaded with `python -m dashboard stores plan`). Where several cameras see a floor
point, the one that sees it largest (most image pixels per floor metre) paints it; floor no
camera sees, or sees at fewer than `min_px_per_m` (too far to show anything but smear), is
left light grey. Things standing up (walls, shelves) smear away from the camera: only the
floor is where it belongs.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.check import plan_size_px
from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.store import StoreConfig

UNSEEN_BGR = (235, 235, 235)


def background(source: str, frames: int) -> np.ndarray:
    """The per-pixel median of `frames` frames spread evenly over a recording (or the first
    `frames` of a stream), BGR uint8."""
    capture = cv2.VideoCapture(source)
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = max(1, total // frames) if total > 0 else 1
        picked = []
        index = 0
        while len(picked) < frames:
            ok, image = capture.read()
            if not ok:
                break
            if index % step == 0:
                picked.append(image)
            index += 1
    finally:
        capture.release()
    if not picked:
        raise CalibrationError(f"cannot read a frame from {source}")
    return np.median(np.stack(picked), axis=0).astype(np.uint8)


def plan_picture(
    config: StoreConfig, backgrounds: dict[str, np.ndarray], px_per_m: float, min_px_per_m: float = 4.0
) -> np.ndarray:
    """The plan (BGR, `px_per_m` pixels a metre, top-left at the plan's origin) painted from
    each camera's background, the camera that sees a floor point largest painting it."""
    width, height = plan_size_px(config, px_per_m)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    floor_m = (
        np.asarray(config.floor_plan.origin_m) + np.stack([cols.ravel(), rows.ravel()], axis=1) / px_per_m
    )
    out = np.empty((height * width, 3), np.uint8)
    out[:] = UNSEEN_BGR
    best = np.full(height * width, min_px_per_m)
    for name, picture in backgrounds.items():
        frame_h, frame_w = picture.shape[:2]
        geometry = CameraGeometry.from_config(config.camera(name), (frame_w, frame_h))
        image_px = geometry.floor_to_image(floor_m)
        inside = np.isfinite(image_px).all(axis=1)
        inside &= (image_px[:, 0] >= 0) & (image_px[:, 0] < frame_w - 1)
        inside &= (image_px[:, 1] >= 0) & (image_px[:, 1] < frame_h - 1)
        scale = np.zeros(len(floor_m))
        scale[inside] = geometry.pixels_per_metre(floor_m[inside])
        mine = inside & (scale > best)
        if not mine.any():
            continue
        maps = np.where(mine[:, None], image_px, -1.0).astype(np.float32).reshape(height, width, 2)
        warped = cv2.remap(
            picture, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        out[mine] = warped.reshape(-1, 3)[mine]
        best[mine] = scale[mine]
    return out.reshape(height, width, 3)
