"""Person detection with an ONNX model on the CPU: BGR frame in, `Detections` in image pixels out.

The model's output layout is read from the output shape, so any model of either family works:
- YOLOX, [1, N, 5 + C]: per anchor point raw `cx, cy, w, h` (xy = (out + grid) * stride,
  wh = exp(out) * stride, strides 8/16/32), objectness and C class scores; score = obj × class;
- Ultralytics YOLOv8/YOLO11, [1, 4 + C, N]: `cx, cy, w, h` in input pixels, then C class scores.
Input is a letterbox: the image scaled to fit the model's square, at the top-left, padded with
114, BGR 0–255 float32, NCHW (the convention of the shared models, see their README); padded
to the square, or, `letterbox: tight` (the default), only to the next multiple of 32 px, on a
copy of the model whose input height and width are left free.

Tiling (for small, distant people) runs the model on cols × rows overlapping tiles, each
letterboxed to the model input and so enlarged, optionally plus a full-frame pass, and merges
everything: IoU NMS, then a box cut by an inner tile edge is merged into the box that continues
it across that edge (the same person, seen by the neighbouring tile), so nobody counts twice.
With `small_below_input_px` the tiles cover only the band of image rows where the camera's
calibration puts people too small for a whole-frame pass (far from the camera), and one
whole-frame pass finds the nearer, larger people: fewer passes than tiling the whole frame.
A caller may hand back, per pass (the whole frame when untiled), its people from an earlier
frame instead of running it, or a `Crop`: run the pass on part of its picture only and keep
its earlier people outside that part (motion gating, edge.gating). A crop is a stride-aligned
crop of the pass's own tight letterbox, so people keep the boxes a whole pass gives them;
fresh boxes cut by one of its edges inside the pass are dropped (the model, missing the
context beyond the edge, may score a still thing otherwise there). Everything is merged the
same way.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import onnx
import onnxruntime as ort

from edge.types import Detections
from footfall_core.assets import expand
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Camera, StoreConfig, Tiling
from footfall_core.store import Detector as DetectorConfig
from models.registry import ModelError, find_model

log = logging.getLogger(__name__)

Layout = Literal["yolox", "ultralytics"]
Letterbox = Literal["tight", "square"]
PAD_VALUE = 114
STRIDES = (8, 16, 32)
EDGE_MARGIN_PX = 2.0  # a box this close to (or past) an inner tile edge counts as cut by it
CUT_COVERED = 0.5  # least share of a cut box's area inside the box continuing it across the edge
SAME_SPAN = 0.6  # least share of a cut box's extent along the edge spanned by that box too


def letterbox(image: np.ndarray, size_px: int, tight: bool = False) -> tuple[np.ndarray, float]:
    """(1, 3, H, W) float32 BGR 0–255 blob and the scale applied (model px per image px): the
    image scaled to fit a `size_px` square, at the top-left. Square: padded to the square (the
    model's own input). Tight: padded only up to the next multiple of the largest stride, so a
    4:3 frame becomes 416×320 instead of 416×416 and the model runs on image, not padding."""
    canvas, scale = letterbox_image(image, size_px, tight)
    return as_blob(canvas), scale


def letterbox_image(image: np.ndarray, size_px: int, tight: bool = False) -> tuple[np.ndarray, float]:
    """`letterbox` as a BGR uint8 (H, W, 3) image, from which a crop can be taken."""
    height, width = image.shape[:2]
    scale = min(size_px / height, size_px / width)
    resized_w, resized_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas_h, canvas_w = (_stride_ceil(resized_h), _stride_ceil(resized_w)) if tight else (size_px, size_px)
    canvas = np.full((canvas_h, canvas_w, 3), PAD_VALUE, np.uint8)
    # bilinear, as the models' own letterboxes (YOLOX's preproc, Ultralytics' LetterBox): area
    # sampling cost 2.4 ms a 768x576 frame, 15 % of YOLOX's pass, and bought no accuracy
    # (docs/performance.md, section 10)
    canvas[:resized_h, :resized_w] = cv2.resize(image, (resized_w, resized_h), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


def as_blob(canvas: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) float32 model input of a BGR uint8 (H, W, 3) letterbox."""
    return canvas.transpose(2, 0, 1)[None].astype(np.float32)


def _stride_ceil(length_px: int) -> int:
    return -(-length_px // STRIDES[-1]) * STRIDES[-1]


def _stride_box(region: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    """An image region (px, end exclusive) in letterbox px at `scale`, widened to the largest
    stride on every side (a crop of the letterbox that keeps its anchor grid)."""
    x0, y0, x1, y1 = region
    stride = STRIDES[-1]
    return (
        int(x0 * scale) // stride * stride,
        int(y0 * scale) // stride * stride,
        _stride_ceil(math.ceil(x1 * scale)),
        _stride_ceil(math.ceil(y1 * scale)),
    )


@lru_cache(maxsize=8)
def yolox_grid(height_px: int, width_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor-point grid (N, 2) in cells and stride (N, 1) in input px, YOLOX output order (per
    stride, row by row), for an input of `height_px` × `width_px`; cached per input shape."""
    grids, strides = [], []
    for stride in STRIDES:
        rows, cols = height_px // stride, width_px // stride
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((rows * cols, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def flexible_session(
    model_path: Path, options: ort.SessionOptions
) -> tuple[ort.InferenceSession, int] | None:
    """A session of a square-input model with its input height and width left free, for tight
    letterboxes, and the square's side (px). None when the file is no such model (the plain
    session says why) or, with a warning, when its graph cannot take another shape (a reshape
    fixed to the square's anchor count, say): checked on an input one stride shorter."""
    try:
        model = onnx.load(str(model_path))
        dims = model.graph.input[0].type.tensor_type.shape.dim
    except Exception:  # onnx raises its own types; not a model: the plain session says why
        return None
    size_px = dims[-1].dim_value if len(dims) == 4 else 0
    if size_px <= 0 or dims[-2].dim_value != size_px:
        return None
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    del model.graph.value_info[:]  # shapes inferred for the square input
    for output in model.graph.output:
        output.type.tensor_type.ClearField("shape")
    graph, height = model.SerializeToString(), size_px - STRIDES[-1]
    del model
    try:
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        blank = np.zeros((1, 3, height, size_px), np.float32)
        shape = session.run(None, {session.get_inputs()[0].name: blank})[0].shape
    except Exception as exc:  # onnxruntime raises its own exception types
        log.warning(
            "model %s: its input shape cannot change (%s): letterbox 'tight' falls back to 'square'",
            model_path,
            str(exc).splitlines()[0],
        )
        return None
    anchors = sum((height // s) * (size_px // s) for s in STRIDES)
    if anchors not in shape[1:]:
        log.warning(
            "model %s: a %dx%d input gives output %s, not %d anchor points: letterbox 'tight' falls "
            "back to 'square'",
            model_path,
            size_px,
            height,
            list(shape),
            anchors,
        )
        return None
    return session, size_px


def detect_layout(
    output_shape: tuple[int, ...], size_px: int, height_px: int | None = None
) -> tuple[Layout, int]:
    """The layout and class count of a [1, A, B] output for an input of `size_px` square, or
    `height_px` high and `size_px` wide."""
    anchors = sum(((height_px or size_px) // s) * (size_px // s) for s in STRIDES)
    if len(output_shape) == 3 and output_shape[0] == 1:
        _, a, b = output_shape
        if a == anchors and b >= 6:
            return "yolox", b - 5
        if b == anchors and a >= 5:
            return "ultralytics", a - 4
    raise ModelError(
        f"unrecognised output shape {list(output_shape)} for input {size_px}px: expected "
        f"YOLOX [1, {anchors}, 5+C] or Ultralytics [1, 4+C, N]"
    )


@dataclass(frozen=True)
class Tile:
    """A crop of the frame, in image pixels: x0, y0 inclusive, x1, y1 exclusive; `inner` tells
    which of its edges (left, top, right, bottom) lie inside the frame, next to another tile."""

    x0: int
    y0: int
    x1: int
    y1: int
    inner: tuple[bool, bool, bool, bool]

    @staticmethod
    def whole(width_px: int, height_px: int) -> Tile:
        """The whole frame, as the one pass of an untiled detector or a tiling's whole-frame pass."""
        return Tile(0, 0, width_px, height_px, (False, False, False, False))


@dataclass(frozen=True)
class Pass:
    """One model pass's people before merging, in image pixels: (M, 4) xyxy, (M,) scores, and
    (M, 4) the image coordinate of each inner tile edge (left, top, right, bottom) that cuts
    a box, NaN where none does."""

    xyxy: np.ndarray
    score: np.ndarray
    cut_edges: np.ndarray

    def rows(self, which: np.ndarray) -> Pass:
        return Pass(self.xyxy[which], self.score[which], self.cut_edges[which])

    @staticmethod
    def join(first: Pass, second: Pass) -> Pass:
        return Pass(
            np.concatenate([first.xyxy, second.xyxy]),
            np.concatenate([first.score, second.score]),
            np.concatenate([first.cut_edges, second.cut_edges]),
        )


@dataclass(frozen=True)
class Crop:
    """Run a pass on `box` of its picture only (image px, end exclusive, as `region_seen` gives
    it) and keep `kept`, its people found earlier outside it."""

    box: tuple[int, int, int, int]
    kept: Pass


def make_tiles(
    width_px: int, height_px: int, tiling: Tiling, rows_px: tuple[int, int] | None = None
) -> list[Tile]:
    """cols × rows tiles covering the frame, or only its rows [y0, y1) = `rows_px`, neighbours
    overlapping by `overlap` of a tile. A band's edges inside the frame count as inner edges: a
    person cut there is whole in the whole-frame pass."""
    top_px, bottom_px = rows_px or (0, height_px)
    tiles = []
    spans = []
    for count, start, length in ((tiling.cols, 0, width_px), (tiling.rows, top_px, bottom_px - top_px)):
        tile = length / (count - (count - 1) * tiling.overlap)
        step = tile * (1 - tiling.overlap)
        spans.append(
            [(start + round(i * step), start + min(length, round(i * step + tile))) for i in range(count)]
        )
    for row, (y0, y1) in enumerate(spans[1]):
        for col, (x0, x1) in enumerate(spans[0]):
            inner = (
                col > 0,
                row > 0 or y0 > 0,
                col < tiling.cols - 1,
                row < tiling.rows - 1 or y1 < height_px,
            )
            tiles.append(Tile(x0, y0, x1, y1, inner))
    return tiles


def person_height_px(
    geometry: CameraGeometry, width_px: int, height_px: int, person_height_m: float
) -> np.ndarray:
    """(height_px,) expected height in image px of a person standing with their feet on each
    image row: `person_height_m` × the floor's px per metre along that row, at the centre column.
    Seen by a camera without roll, a floor line along an image row keeps its distance to the
    camera, and an upright person looks as tall as that scale says, times the cosine of the
    camera's tilt (so the estimate is 4 % too tall at 15° down, 13 % at 30°). Rows at or above
    the horizon, where nobody's feet can be, get 0."""
    rows = np.arange(height_px) + 0.5  # pixel centres
    left = geometry.image_to_floor(np.stack([np.full(height_px, width_px / 2 - 0.5), rows], axis=1))
    right = geometry.image_to_floor(np.stack([np.full(height_px, width_px / 2 + 0.5), rows], axis=1))
    metres_per_px = np.linalg.norm(right - left, axis=1)
    return np.nan_to_num(person_height_m / metres_per_px, nan=0.0)


def small_people_rows(
    heights_px: np.ndarray, scale: float, small_below_input_px: float
) -> tuple[int, int] | None:
    """Rows [y0, y1) spanning every row whose `heights_px` (person height by row, image px) is
    under `small_below_input_px` once scaled by `scale` (model input px per image px of a
    whole-frame pass); None when no row is."""
    small = np.flatnonzero(heights_px * scale < small_below_input_px)
    return (int(small[0]), int(small[-1]) + 1) if len(small) else None


class Detector:
    """An onnxruntime session (CPU) for one model. Call it on a BGR image to get the people in
    it. `last_latency_ms` is the wall time of the last call (all tiles), for health reports;
    `last_passes` its number of model passes run, `last_found` its people per pass (of
    `pass_tiles`, to re-use later), `passes_run` the model passes since it was built.
    `geometry` (the camera's calibration) is needed by `tiling.small_below_input_px` only."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        score_threshold: float = 0.3,
        nms_iou: float = 0.45,
        threads: int = 1,
        person_class: int = 0,
        tiling: Tiling | None = None,
        geometry: CameraGeometry | None = None,
        letterbox: Letterbox = "tight",
    ):
        if tiling is not None and tiling.small_below_input_px is not None and geometry is None:
            raise ValueError("tiling.small_below_input_px needs the camera's calibration (geometry)")
        # A camera's picture work runs on `threads` threads: onnxruntime's and OpenCV's (letterbox,
        # motion picture). OpenCV's count is per process, as each camera is: with its default (every
        # core) its workers spin after each small call, which cost a 2 ms model's pipeline 20 %
        # (docs/performance.md, section 11).
        cv2.setNumThreads(threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.model_path = Path(model_path)
        flexible = flexible_session(self.model_path, options) if letterbox == "tight" else None
        self.tight = flexible is not None
        if flexible is not None:
            self._session, size = flexible
        else:
            try:
                self._session = ort.InferenceSession(
                    str(model_path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ModelError(f"model {model_path}: onnxruntime cannot load it: {exc}") from None
            shape = self._session.get_inputs()[0].shape
            size = shape[-1]
            if not isinstance(size, int) or shape[-2] != size:
                raise ModelError(f"model {model_path}: input {shape} is not a fixed square")
        self.input_name, self.input_size_px = self._session.get_inputs()[0].name, size
        # a tight session warms up one stride short of the square (as flexible_session checked
        # it), so that onnxruntime's arena does not grow to a square it will not run
        height = size - STRIDES[-1] if self.tight else size
        warm_up = self._session.run(None, {self.input_name: np.zeros((1, 3, height, size), np.float32)})[0]
        self.layout, self.num_classes = detect_layout(warm_up.shape, size, height)
        if not 0 <= person_class < self.num_classes:
            raise ModelError(
                f"model {model_path}: person class {person_class} but {self.num_classes} classes"
            )
        self.person_class = person_class
        self.score_threshold, self.nms_iou = score_threshold, nms_iou
        self.tiling, self.geometry = tiling, geometry
        self._tiles: dict[tuple[int, int], list[Tile]] = {}
        self.last_latency_ms = 0.0
        self.last_passes = self.passes_run = 0
        self.input_px_run = 0  # model input pixels of every pass run (crops run on fewer)
        self.last_found: list[Pass] = []

    @classmethod
    def from_config(
        cls,
        config: DetectorConfig,
        tiling: Tiling | None = None,
        store: StoreConfig | None = None,
        geometry: CameraGeometry | None = None,
    ) -> Detector:
        """Build from the config: the model is found and sha256-checked through the registry
        (models_dir resolved against the store config file when given), and must have the
        layout the registry states."""
        models_dir = None
        if config.models_dir is not None:
            models_dir = store.resolve(config.models_dir) if store else expand(config.models_dir)
        found = find_model(config.model, models_dir)
        detector = cls(
            found.path,
            score_threshold=config.score_threshold,
            nms_iou=config.nms_iou,
            threads=config.threads,
            person_class=found.spec.person_class,
            tiling=tiling,
            geometry=geometry,
            letterbox=config.letterbox,
        )
        if (detector.layout, detector.num_classes) != (found.spec.layout, found.spec.num_classes):
            raise ModelError(
                f"model {found.path}: output is {detector.layout} with {detector.num_classes} "
                f"classes, registry says {found.spec.layout} with {found.spec.num_classes}"
            )
        return detector

    @classmethod
    def for_camera(cls, camera: Camera, store: StoreConfig) -> Detector:
        """The camera's detector: its own settings or the store's, with its tiling (and its
        calibration when the tiling needs it)."""
        band = camera.tiling is not None and camera.tiling.small_below_input_px is not None
        geometry = CameraGeometry.from_config(camera) if band else None
        return cls.from_config(store.detector_for(camera), camera.tiling, store, geometry)

    def __call__(self, image: np.ndarray, reuse: Sequence[Pass | Crop | None] | None = None) -> Detections:
        """People in a BGR uint8 (H, W, 3) image; boxes in its pixels, clipped to it. `reuse`
        gives, per pass of `pass_tiles`, people found earlier to take instead of running that
        pass, or a `Crop` of it to run (None: run it whole); by default every pass runs whole."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR image, shape (H, W, 3) uint8, got {image.shape} {image.dtype}")
        started = time.perf_counter()
        self.last_passes = 0
        height, width = image.shape[:2]
        tiles = self.pass_tiles(width, height)
        if reuse is None:
            reuse = [None] * len(tiles)
        if len(reuse) != len(tiles):
            raise ValueError(f"reuse has {len(reuse)} passes, a {width}x{height} px frame gets {len(tiles)}")
        self.last_found = [
            self._pass(image, tile)
            if known is None
            else self._crop_pass(image, tile, known)
            if isinstance(known, Crop)
            else known
            for tile, known in zip(tiles, reuse, strict=True)
        ]
        if self.tiling is None:
            xyxy, score = self.last_found[0].xyxy, self.last_found[0].score
        else:
            xyxy, score = self._merge(self.last_found)
        xyxy = xyxy.clip(0, np.array([width, height, width, height], np.float32))  # a copy: passes are kept
        self.last_latency_ms = (time.perf_counter() - started) * 1000
        return Detections(xyxy, score)

    def region_seen(self, tile: Tile, region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """The part of `tile` (a pass of `pass_tiles`) that a `Crop` of `region` (image px, end
        exclusive, inside the tile) shows the model: the region widened to the model's largest
        stride in the tile's letterbox, in whole image px (so that it comes back unchanged)."""
        x0, y0, x1, y1 = region
        if not (tile.x0 <= x0 < x1 <= tile.x1 and tile.y0 <= y0 < y1 <= tile.y1):
            raise ValueError(
                f"region {region} is not inside the pass over {(tile.x0, tile.y0, tile.x1, tile.y1)}"
            )
        width, height = tile.x1 - tile.x0, tile.y1 - tile.y0
        scale = min(self.input_size_px / height, self.input_size_px / width)
        left, top, right, bottom = _stride_box(
            (x0 - tile.x0, y0 - tile.y0, x1 - tile.x0, y1 - tile.y0), scale
        )
        return (
            tile.x0 + math.ceil(left / scale),
            tile.y0 + math.ceil(top / scale),
            tile.x0 + min(width, math.floor(right / scale)),
            tile.y0 + min(height, math.floor(bottom / scale)),
        )

    def _run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One model pass: NMS-ed (M, 4) xyxy in `image` pixels and (M,) scores."""
        return self._infer(*letterbox_image(image, self.input_size_px, self.tight))

    def _infer(
        self, canvas: np.ndarray, scale: float, offset_px: tuple[int, int] = (0, 0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model on a letterbox (or a stride-aligned crop of one at `offset_px`, model px):
        NMS-ed (M, 4) xyxy in image pixels (model px / `scale`) and (M,) scores."""
        blob = as_blob(canvas)
        self.input_px_run += blob.shape[2] * blob.shape[3]
        raw = self._session.run(None, {self.input_name: blob})[0][0]
        self.last_passes += 1
        self.passes_run += 1
        if self.layout == "yolox":
            score = raw[:, 4] * raw[:, 5 + self.person_class]
            keep = score >= self.score_threshold
            raw, score = raw[keep], score[keep]
            grid, stride = yolox_grid(*blob.shape[2:])
            centre = (raw[:, :2] + grid[keep]) * stride[keep]
            size = np.exp(raw[:, 2:4]) * stride[keep]
        else:
            score = raw[4 + self.person_class]
            keep = score >= self.score_threshold
            boxes, score = raw[:4, keep].T, score[keep]
            centre, size = boxes[:, :2], boxes[:, 2:4]
        if offset_px != (0, 0):
            centre = centre + np.array(offset_px, np.float32)
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1) / scale
        keep = self._nms(xyxy, score)
        return xyxy[keep].astype(np.float32), score[keep].astype(np.float32)

    def _nms(self, xyxy: np.ndarray, score: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0,), np.int64)
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        keep = cv2.dnn.NMSBoxes(xywh.tolist(), score.tolist(), self.score_threshold, self.nms_iou)
        return np.asarray(keep, np.int64).reshape(-1)

    def tiles(self, width_px: int, height_px: int) -> list[Tile]:
        """The tiles for frames of this size (worked out once per size)."""
        size = (width_px, height_px)
        if size not in self._tiles:
            small_below = self.tiling.small_below_input_px
            if small_below is None:
                self._tiles[size] = make_tiles(width_px, height_px, self.tiling)
            else:
                heights = person_height_px(self.geometry, width_px, height_px, self.tiling.person_height_m)
                scale = min(self.input_size_px / width_px, self.input_size_px / height_px)
                rows = small_people_rows(heights, scale, small_below)
                self._tiles[size] = make_tiles(width_px, height_px, self.tiling, rows) if rows else []
                log.info(
                    "camera %s: %d tiles over image rows %s (people under %g model px in a "
                    "whole-frame pass), plus the whole frame",
                    self.geometry.camera,
                    len(self._tiles[size]),
                    rows,
                    small_below,
                )
        return self._tiles[size]

    def pass_tiles(self, width_px: int, height_px: int) -> list[Tile]:
        """The model passes a frame of this size gets, as the tiles they see: `tiles`, then the
        whole frame (a tile without inner edges) when the tiling has that pass; without tiling
        the whole frame alone."""
        whole = Tile.whole(width_px, height_px)
        if self.tiling is None:
            return [whole]
        tiles = self.tiles(width_px, height_px)
        if self.tiling.full_frame or self.tiling.small_below_input_px is not None:
            return [*tiles, whole]
        return tiles

    def _pass(self, image: np.ndarray, tile: Tile, region: tuple[int, int, int, int] | None = None) -> Pass:
        """One model pass over `tile` of `image` (or over `region` of it only: a stride-aligned
        crop of the tile's letterbox, the same pixels on the same anchor grid), boxes moved to
        image pixels, with the inner tile edges cutting them."""
        picture = image[tile.y0 : tile.y1, tile.x0 : tile.x1]
        if region is None:
            xyxy, score = self._run(picture)
        else:
            if not self.tight:
                raise ValueError(f"model {self.model_path}: a crop needs letterbox 'tight'")
            canvas, scale = letterbox_image(picture, self.input_size_px, tight=True)
            x0, y0, x1, y1 = region
            left, top, right, bottom = _stride_box(
                (x0 - tile.x0, y0 - tile.y0, x1 - tile.x0, y1 - tile.y0), scale
            )
            xyxy, score = self._infer(canvas[top:bottom, left:right], scale, (left, top))
        if (tile.x0, tile.y0) == (0, 0) and not any(tile.inner):  # the whole frame, on every untiled call
            return Pass(xyxy, score, np.full((len(xyxy), 4), np.nan, np.float32))
        xyxy += np.array([tile.x0, tile.y0, tile.x0, tile.y0], np.float32)
        edges = np.array([tile.x0, tile.y0, tile.x1, tile.y1], np.float32)
        cut = edges_cutting(xyxy, edges, tile.inner)
        return Pass(xyxy, score, np.where(cut, edges, np.nan).astype(np.float32))

    def _crop_pass(self, image: np.ndarray, tile: Tile, crop: Crop) -> Pass:
        """The pass over `tile` run on `crop.box` only, its fresh people whole inside it (those
        cut by one of its edges inside the tile dropped), and `crop.kept`."""
        seen = self.region_seen(tile, crop.box)
        fresh = self._pass(image, tile, seen)
        x0, y0, x1, y1 = seen
        inner = (x0 > tile.x0, y0 > tile.y0, x1 < tile.x1, y1 < tile.y1)
        cut = edges_cutting(fresh.xyxy, np.array(seen, np.float32), inner).any(axis=1)
        return Pass.join(fresh.rows(~cut) if cut.any() else fresh, crop.kept)

    def _merge(self, passes: list[Pass]) -> tuple[np.ndarray, np.ndarray]:
        """All passes' people as one: NMS, then the pieces cut by tile edges joined."""
        xyxy = np.concatenate([p.xyxy for p in passes])
        score = np.concatenate([p.score for p in passes])
        cut_edges = np.concatenate([p.cut_edges for p in passes])
        keep = self._nms(xyxy, score)
        return merge_cut_boxes(xyxy[keep], score[keep], cut_edges[keep])


def edges_cutting(xyxy: np.ndarray, edges: np.ndarray, inner: Sequence[bool]) -> np.ndarray:
    """(M, 4) bool: which inner edges (left, top, right, bottom; `edges` their image
    coordinates) of a crop cut each of its (M, 4) xyxy boxes, i.e. the box reaches to within
    EDGE_MARGIN_PX of the edge or past it (a model's box may reach past the crop)."""
    at_edge = np.concatenate(
        [xyxy[:, :2] <= edges[:2] + EDGE_MARGIN_PX, xyxy[:, 2:] >= edges[2:] - EDGE_MARGIN_PX], axis=1
    )
    return at_edge & np.array(inner)


def merge_cut_boxes(
    xyxy: np.ndarray, score: np.ndarray, cut_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Join the pieces of people cut by tile edges; returns the remaining (xyxy, score).

    `cut_edges` (M, 4) holds, per box, the image coordinate of each tile edge (left, top, right,
    bottom) that cuts it, NaN where none does. Another box continues a cut box when it crosses
    that edge (reaches past it and into the cut box), covers >= CUT_COVERED of the cut box's
    area and >= SAME_SPAN of its extent along the edge: the same person, seen beyond the edge by
    a neighbouring tile. Pieces are taken smallest first and merged into their continuation (box
    union, higher score), so a person split between tiles becomes one whole box. Overlap alone
    is not enough: in a crowd, a partly hidden person's box lies largely inside the box of the
    person in front, and must stay."""
    xyxy, score = xyxy.copy(), score.copy()
    alive = np.ones(len(xyxy), bool)
    area = np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)
    for i in np.argsort(area):
        sides = np.flatnonzero(~np.isnan(cut_edges[i]))
        if len(sides) == 0:
            continue
        overlap = np.minimum(xyxy[:, 2:], xyxy[i, 2:]) - np.maximum(xyxy[:, :2], xyxy[i, :2])
        overlap = np.clip(overlap, 0, None)  # (M, 2) px shared with box i along x and y
        covered = overlap.prod(axis=1) / max(area[i], 1e-6)
        continues = np.zeros(len(xyxy), bool)
        for side in sides:
            axis, edge = side % 2, float(cut_edges[i, side])  # axis 0: left/right edge (x), 1: top/bottom (y)
            lo, hi = xyxy[:, axis], xyxy[:, axis + 2]
            crosses = (lo < edge - EDGE_MARGIN_PX) & (hi > edge + EDGE_MARGIN_PX)
            along = 1 - axis
            same_span = overlap[:, along] / max(xyxy[i, along + 2] - xyxy[i, along], 1e-6) >= SAME_SPAN
            continues |= crosses & same_span
        continues &= alive & (covered >= CUT_COVERED)
        continues[i] = False
        if continues.any():
            j = int(np.argmax(np.where(continues, covered, -1.0)))
            xyxy[j, :2] = np.minimum(xyxy[j, :2], xyxy[i, :2])
            xyxy[j, 2:] = np.maximum(xyxy[j, 2:], xyxy[i, 2:])
            score[j] = max(score[j], score[i])
            alive[i] = False
    return xyxy[alive], score[alive]
