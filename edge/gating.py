"""Skipping the detector when it would find what it found last time.

The detector is most of the edge CPU (docs/performance.md). Two levers avoid running it:

- motion gating (`MotionGate`): the frame, downscaled to `width_px` wide, in grey and blurred,
  is compared, region by region, with the same picture of the frame the detector last ran on
  in that region (that picture is the background model: it is what the region's current
  people were detected on). A region where fewer than `min_changed` of its pixels changed by
  more than `pixel_delta` grey levels is still, and its last people are re-used. Without
  tiling the one region is the whole frame ("when": the detector runs or not); when the
  detector tiles, each tile's pass is a region of its own ("where": only the tiles that
  changed run, still tiles hand back their last people to the merge; a whole-frame pass is
  the whole-frame region, so it follows the "when" rule). Re-used people keep their tracks
  alive (the tracker sees the same boxes) and keep adding dwell and heat. A still region is
  re-checked every `recheck_s` seconds regardless, so people who stand still are confirmed,
  and people who left without a visible change (lighting drift) are eventually dropped.
- adaptive rate (`edge.adaptive.AdaptiveRate`): while nobody is seen, run at a low rate.

`GatedDetector` combines them in front of a `Detector`; each lever may veto a run, and with
both off it is the detector itself. `keep` filters the detector's people before anything else
sees them (the pipeline's image mask), so that a thing outside the mask that the detector
takes for a person (a sign, a poster) does not keep an empty scene at the full rate.
Times are frame timestamps (seconds); images are BGR uint8 (H, W, 3) in image pixels.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from edge.adaptive import AdaptiveRate
from edge.config import Analysis
from edge.detector import Detector, Pass
from edge.types import Detections, Frame

Rect = tuple[int, int, int, int]  # x0, y0 inclusive, x1, y1 exclusive, image px


class MotionGate:
    """`changed(image, regions)`: per region, did its picture change since `keep_reference`
    last took that region?"""

    def __init__(self, pixel_delta: int = 20, min_changed: float = 0.001, width_px: int = 160) -> None:
        if not 1 <= pixel_delta <= 255:
            raise ValueError(f"pixel_delta must be 1..255 grey levels, got {pixel_delta}")
        if not 0 < min_changed < 1:
            raise ValueError(f"min_changed must be a share in (0, 1), got {min_changed}")
        self.pixel_delta, self.min_changed, self.width_px = pixel_delta, min_changed, width_px
        self.last_changed_shares: list[float] = []  # per region, share of changed pixels at the last call
        self._references: dict[Rect, np.ndarray] = {}
        self._current: np.ndarray | None = None
        self._regions: list[Rect] = []
        self._scale = (1.0, 1.0)  # small picture px per image px, x and y

    def small_grey(self, image: np.ndarray) -> np.ndarray:
        """The image `width_px` wide (aspect kept), grey, blurred: sensor noise and compression
        artefacts fall under `pixel_delta`, a walking person does not."""
        height, width = image.shape[:2]
        size = (self.width_px, max(1, round(height * self.width_px / width)))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # before resizing: a third of the work
        # linear, not area, sampling: 0.3 instead of 0.9 ms for PETS09; the blur does the smoothing
        return cv2.GaussianBlur(cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR), (5, 5), 0)

    def changed(self, image: np.ndarray, regions: Sequence[Rect] | None = None) -> np.ndarray:
        """Per region of `image` (default: one, the whole image), did at least `min_changed` of
        its small picture change since that region's reference? (R,) bool."""
        height, width = image.shape[:2]
        current = self.small_grey(image)
        if self._current is None or self._current.shape != current.shape:
            self._references.clear()  # another frame size: no reference applies
        self._current, self._scale = current, (current.shape[1] / width, current.shape[0] / height)
        self._regions = list(regions) if regions is not None else [(0, 0, width, height)]
        self.last_changed_shares = []
        for region in self._regions:
            reference = self._references.get(region)
            if reference is None:
                self.last_changed_shares.append(1.0)
                continue
            moved = cv2.absdiff(self._crop(region), reference) > self.pixel_delta
            self.last_changed_shares.append(float(np.count_nonzero(moved)) / moved.size)
        return np.array(self.last_changed_shares) >= self.min_changed

    def keep_reference(self, regions: Sequence[Rect] | None = None) -> None:
        """The picture of the last `changed` call becomes the reference of `regions` (default:
        all regions of that call): the detector ran on them."""
        for region in self._regions if regions is None else regions:
            self._references[region] = self._crop(region)  # a view: each call makes a new picture

    def _crop(self, region: Rect) -> np.ndarray:
        """The region of the current small picture (at least one pixel, edges rounded outwards)."""
        x0, y0, x1, y1 = region
        scale_x, scale_y = self._scale
        left, top = int(x0 * scale_x), int(y0 * scale_y)
        right, bottom = max(left + 1, math.ceil(x1 * scale_x)), max(top + 1, math.ceil(y1 * scale_y))
        return self._current[top:bottom, left:right]


class GatedDetector:
    """`gated(frame) -> Detections`: the detector's people on this frame, or the last ones
    re-used, in all or (motion gating a tiling detector) some of its passes, where a lever says
    the detector need not run. `runs` counts frames on which it ran (some passes), `reused`
    frames on which it did not, `passes_skipped` the model passes whose people were re-used
    (the detector's `passes_run` counts those run); `last_latency_ms` is this call's wall time
    (the detector's, or the gate's own when nothing ran)."""

    def __init__(self, detector: Detector, *, motion: MotionGate | None = None, recheck_s: float = 5.0,
                 rate: AdaptiveRate | None = None,
                 keep: Callable[[Detections], Detections] | None = None) -> None:
        if recheck_s <= 0:
            raise ValueError(f"recheck_s must be > 0 s, got {recheck_s}")
        self.detector, self.motion, self.recheck_s, self.rate = detector, motion, recheck_s, rate
        self.keep = keep
        self.runs = self.reused = self.passes_skipped = 0
        self.last_latency_ms = 0.0
        # stand-in detectors (bench/edge_rest.py) have no tiling: one pass over the whole frame
        self._tiled = getattr(detector, "tiling", None) is not None
        self._last: Detections | None = None
        self._regions: list[Rect] = []  # per pass, the image region it sees
        self._found: list[Pass] = []  # per pass, its people when it last ran (tiling only)
        self._ran_s = np.zeros(0)  # per pass, the timestamp it last ran

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
        if self.motion is None and self.rate is None:  # no lever (the default): skip the bookkeeping
            detections = self.detector(frame.image)
            self.last_latency_ms = self.detector.last_latency_ms
            self.runs += 1
            return detections if self.keep is None else self.keep(detections)
        started = time.perf_counter()
        due = self._must_run(frame)
        if not due.any():
            self.reused += 1
            self.passes_skipped += len(due)
            self.last_latency_ms = (time.perf_counter() - started) * 1000
            return self._last
        if due.all():
            detections = self.detector(frame.image)
        else:
            detections = self.detector(frame.image, [None if run else found
                                                     for run, found in zip(due, self._found, strict=True)])
        if self._tiled:
            self._found = self.detector.last_found
        if self.keep is not None:
            detections = self.keep(detections)
        self.last_latency_ms = self.detector.last_latency_ms
        self._last = detections
        self._ran_s = np.where(due, frame.timestamp_s, self._ran_s)
        if self.motion is not None:
            ran = [region for region, run in zip(self._regions, due, strict=True) if run]
            self.motion.keep_reference(ran)
        if self.rate is not None:
            self.rate.ran(frame.timestamp_s, len(detections))
        self.runs += 1
        self.passes_skipped += int(np.count_nonzero(~due))
        return detections

    def _must_run(self, frame: Frame) -> np.ndarray:
        """Per pass, must it run on this frame?"""
        height, width = frame.image.shape[:2]
        if self._tiled:
            regions = [(t.x0, t.y0, t.x1, t.y1) for t in self.detector.pass_tiles(width, height)]
        else:
            regions = [(0, 0, width, height)]
        if self._last is None or regions != self._regions or frame.timestamp_s < self._ran_s.max():
            self._regions, self._ran_s = regions, np.full(len(regions), frame.timestamp_s)
            if self.motion is not None:
                self.motion.changed(frame.image, regions)  # keeps this picture for keep_reference()
            return np.ones(len(regions), bool)
        if self.rate is not None and not self.rate.due(frame.timestamp_s):
            return np.zeros(len(regions), bool)
        if self.motion is None:
            return np.ones(len(regions), bool)
        recheck = frame.timestamp_s - self._ran_s >= self.recheck_s - 1e-9
        return self.motion.changed(frame.image, regions) | recheck
