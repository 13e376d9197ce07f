"""One still frame from a camera source or a file, for calibration pictures and frame sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from footfall_core.geometry import CalibrationError
from footfall_core.redact import redact_url
from footfall_core.secrets import camera_source
from footfall_core.store import StoreConfig


def first_frame(path: str) -> np.ndarray | None:
    """The BGR image at `path`: an image file, or the first frame of a video, image pattern
    (frames/seq_%06d.jpg) or stream. None when nothing can be read."""
    if "%" not in path and Path(path).is_file():
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is not None:
            return image
    capture = cv2.VideoCapture(path)
    try:
        ok, image = capture.read()
    finally:
        capture.release()
    return image if ok else None


def source_frame_size(config: StoreConfig, camera: str) -> tuple[int, int]:
    """(width, height) px of a camera's source, from its first frame."""
    source = camera_source(config, config.camera(camera))
    image = first_frame(source)
    if image is None:
        raise CalibrationError(f"camera {camera}: cannot read a frame from its source {redact_url(source)}")
    return image.shape[1], image.shape[0]
