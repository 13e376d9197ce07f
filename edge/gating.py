"""Skipping the detector when it would find what it found last time.

The detector is most of the edge CPU (docs/performance.md). Three levers avoid running it:

- motion gating (`MotionGate`): the frame, downscaled to `width_px` wide, in grey and blurred,
  is compared, region by region, with the same picture of the frame the detector last ran on
  in that region (that picture is the background model: it is what the region's current
  people were detected on). Each model pass is a region: the whole frame without tiling,
  else each tile and the whole-frame pass, if any. A region where fewer than `min_changed`
  of its pixels changed by more than `pixel_delta` grey levels is still, and its pass hands
  its last people back to the merge ("when"). With `crop` (`analysis.motion_crop`, a model
  that takes any input shape) a region that changed runs its pass only on the changed part
  ("where": a `Crop`, the rectangle around the changed pixels with a margin, grown to hold
  whole the people last found next to it), and its people outside that part are re-used.
  Only passes over the whole frame are cropped (untiled, or a tiling's whole-frame pass): in
  tiles, crops cost accuracy (PETS09 in 2x2 tiles: heat r 0.884 -> 0.833, person-seconds
  +1.5 %), so a tile that changed runs whole.
  Re-used people keep their tracks alive (the tracker sees the same boxes) and keep adding
  dwell and heat. A region is run whole every `recheck_s` seconds regardless, so people who
  stand still are confirmed, and people who left without a visible change (lighting drift)
  are eventually dropped.
  On a picture that changes everywhere (a crowded mall) the check saves nothing and costs
  about a tenth of a small model's time, so after a check that ran every pass whole the gate
  stops looking for 1, 2, 4 ... up to `BUSY_SKIP_MAX` frames (they run whole, which is what
  the check would have said, so nothing is lost but savings); the last of them takes a fresh
  reference picture, and the first check that finds anything still or croppable ends it.
- adaptive rate (`edge.adaptive.AdaptiveRate`): while nobody is seen, run at a low rate.
- tiles at a lower rate (`tiling.tiles_every`): a tiling's tiles run on every n-th analysed
  frame, and re-use their last people on the frames between, whatever motion gating says;
  the whole-frame pass runs on every one. Tiles are there for far-away people, who cross few
  pixels between two frames.

`GatedDetector` combines them in front of a `Detector`; each lever may veto a run, and with
all off it is the detector itself. `keep` filters the detector's people before anything else
sees them (the pipeline's image mask), so that a thing outside the mask that the detector
takes for a person (a sign, a poster) does not keep an empty scene at the full rate.
Times are frame timestamps (seconds); images are BGR uint8 (H, W, 3) in image pixels.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import supervision as sv

from edge.adaptive import AdaptiveRate
from edge.detector import RUN, Crop, Detected, Reuse, Run, Step
from edge.merge import Pass
from edge.types import Detections, Frame
from footfall_core.store import Analysis
from footfall_core.tiling import Tile
from models.letterbox import Rect

log = logging.getLogger(__name__)

CROP_MARGIN = 0.05  # a changed part of the frame is grown by this share of the frame's longer side
CROP_MAX_SHARE = 0.75  # a changed part covering more of the frame than this runs the whole frame
BUSY_SKIP_MAX = 8  # most frames run whole, unchecked, after a check found every pass changed


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
        # linear, not area, sampling (0.3 instead of 0.9 ms for PETS09; the blur does the smoothing),
        # then grey: 0.05 instead of 0.12 ms for a frame in the cache, within a grey level (0.13-0.16
        # ms either way for one read from memory, one thread)
        small = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)

    def changed_boxes(self, image: np.ndarray, regions: Sequence[Rect] | None = None) -> list[Rect | None]:
        """Per region of `image` (default: one, the whole image), the part of it that changed
        since its reference: the rectangle around its changed pixels grown by `CROP_MARGIN` (of
        the frame's longer side), inside the region; the whole region before any reference;
        None when less than `min_changed` of it changed."""
        height, width = image.shape[:2]
        previous = self._current
        current = self._take(image)
        if previous is None or previous.shape != current.shape:
            self._references.clear()  # another frame size: no reference applies
        self._regions = list(regions) if regions is not None else [(0, 0, width, height)]
        margin = CROP_MARGIN * max(width, height)
        scale_x, scale_y = self._scale
        self.last_changed_shares = []
        boxes: list[Rect | None] = []
        for region in self._regions:
            reference = self._references.get(region)
            if reference is None:
                self.last_changed_shares.append(1.0)
                boxes.append(region)
                continue
            rows_in, cols_in = self._small(region)
            # OpenCV's counting and bounding box of the changed pixels: a third of numpy's calls'
            # time on a 160 px picture
            moved = cv2.threshold(
                cv2.absdiff(current[rows_in, cols_in], reference), self.pixel_delta, 1, cv2.THRESH_BINARY
            )[1]
            share = cv2.countNonZero(moved) / moved.size
            self.last_changed_shares.append(share)
            if share < self.min_changed:
                boxes.append(None)
                continue
            left, top, changed_w, changed_h = cv2.boundingRect(moved)
            x0, y0, x1, y1 = region
            boxes.append(
                (
                    max(x0, math.floor((cols_in.start + left) / scale_x - margin)),
                    max(y0, math.floor((rows_in.start + top) / scale_y - margin)),
                    min(x1, math.ceil((cols_in.start + left + changed_w) / scale_x + margin)),
                    min(y1, math.ceil((rows_in.start + top + changed_h) / scale_y + margin)),
                )
            )
        return boxes

    def keep_reference(
        self, regions: Sequence[Rect] | None = None, parts: Sequence[Rect | None] | None = None
    ) -> None:
        """The picture of the last `changed_boxes` call becomes the reference of `regions`
        (default: all regions of that call): the detector ran on them; per region, only inside
        `parts[i]` where given (a crop of it ran)."""
        for i, region in enumerate(self._regions if regions is None else regions):
            part = None if parts is None else parts[i]
            reference = self._references.get(region)
            if part is None or reference is None:
                self._references[region] = self._crop(region)  # a view: each call makes a new picture
                continue
            (rows_in, cols_in), (rows, cols) = self._small(region), self._small(part)
            inside = (
                slice(rows.start - rows_in.start, rows.stop - rows_in.start),
                slice(cols.start - cols_in.start, cols.stop - cols_in.start),
            )
            reference = reference.copy()  # earlier pictures' views are shared by overlapping regions
            reference[inside] = self._crop(part)
            self._references[region] = reference

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
        assert self._current is not None, "changed_boxes takes the picture first"
        return self._current[self._small(region)]


class PassDetector(Protocol):
    """What the gate needs of a detector (`edge.detector.Detector`, or a benchmark's stand-in):
    the passes a frame gets, the part of a pass a crop shows the model, and a call that takes
    one step per pass."""

    @property
    def tiled(self) -> bool: ...

    @property
    def can_crop(self) -> bool: ...

    @property
    def nms_iou(self) -> float: ...

    @property
    def model_path(self) -> Path: ...

    def passes(self, width_px: int, height_px: int) -> Sequence[Tile]: ...

    def region_seen(self, tile: Tile, region: Rect) -> Rect: ...

    def __call__(self, image: np.ndarray, steps: Sequence[Step] | None = None) -> Detected: ...


@dataclass(frozen=True)
class Gated:
    """One frame through the gate: its people (the detector's, or the last ones re-used);
    `latency_ms` the detector's wall time, or the gate's own when nothing ran; `ran` the
    detector's result when it ran (some passes); `crops` the passes run on a crop (image px)."""

    detections: Detections
    latency_ms: float
    ran: Detected | None = None
    crops: tuple[Rect, ...] = ()

    @property
    def passes_run(self) -> int:
        """Model passes run on this frame (whole or cropped)."""
        return 0 if self.ran is None else self.ran.passes_run


class GatedDetector:
    """`gated(frame) -> Gated`: the detector's people on this frame, or the last ones re-used,
    in all or (motion gating) some of its passes, where a lever says the detector need not
    run; with crops, a pass that changed in part runs on that part only. Running totals:
    `runs` counts frames on which it ran (some passes), `reused` frames on which it did not,
    `passes_skipped` the model passes whose people were re-used, `cropped` the passes run on a
    crop, `unchecked` the frames run whole without a motion check (busy back-off, module doc).
    The adaptive rate counts the people scored at least `score_threshold` (boxes under it are
    only for the tracker to continue people it follows)."""

    def __init__(
        self,
        detector: PassDetector,
        *,
        motion: MotionGate | None = None,
        recheck_s: float = 5.0,
        rate: AdaptiveRate | None = None,
        crop: bool = False,
        tiles_every: int = 1,
        keep: Callable[[Detections], Detections] | None = None,
        score_threshold: float = 0.0,
    ) -> None:
        if recheck_s <= 0:
            raise ValueError(f"recheck_s must be > 0 s, got {recheck_s}")
        if tiles_every < 1:
            raise ValueError(f"tiles_every must be >= 1 frame, got {tiles_every}")
        self.detector, self.motion, self.recheck_s, self.rate = detector, motion, recheck_s, rate
        self.keep, self.score_threshold = keep, score_threshold
        self.runs = self.reused = self.passes_skipped = self.cropped = self.unchecked = 0
        self._busy_skip = 0  # the last busy back-off, frames
        self._skip_left = 0  # frames still to run whole unchecked; the last one takes a reference
        self._looked = False  # whether this frame's plan took the motion gate's picture
        self._tiled = detector.tiled
        self.tiles_every = tiles_every if self._tiled else 1
        self._crop = crop and motion is not None and detector.can_crop  # any input shape
        if crop and motion is not None and not self._crop:
            log.info(
                "model %s takes a square input only: motion gating runs whole passes", detector.model_path
            )
        self._last: Detections | None = None
        self._tiles: Sequence[Tile] = ()  # the passes, as the part of the frame each sees
        self._found: list[Pass] = []  # per pass, its people when it last ran (tiling or crops only)
        self._ran_s = np.zeros(0)  # per pass, the timestamp it last ran whole
        self._waited = np.zeros(0, np.int64)  # per pass, frames planned since it last ran whole

    @classmethod
    def from_analysis(
        cls,
        detector: PassDetector,
        analysis: Analysis,
        tiles_every: int = 1,
        keep: Callable[[Detections], Detections] | None = None,
        score_threshold: float = 0.0,
    ) -> GatedDetector:
        """The levers `analysis` turns on (motion_gating, adaptive_rate) in front of `detector`,
        whose tiles (if any) run on every `tiles_every`-th frame (the camera's tiling), and
        whose people score at least `score_threshold`."""
        motion = None
        if analysis.motion_gating:
            motion = MotionGate(analysis.motion_pixel_delta, analysis.motion_min_changed)
        rate = AdaptiveRate(analysis.empty_after_s, analysis.empty_fps) if analysis.adaptive_rate else None
        return cls(
            detector,
            motion=motion,
            recheck_s=analysis.motion_recheck_s,
            rate=rate,
            crop=analysis.motion_crop,
            tiles_every=tiles_every,
            keep=keep,
            score_threshold=score_threshold,
        )

    def __call__(self, frame: Frame) -> Gated:
        if self.motion is None and self.rate is None and self.tiles_every == 1:  # no lever: no bookkeeping
            ran = self.detector(frame.image)
            self.runs += 1
            detections = ran.detections if self.keep is None else self.keep(ran.detections)
            return Gated(detections, ran.latency_ms, ran)
        started = time.perf_counter()
        plan = self._plan(frame)
        if plan is None:
            assert self._last is not None  # the first frame always runs
            self.reused += 1
            self.passes_skipped += len(self._tiles)
            return Gated(self._last, (time.perf_counter() - started) * 1000)
        ran = self.detector(frame.image, plan)
        if self._tiled or self._crop:
            self._found = list(ran.passes)
            if self.tiles_every > 1:
                self._found = self._small_only(self._found, frame)
        detections = ran.detections if self.keep is None else self.keep(ran.detections)
        self._last = detections
        whole = np.array([isinstance(step, Run) for step in plan])
        self._ran_s = np.where(
            whole, frame.timestamp_s, self._ran_s
        )  # a crop does not stop the re-check clock
        self._waited[whole] = 0
        crops = tuple(step.box for step in plan if isinstance(step, Crop))
        if self.motion is not None and self._looked:
            ran_steps = [
                (tile, step)
                for tile, step in zip(self._tiles, plan, strict=True)
                if not isinstance(step, Reuse)
            ]
            self.motion.keep_reference(
                [tile.rect for tile, _ in ran_steps],
                [step.box if isinstance(step, Crop) else None for _, step in ran_steps],
            )
        if self.rate is not None:
            people = int(np.count_nonzero(detections.confidence >= self.score_threshold))
            self.rate.ran(frame.timestamp_s, people)
        self.runs += 1
        self.passes_skipped += sum(isinstance(step, Reuse) for step in plan)
        self.cropped += len(crops)
        return Gated(detections, ran.latency_ms, ran, crops)

    def _small_only(self, found: list[Pass], frame: Frame) -> list[Pass]:
        """Each tile's people less those the whole-frame pass found too (IoU over the detector's
        nms_iou): the tiles are re-used for the people only they find, and the others are found
        afresh by the whole-frame pass, which runs on every frame; re-used, their boxes of an
        earlier frame would stand beside the new ones as a second person."""
        *tiles, whole = found  # a tiling's whole-frame pass comes last (TilePlan.passes)
        if self._tiles[-1] != Tile.whole(*frame.image.shape[1::-1]) or len(whole.xyxy) == 0:
            return found
        return [
            p.rows(sv.box_iou_batch(p.xyxy, whole.xyxy).max(axis=1) <= self.detector.nms_iou)
            if len(p.xyxy)
            else p
            for p in tiles
        ] + [whole]

    def _plan(self, frame: Frame) -> list[Step] | None:
        """Per pass: run it whole, re-use its last people or run a `Crop`; None when no pass
        need run."""
        plan = self._plan_levers(frame)
        if plan is None or self.tiles_every == 1:
            return plan
        self._waited += 1
        whole = Tile.whole(*frame.image.shape[1::-1])
        return [
            Reuse(self._found[i])
            if isinstance(step, Run) and tile != whole and self._waited[i] < self.tiles_every
            else step
            for i, (tile, step) in enumerate(zip(self._tiles, plan, strict=True))
        ]

    def _plan_levers(self, frame: Frame) -> list[Step] | None:
        """`_plan` before the tiles' own rate: motion gating and the adaptive rate."""
        height, width = frame.image.shape[:2]
        tiles = self.detector.passes(width, height)
        regions = [t.rect for t in tiles]
        self._looked = self.motion is not None
        if self._last is None or tiles != self._tiles or frame.timestamp_s < self._ran_s.max():
            self._tiles, self._ran_s = tiles, np.full(len(tiles), frame.timestamp_s)
            self._waited = np.full(len(tiles), self.tiles_every, np.int64)  # every pass runs now
            self._busy_skip = self._skip_left = 0
            if self.motion is not None:
                self.motion.changed_boxes(frame.image, regions)  # its picture, to keep
            return [RUN] * len(tiles)
        if self.rate is not None and not self.rate.due(frame.timestamp_s):
            return None
        if self.motion is None:
            return [RUN] * len(tiles)
        if self._skip_left:  # busy back-off: run whole; the last skipped frame takes a reference
            self._skip_left -= 1
            self.unchecked += 1
            self._looked = not self._skip_left
            if self._looked:
                self.motion.changed_boxes(frame.image, regions)
            return [RUN] * len(tiles)
        recheck = frame.timestamp_s - self._ran_s >= self.recheck_s - 1e-9
        boxes = self.motion.changed_boxes(frame.image, regions)
        still = [box is None and not due for box, due in zip(boxes, recheck, strict=True)]
        if all(still):
            self._busy_skip = 0
            return None
        whole = Tile.whole(width, height)
        plan: list[Step] = [
            Reuse(self._found[i])
            if still[i]  # (a single untiled pass is never still here)
            else RUN
            if box is None or recheck[i] or not self._crop or tile != whole  # tiles run whole (module doc)
            else self._cropped(tile, box, self._found[i], max(width, height))
            for i, (tile, box) in enumerate(zip(tiles, boxes, strict=True))
        ]
        busy = all(isinstance(step, Run) for step in plan) and not recheck.any()
        self._busy_skip = min(2 * self._busy_skip or 1, BUSY_SKIP_MAX) if busy else 0
        self._skip_left = self._busy_skip
        return plan

    def _cropped(self, tile: Tile, box: Rect, last: Pass, frame_px: int) -> Step:
        """A crop of `tile` around `box`, grown until the part of the frame the model sees for
        it holds whole, with a margin, every last person of the pass it touches (they are found
        again there, not cut at its edge), with that pass's people outside it kept; run the
        pass whole when the crop would cover more than `CROP_MAX_SHARE` of the tile."""
        # the pass's people as floats (a frame's few boxes: numpy's calls cost more than the
        # comparisons); the margin is added in float32, the boxes' type, as numpy would
        people = last.xyxy.tolist()
        margin = np.float32(CROP_MARGIN * frame_px)  # context around them too: the model scores a
        most_px = CROP_MAX_SHARE * (tile.x1 - tile.x0) * (tile.y1 - tile.y0)  # person cut by the
        while True:  # crop's edge otherwise than in the frame
            x0, y0, x1, y1 = box = self.detector.region_seen(tile, box)
            if (x1 - x0) * (y1 - y0) > most_px:  # it only grows: a crowded picture ends here
                return RUN
            touches = [
                left < x1 and right > x0 and top < y1 and bottom > y0 for left, top, right, bottom in people
            ]
            if not any(touches):
                return Crop(box, last)
            held = [person for person, touching in zip(people, touches) if touching]
            grown = (
                max(tile.x0, min(x0, math.floor(np.float32(min(p[0] for p in held)) - margin))),
                max(tile.y0, min(y0, math.floor(np.float32(min(p[1] for p in held)) - margin))),
                min(tile.x1, max(x1, math.ceil(np.float32(max(p[2] for p in held)) + margin))),
                min(tile.y1, max(y1, math.ceil(np.float32(max(p[3] for p in held)) + margin))),
            )
            if grown == box:  # it only grows, within the tile: this ends
                return Crop(box, last.rows(~np.array(touches)))
            box = grown
