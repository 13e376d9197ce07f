"""Skipping the detector when it would find what it found last time.

The detector is most of the edge CPU (docs/performance.md). Two levers avoid running it:

- motion gating (`MotionGate`): the frame, downscaled to `width_px` wide, in grey and blurred,
  is compared with the same picture of the frame the detector last ran on (that frame is the
  background model: it is what the current people were detected on). If fewer than
  `min_changed` of its pixels changed by more than `pixel_delta` grey levels, nobody moved
  and the last people are re-used. Re-used people keep their tracks alive (the tracker sees
  the same boxes) and keep adding dwell and heat. A still picture is re-checked every
  `recheck_s` seconds regardless, so people who stand still are confirmed, and people who
  left without a visible change (lighting drift) are eventually dropped.
- adaptive rate (`edge.adaptive.AdaptiveRate`): while nobody is seen, run at a low rate.

`GatedDetector` combines them in front of a `Detector`; each lever may veto a run, and with
both off it is the detector itself. `keep` filters the detector's people before anything else
sees them (the pipeline's image mask), so that a thing outside the mask that the detector
takes for a person (a sign, a poster) does not keep an empty scene at the full rate.
Times are frame timestamps (seconds); images are BGR uint8 (H, W, 3) in image pixels.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

from edge.adaptive import AdaptiveRate
from edge.config import Analysis
from edge.detector import Detector
from edge.types import Detections, Frame


class MotionGate:
    """`changed(image)`: did the picture change since the reference set by `keep_reference()`?"""

    def __init__(self, pixel_delta: int = 20, min_changed: float = 0.001, width_px: int = 160) -> None:
        if not 1 <= pixel_delta <= 255:
            raise ValueError(f"pixel_delta must be 1..255 grey levels, got {pixel_delta}")
        if not 0 < min_changed < 1:
            raise ValueError(f"min_changed must be a share in (0, 1), got {min_changed}")
        self.pixel_delta, self.min_changed, self.width_px = pixel_delta, min_changed, width_px
        self.last_changed_share = 1.0  # share of changed pixels at the last `changed` call
        self._reference: np.ndarray | None = None
        self._current: np.ndarray | None = None

    def small_grey(self, image: np.ndarray) -> np.ndarray:
        """The image `width_px` wide (aspect kept), grey, blurred: sensor noise and compression
        artefacts fall under `pixel_delta`, a walking person does not."""
        height, width = image.shape[:2]
        size = (self.width_px, max(1, round(height * self.width_px / width)))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # before resizing: a third of the work
        # linear, not area, sampling: 0.3 instead of 0.9 ms for PETS09; the blur does the smoothing
        return cv2.GaussianBlur(cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR), (5, 5), 0)

    def changed(self, image: np.ndarray) -> bool:
        self._current = self.small_grey(image)
        if self._reference is None or self._reference.shape != self._current.shape:
            self.last_changed_share = 1.0
            return True
        moved = cv2.absdiff(self._current, self._reference) > self.pixel_delta
        self.last_changed_share = float(np.count_nonzero(moved)) / moved.size
        return self.last_changed_share >= self.min_changed

    def keep_reference(self) -> None:
        """The picture of the last `changed` call becomes the reference (the detector ran on it)."""
        self._reference = self._current


class GatedDetector:
    """`gated(frame) -> Detections`: the detector's people on this frame, or the last ones
    re-used when a lever says the detector need not run. `runs` and `reused` count frames;
    `last_latency_ms` is this call's wall time (the detector's, or the gate's own when skipped)."""

    def __init__(self, detector: Detector, *, motion: MotionGate | None = None, recheck_s: float = 5.0,
                 rate: AdaptiveRate | None = None,
                 keep: Callable[[Detections], Detections] | None = None) -> None:
        if recheck_s <= 0:
            raise ValueError(f"recheck_s must be > 0 s, got {recheck_s}")
        self.detector, self.motion, self.recheck_s, self.rate = detector, motion, recheck_s, rate
        self.keep = keep
        self.runs = self.reused = 0
        self.last_latency_ms = 0.0
        self._last: Detections | None = None
        self._last_run_s: float | None = None

    @classmethod
    def from_analysis(cls, detector: Detector, analysis: Analysis,
                      keep: Callable[[Detections], Detections] | None = None) -> "GatedDetector":
        """The levers `analysis` turns on (motion_gating, adaptive_rate) in front of `detector`."""
        motion = None
        if analysis.motion_gating:
            motion = MotionGate(analysis.motion_pixel_delta, analysis.motion_min_changed)
        rate = AdaptiveRate(analysis.empty_after_s, analysis.empty_fps) if analysis.adaptive_rate else None
        return cls(detector, motion=motion, recheck_s=analysis.motion_recheck_s, rate=rate, keep=keep)

    def __call__(self, frame: Frame) -> Detections:
        started = time.perf_counter()
        if self._must_run(frame):
            detections = self.detector(frame.image)
            if self.keep is not None:
                detections = self.keep(detections)
            self.last_latency_ms = self.detector.last_latency_ms
            self._last, self._last_run_s = detections, frame.timestamp_s
            if self.motion is not None:
                self.motion.keep_reference()
            if self.rate is not None:
                self.rate.ran(frame.timestamp_s, len(detections))
            self.runs += 1
            return detections
        self.reused += 1
        self.last_latency_ms = (time.perf_counter() - started) * 1000
        return self._last

    def _must_run(self, frame: Frame) -> bool:
        last_s = self._last_run_s
        if self._last is None or last_s is None or frame.timestamp_s < last_s:
            if self.motion is not None:
                self.motion.changed(frame.image)  # keeps this picture for keep_reference()
            return True
        if self.rate is not None and not self.rate.due(frame.timestamp_s):
            return False
        if self.motion is None:
            return True
        changed = self.motion.changed(frame.image)
        return changed or frame.timestamp_s - last_s >= self.recheck_s - 1e-9
