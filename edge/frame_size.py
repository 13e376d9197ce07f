"""A camera's calibration holds for the frame size it was taken on: its image points, image
mask and tile plan are pixels of that frame. An IP camera restarted with another stream
profile comes back at another resolution. At the same aspect ratio the picture is the same
view, scaled: frames are resized to the calibration's size and counting goes on. At another
aspect the sensor is cropped or the picture stretched, and no scaling of the points maps the
floor right: the camera is in error (its frames are dropped, not counted) until its frames
fit again."""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01  # relative: 1920x1080 and 1280x720 match, 1920x1088 (padded) too


class FrameSizeGuard:
    """`fit(image)` → the image at the reference size, or None (and `error` says why) when its
    aspect ratio differs. The reference is `calibration_size_px` (width, height) when the config
    gives it, else the size of the first frame seen."""

    def __init__(self, camera: str, calibration_size_px: tuple[int, int] | None = None):
        self.camera = camera
        self.reference_px = calibration_size_px
        self.error: str | None = None
        self.resized = 0  # frames scaled to the reference size
        self.refused = 0  # frames dropped for their aspect

    def fit(self, image: np.ndarray) -> np.ndarray | None:
        height, width = image.shape[:2]
        if self.reference_px is None:
            self.reference_px = (width, height)
        ref_w, ref_h = self.reference_px
        if (width, height) == (ref_w, ref_h):
            self._clear()
            return image
        if abs((width / height) / (ref_w / ref_h) - 1) > ASPECT_TOLERANCE:
            if self.error is None:
                self.error = (
                    f"frame size {width}x{height} (aspect {width / height:.3f}) does not match the "
                    f"calibration's {ref_w}x{ref_h} (aspect {ref_w / ref_h:.3f}): frames are not counted; "
                    f"set the camera back to {ref_w}x{ref_h} or calibrate it again"
                )
                log.error("camera %s: %s", self.camera, self.error, extra={"camera": self.camera})
            self.refused += 1
            return None
        self._clear()
        self.resized += 1
        shrink = width * height > ref_w * ref_h
        return cv2.resize(image, (ref_w, ref_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def _clear(self) -> None:
        if self.error is not None:
            log.warning(
                "camera %s: frame size fits the calibration again", self.camera, extra={"camera": self.camera}
            )
            self.error = None
