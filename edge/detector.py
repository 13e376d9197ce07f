"""Person detection: a BGR frame in, the people in it (image pixels) out, as one `Detected`.

A detector is a person model (`edge.model`) and the camera's tile plan (`edge.tiles`): each
frame gets the plan's model passes (the whole frame when untiled), each on its own letterbox
(`models.letterbox`), and their people are merged into one set (`edge.merge`).

A caller may say, per pass, what to do instead of running it whole (`Step`): `Reuse` its people
from an earlier frame, or run it on part of its picture only, keeping its earlier people outside
that part (`Crop`; motion gating, `edge.gating`). A crop is a stride-aligned crop of the pass's
own tight letterbox, so people keep the boxes a whole pass gives them; fresh boxes cut by one of
its edges inside the pass are dropped (the model, missing the context beyond the edge, may score
a still thing otherwise there). Everything is merged the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.merge import Pass, edges_cutting, merge
from edge.model import PersonModel
from edge.tiles import TilePlan
from edge.types import Detections
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Camera, StoreConfig, Tiling
from footfall_core.tiling import Tile
from models.letterbox import Rect, as_blob, letterbox_crop, letterbox_image, stride_box


@dataclass(frozen=True)
class Run:
    """Run the pass over its whole picture."""


RUN = Run()


@dataclass(frozen=True)
class Reuse:
    """Take the pass's people found on an earlier frame instead of running it."""

    found: Pass


@dataclass(frozen=True)
class Crop:
    """Run the pass on `box` of its picture only (image px, end exclusive, as `region_seen`
    gives it) and keep `kept`, its people found earlier outside it."""

    box: Rect
    kept: Pass


Step = Run | Reuse | Crop


@dataclass(frozen=True)
class Detected:
    """What one detector call found. `passes` are, per pass of the frame, its people before
    merging (a re-used pass's own `Pass`), to hand back later; `passes_run` the model passes run
    (whole or cropped) and `input_px` their model input pixels; `latency_ms` the call's wall
    time (all passes and the merge), for health reports."""

    detections: Detections
    passes: tuple[Pass, ...]
    passes_run: int
    input_px: int
    latency_ms: float


class Detector:
    """A person model over a camera's tile plan; call it on a BGR image. `passes_run` and
    `input_px_run` are running totals of the model passes run and their input pixels since it
    was built (for benchmarks)."""

    def __init__(self, model: PersonModel, tiles: TilePlan | None = None) -> None:
        self.model = model
        self.tiles = tiles if tiles is not None else TilePlan(None, model.input_size_px)
        self.passes_run = 0
        self.input_px_run = 0

    @classmethod
    def load(
        cls,
        model_path: Path | str,
        *,
        tiling: Tiling | None = None,
        geometry: CameraGeometry | None = None,
        **options: Any,
    ) -> Detector:
        """A detector of a model file (`options` are `PersonModel`'s) over `tiling`."""
        model = PersonModel(model_path, **options)
        return cls(model, TilePlan(tiling, model.input_size_px, geometry))

    @classmethod
    def for_camera(
        cls, camera: Camera, store: StoreConfig, geometry: CameraGeometry | None = None
    ) -> Detector:
        """The camera's detector: its own settings or the store's, with its tiling, planned
        from its calibration (`geometry`, or read from the camera's config when not given)."""
        model = PersonModel.from_config(store.detector_for(camera), store)
        band = camera.tiling is not None and camera.tiling.small_below_input_px is not None
        if band and geometry is None:
            geometry = CameraGeometry.from_config(camera)
        return cls(model, TilePlan(camera.tiling, model.input_size_px, geometry if band else None))

    @property
    def tiled(self) -> bool:
        return self.tiles.tiled

    @property
    def can_crop(self) -> bool:
        """Whether a pass can run on a crop (the model takes any input shape)."""
        return self.model.tight

    @property
    def nms_iou(self) -> float:
        return self.model.nms_iou

    @property
    def model_path(self) -> Path:
        return self.model.model_path

    def passes(self, width_px: int, height_px: int) -> tuple[Tile, ...]:
        """The model passes a frame of this size gets, as the tiles they see (`TilePlan.passes`)."""
        return self.tiles.passes(width_px, height_px)

    def __call__(self, image: np.ndarray, steps: Sequence[Step] | None = None) -> Detected:
        """People in a BGR uint8 (H, W, 3) image; boxes in its pixels, clipped to it. `steps`
        says per pass of `passes` what to do (default: run every pass whole)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR image, shape (H, W, 3) uint8, got {image.shape} {image.dtype}")
        started = time.perf_counter()
        height, width = image.shape[:2]
        tiles = self.passes(width, height)
        if steps is None:
            steps = [RUN] * len(tiles)
        if len(steps) != len(tiles):
            raise ValueError(f"steps has {len(steps)} passes, a {width}x{height} px frame gets {len(tiles)}")
        found: list[Pass] = []
        input_px = 0
        for tile, step in zip(tiles, steps, strict=True):
            if isinstance(step, Reuse):
                found.append(step.found)
                continue
            fresh, px = (
                self._pass(image, tile) if isinstance(step, Run) else self._crop_pass(image, tile, step)
            )
            found.append(fresh)
            input_px += px
        passes_run = sum(not isinstance(step, Reuse) for step in steps)
        self.passes_run += passes_run
        self.input_px_run += input_px
        if self.tiles.tiled:
            xyxy, score = merge(found, self.model.nms)
        else:
            xyxy, score = found[0].xyxy, found[0].score
        xyxy = xyxy.clip(0, np.array([width, height, width, height], np.float32))  # a copy: passes are kept
        latency_ms = (time.perf_counter() - started) * 1000
        return Detected(Detections(xyxy, score), tuple(found), passes_run, input_px, latency_ms)

    def region_seen(self, tile: Tile, region: Rect) -> Rect:
        """The part of `tile` (a pass of `passes`) that a `Crop` of `region` (image px, end
        exclusive, inside the tile) shows the model: the region widened to the model's largest
        stride in the tile's letterbox, in whole image px (so that it comes back unchanged)."""
        x0, y0, x1, y1 = region
        if not (tile.x0 <= x0 < x1 <= tile.x1 and tile.y0 <= y0 < y1 <= tile.y1):
            raise ValueError(f"region {region} is not inside the pass over {tile.rect}")
        width, height = tile.x1 - tile.x0, tile.y1 - tile.y0
        size = self.model.input_size_px
        scale = min(size / height, size / width)
        left, top, right, bottom = stride_box((x0 - tile.x0, y0 - tile.y0, x1 - tile.x0, y1 - tile.y0), scale)
        return (
            tile.x0 + math.ceil(left / scale),
            tile.y0 + math.ceil(top / scale),
            tile.x0 + min(width, math.floor(right / scale)),
            tile.y0 + min(height, math.floor(bottom / scale)),
        )

    def _infer(
        self, canvas: np.ndarray, scale: float, offset_px: tuple[int, int] = (0, 0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model on a letterbox (or a stride-aligned crop of one at `offset_px`, model px):
        NMS-ed (M, 4) xyxy in image pixels and (M,) scores."""
        return self.model.boxes(as_blob(canvas), scale, offset_px)

    def _pass(self, image: np.ndarray, tile: Tile, region: Rect | None = None) -> tuple[Pass, int]:
        """One model pass over `tile` of `image` (or over `region` of it only: a stride-aligned
        crop of the tile's letterbox, the same pixels on the same anchor grid), boxes moved to
        image pixels, with the inner tile edges cutting them; and its model input pixels."""
        picture = image[tile.y0 : tile.y1, tile.x0 : tile.x1]
        model = self.model
        if region is None:
            canvas, scale = letterbox_image(picture, model.input_size_px, model.tight)
            offset_px = (0, 0)
        else:
            if not model.tight:
                raise ValueError(f"model {model.model_path}: a crop needs letterbox 'tight'")
            x0, y0, x1, y1 = region
            canvas, scale, offset_px = letterbox_crop(
                picture, model.input_size_px, (x0 - tile.x0, y0 - tile.y0, x1 - tile.x0, y1 - tile.y0)
            )
        xyxy, score = self._infer(canvas, scale, offset_px)
        input_px = canvas.shape[0] * canvas.shape[1]
        if (tile.x0, tile.y0) == (0, 0) and not any(tile.inner):  # the whole frame, on every untiled call
            return Pass(xyxy, score, np.full((len(xyxy), 4), np.nan, np.float32)), input_px
        xyxy += np.array([tile.x0, tile.y0, tile.x0, tile.y0], np.float32)
        edges = np.array(tile.rect, np.float32)
        cut = edges_cutting(xyxy, edges, tile.inner)
        return Pass(xyxy, score, np.where(cut, edges, np.nan).astype(np.float32)), input_px

    def _crop_pass(self, image: np.ndarray, tile: Tile, crop: Crop) -> tuple[Pass, int]:
        """The pass over `tile` run on `crop.box` only, its fresh people whole inside it (those
        cut by one of its edges inside the tile dropped), and `crop.kept`."""
        seen = self.region_seen(tile, crop.box)
        fresh, input_px = self._pass(image, tile, seen)
        x0, y0, x1, y1 = seen
        inner = (x0 > tile.x0, y0 > tile.y0, x1 < tile.x1, y1 < tile.y1)
        cut = np.any(edges_cutting(fresh.xyxy, np.array(seen, np.float32), inner), axis=1)
        return Pass.join(fresh.rows(~cut) if cut.any() else fresh, crop.kept), input_px
