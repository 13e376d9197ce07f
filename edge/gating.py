"""Skipping the detector when it would find what it found last time.

The detector is most of the edge CPU (docs/performance.md). Two levers avoid running it:

- motion gating (`MotionGate`): the frame, downscaled to `width_px` wide, in grey and blurred,
  is compared, region by region, with the same picture of the frame the detector last ran on
  in that region (that picture is the background model: it is what the region's current
  people were detected on). A region where fewer than `min_changed` of its pixels changed by
  more than `pixel_delta` grey levels is still, and its last people are re-used. Without
  tiling the one region is the whole frame ("when": the detector runs or not), and with
  `crop` (`analysis.motion_crop`, a model that takes any input shape) the model runs only on
  the changed part ("where": `Detector.detect_region`, the rectangle around the changed
  pixels with a margin, grown to hold whole the people last found next to it) and the people
  outside it are re-used. When the detector tiles, each tile's pass is a region of its own
  (only the tiles that changed run, still tiles hand back their last people to the merge; a
  whole-frame pass is the whole-frame region, so it follows the "when" rule). Re-used people
  keep their tracks alive (the tracker sees the same boxes) and keep adding dwell and heat.
  A still region (with crops: the whole frame) is re-checked every `recheck_s` seconds
  regardless, so people who stand still are confirmed, and people who left without a
  visible change (lighting drift) are eventually dropped.
- adaptive rate (`edge.adaptive.AdaptiveRate`): while nobody is seen, run at a low rate.

`GatedDetector` combines them in front of a `Detector`; each lever may veto a run, and with
both off it is the detector itself. `keep` filters the detector's people before anything else
sees them (the pipeline's image mask), so that a thing outside the mask that the detector
takes for a person (a sign, a poster) does not keep an empty scene at the full rate.
Times are frame timestamps (seconds); images are BGR uint8 (H, W, 3) in image pixels.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from edge.adaptive import AdaptiveRate
from edge.config import Analysis
from edge.detector import Detector, Pass, edges_cutting
from edge.types import Detections, Frame

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]  # x0, y0 inclusive, x1, y1 exclusive, image px
CROP_MARGIN = 0.05  # a changed part of the frame is grown by this share of the frame's longer side
CROP_MAX_SHARE = 0.75  # a changed part covering more of the frame than this runs the whole frame


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
        self._frame_reference: np.ndarray | None = None  # changed_box's: updated where the detector ran
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
        previous = self._current
        current = self._take(image)
        if previous is None or previous.shape != current.shape:
            self._references.clear()  # another frame size: no reference applies
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

    def changed_box(self, image: np.ndarray) -> Rect | None:
        """The part of `image` that changed since the detector last ran there: the rectangle
        around its changed pixels, grown by `CROP_MARGIN`; the whole frame before any reference;
        None when less than `min_changed` of the frame changed. One reference picture for the
        whole frame, updated by `keep_reference_box` where the detector ran."""
        height, width = image.shape[:2]
        current = self._take(image)
        reference = self._frame_reference
        if reference is None or reference.shape != current.shape:
            self._frame_reference = None
            self.last_changed_shares = [1.0]
            return 0, 0, width, height
        moved = cv2.absdiff(current, reference) > self.pixel_delta
        count = np.count_nonzero(moved)
        self.last_changed_shares = [count / moved.size]
        if count / moved.size < self.min_changed:
            return None
        rows, cols = np.flatnonzero(moved.any(axis=1)), np.flatnonzero(moved.any(axis=0))
        margin = CROP_MARGIN * max(width, height)
        scale_x, scale_y = self._scale
        return (max(0, math.floor(cols[0] / scale_x - margin)),
                max(0, math.floor(rows[0] / scale_y - margin)),
                min(width, math.ceil((cols[-1] + 1) / scale_x + margin)),
                min(height, math.ceil((rows[-1] + 1) / scale_y + margin)))

    def keep_reference_box(self, box: Rect) -> None:
        """The picture of the last `changed_box` call becomes the reference inside `box`: the
        detector ran there."""
        if self._frame_reference is None:
            self._frame_reference = self._current.copy()
        else:
            self._frame_reference[self._small(box)] = self._current[self._small(box)]

    def keep_reference(self, regions: Sequence[Rect] | None = None) -> None:
        """The picture of the last `changed` call becomes the reference of `regions` (default:
        all regions of that call): the detector ran on them."""
        for region in self._regions if regions is None else regions:
            self._references[region] = self._crop(region)  # a view: each call makes a new picture

    def _take(self, image: np.ndarray) -> np.ndarray:
        """The small picture of `image`, kept (with its scale) for the reference calls."""
        height, width = image.shape[:2]
        current = self.small_grey(image)
        self._current, self._scale = current, (current.shape[1] / width, current.shape[0] / height)
        return current

    def _small(self, region: Rect) -> tuple[slice, slice]:
        """An image region's rows and columns in the small picture (at least one pixel, edges
        rounded outwards)."""
        x0, y0, x1, y1 = region
        scale_x, scale_y = self._scale
        left, top = int(x0 * scale_x), int(y0 * scale_y)
        right, bottom = max(left + 1, math.ceil(x1 * scale_x)), max(top + 1, math.ceil(y1 * scale_y))
        return slice(top, bottom), slice(left, right)

    def _crop(self, region: Rect) -> np.ndarray:
        """The region of the current small picture."""
        return self._current[self._small(region)]


class GatedDetector:
    """`gated(frame) -> Detections`: the detector's people on this frame, or the last ones
    re-used, in all or (motion gating a tiling detector) some of its passes, where a lever says
    the detector need not run. `runs` counts frames on which it ran (some passes), `reused`
    frames on which it did not, `passes_skipped` the model passes whose people were re-used
    (the detector's `passes_run` counts those run); `last_latency_ms` is this call's wall time
    (the detector's, or the gate's own when nothing ran)."""

    def __init__(self, detector: Detector, *, motion: MotionGate | None = None, recheck_s: float = 5.0,
                 rate: AdaptiveRate | None = None, crop: bool = False,
                 keep: Callable[[Detections], Detections] | None = None) -> None:
        if recheck_s <= 0:
            raise ValueError(f"recheck_s must be > 0 s, got {recheck_s}")
        self.detector, self.motion, self.recheck_s, self.rate = detector, motion, recheck_s, rate
        self.keep = keep
        self.runs = self.reused = self.passes_skipped = self.cropped = 0
        self.last_latency_ms = 0.0
        # stand-in detectors (bench/edge_rest.py) have no tiling: one pass over the whole frame
        self._tiled = getattr(detector, "tiling", None) is not None
        # crops need a model that takes any input shape; a tiling detector gates by tile instead
        self._crop = crop and motion is not None and not self._tiled and getattr(detector, "tight", False)
        if crop and motion is not None and not self._tiled and not self._crop:
            log.info("model %s takes a square input only: motion gating runs it on whole frames",
                     getattr(detector, "model_path", "?"))
        self._box: Rect | None = None  # this frame's crop (None: the whole frame)
        self._outside = np.zeros(0, bool)  # which last people lie outside it, to re-use
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
        return cls(detector, motion=motion, recheck_s=analysis.motion_recheck_s, rate=rate,
                   crop=analysis.motion_crop, keep=keep)

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
        if self._box is not None:
            fresh = self.detector.detect_region(frame.image, self._box)
            fresh = self._whole_in_crop(fresh, frame.image.shape)
            kept = self._last[self._outside]
            detections = Detections(np.concatenate([fresh.xyxy, kept.xyxy]),
                                    np.concatenate([fresh.confidence, kept.confidence]))
            self.cropped += 1
        elif due.all():
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
        if self._crop:  # a crop is not a whole-frame run: the recheck clock goes on
            if self._box is None:
                self._ran_s[:] = frame.timestamp_s
            self.motion.keep_reference_box(self._box or self._regions[0])
        else:
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
        """Per pass, must it run on this frame? With crops, `_box` is where (None: everywhere)."""
        self._box = None
        height, width = frame.image.shape[:2]
        if self._tiled:
            regions = [(t.x0, t.y0, t.x1, t.y1) for t in self.detector.pass_tiles(width, height)]
        else:
            regions = [(0, 0, width, height)]
        if self._last is None or regions != self._regions or frame.timestamp_s < self._ran_s.max():
            self._regions, self._ran_s = regions, np.full(len(regions), frame.timestamp_s)
            if self._crop:  # keeps this picture for keep_reference_box()
                self.motion.changed_box(frame.image)
            elif self.motion is not None:
                self.motion.changed(frame.image, regions)  # keeps this picture for keep_reference()
            return np.ones(len(regions), bool)
        if self.rate is not None and not self.rate.due(frame.timestamp_s):
            return np.zeros(len(regions), bool)
        if self.motion is None:
            return np.ones(len(regions), bool)
        recheck = frame.timestamp_s - self._ran_s >= self.recheck_s - 1e-9
        if not self._crop:
            return self.motion.changed(frame.image, regions) | recheck
        box = self.motion.changed_box(frame.image)
        if box is None and not recheck[0]:
            return np.zeros(1, bool)
        if box is not None and not recheck[0]:
            box, self._outside = self._grown(box, width, height)
            x0, y0, x1, y1 = box
            self._box = box if (x1 - x0) * (y1 - y0) <= CROP_MAX_SHARE * width * height else None
        return np.ones(1, bool)

    def _whole_in_crop(self, fresh: Detections, shape: tuple[int, ...]) -> Detections:
        """Drops the crop's people cut by one of its edges inside the frame: someone who moves is
        inside the crop with a margin, and someone found before is held whole with one, so
        what the edge cuts is a still thing or person that the model, missing the context
        beyond the edge, may score otherwise than in the frame (a sign taken for a person)."""
        x0, y0, x1, y1 = self._box
        height, width = shape[:2]
        inner = (x0 > 0, y0 > 0, x1 < width, y1 < height)
        cut = edges_cutting(fresh.xyxy, np.array(self._box, np.float32), inner).any(axis=1)
        return fresh[~cut] if cut.any() else fresh

    def _grown(self, box: Rect, width: int, height: int) -> tuple[Rect, np.ndarray]:
        """`box` grown until the part of the frame the model sees for it holds whole every last
        person it touches (they are found again there, not cut at its edge): that part, and
        which last people lie outside it (re-used)."""
        xyxy = self._last.xyxy
        margin = CROP_MARGIN * max(width, height)  # context around them too: the model scores a person
        while True:                                 # cut by the crop's edge otherwise than in the frame
            x0, y0, x1, y1 = box = self.detector.region_seen(width, height, box)
            touches = (xyxy[:, 0] < x1) & (xyxy[:, 2] > x0) & (xyxy[:, 1] < y1) & (xyxy[:, 3] > y0)
            if not touches.any():
                return box, ~touches
            held = xyxy[touches]
            grown = (max(0, min(x0, math.floor(held[:, 0].min() - margin))),
                     max(0, min(y0, math.floor(held[:, 1].min() - margin))),
                     min(width, max(x1, math.ceil(held[:, 2].max() + margin))),
                     min(height, max(y1, math.ceil(held[:, 3].max() + margin))))
            if grown == box:  # it only grows, within the frame: this ends
                return box, ~touches
            box = grown
