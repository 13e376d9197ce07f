"""The person model: an onnxruntime session (CPU) that turns a letterbox into boxes.

The model's output layout is read from the output shape, so any model of either family works:
- YOLOX, [1, N, 5 + C]: per anchor point raw `cx, cy, w, h` (xy = (out + grid) * stride,
  wh = exp(out) * stride, strides 8/16/32), objectness and C class scores; score = obj × class;
- Ultralytics YOLOv8/YOLO11, [1, 4 + C, N]: `cx, cy, w, h` in input pixels, then C class scores.
With `letterbox: tight` (the default) the session runs a copy of the model whose input height
and width are left free, so that a letterbox is padded only to the next multiple of 32 px
(`models.letterbox`); a model whose graph cannot take another shape falls back to its square.

A camera's picture work runs on `threads` threads: onnxruntime's, set per session here, and
OpenCV's (letterbox, motion picture), whose count is per process and is set once when the
camera's process starts (`use_threads`).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import onnx
import onnxruntime as ort

from footfall_core.assets import expand
from footfall_core.store import Detector as DetectorConfig
from footfall_core.store import StoreConfig
from models.letterbox import STRIDES
from models.registry import ModelError, find_model

log = logging.getLogger(__name__)

Layout = Literal["yolox", "ultralytics"]
Letterbox = Literal["tight", "square"]


def use_threads(threads: int) -> None:
    """OpenCV's worker threads for this process, once at its start (a camera's process, a replay).
    With its default (every core) its workers spin after each small call, which costs a
    one-thread pipeline with a small model a fifth of its speed."""
    cv2.setNumThreads(threads)


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


class PersonModel:
    """One model file on the CPU. `boxes(canvas, scale)` runs it on a letterbox and gives the
    people in image pixels; `input_size_px` is the side of its square, `tight` whether it takes
    any input shape (tight letterboxes and their crops). People score at least
    `score_threshold`; with `track_score_threshold` under it, boxes down to that score come out
    too (`least_score`), for the tracker to continue people it follows (`edge.tracker.joined`)."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        score_threshold: float = 0.3,
        track_score_threshold: float | None = None,
        nms_iou: float = 0.45,
        threads: int = 1,
        person_class: int = 0,
        letterbox: Letterbox = "tight",
    ) -> None:
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
        self.input_name: str = self._session.get_inputs()[0].name
        self.input_size_px: int = size
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
        # boxes down to here come out, those under score_threshold only to continue a track
        self.least_score = min(score_threshold, track_score_threshold or score_threshold)

    @classmethod
    def from_config(cls, config: DetectorConfig, store: StoreConfig | None = None) -> PersonModel:
        """Build from the config: the model is found and sha256-checked through the registry
        (models_dir resolved against the store config file when given), and must have the
        layout the registry states."""
        models_dir = None
        if config.models_dir is not None:
            models_dir = store.resolve(config.models_dir) if store else expand(config.models_dir)
        found = find_model(config.model, models_dir)
        model = cls(
            found.path,
            score_threshold=config.score_threshold,
            track_score_threshold=config.track_score_threshold,
            nms_iou=config.nms_iou,
            threads=config.threads,
            person_class=found.spec.person_class,
            letterbox=config.letterbox,
        )
        if (model.layout, model.num_classes) != (found.spec.layout, found.spec.num_classes):
            raise ModelError(
                f"model {found.path}: output is {model.layout} with {model.num_classes} "
                f"classes, registry says {found.spec.layout} with {found.spec.num_classes}"
            )
        return model

    def boxes(
        self, blob: np.ndarray, scale: float, offset_px: tuple[int, int] = (0, 0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model on a (1, 3, H, W) letterbox blob (or a stride-aligned crop of one at
        `offset_px`, model px): NMS-ed (M, 4) float32 xyxy in image pixels (model px / `scale`)
        and (M,) float32 scores, down to `least_score`."""
        raw = self._session.run(None, {self.input_name: blob})[0][0]
        if self.layout == "yolox":
            score = raw[:, 4] * raw[:, 5 + self.person_class]
            keep = score >= self.least_score
            raw, score = raw[keep], score[keep]
            grid, stride = yolox_grid(*blob.shape[2:])
            centre = (raw[:, :2] + grid[keep]) * stride[keep]
            size = np.exp(raw[:, 2:4]) * stride[keep]
        else:
            score = raw[4 + self.person_class]
            keep = score >= self.least_score
            boxes, score = raw[:4, keep].T, score[keep]
            centre, size = boxes[:, :2], boxes[:, 2:4]
        if offset_px != (0, 0):
            centre = centre + np.array(offset_px, np.float32)
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1) / scale
        keep = self.nms(xyxy, score)
        return xyxy[keep].astype(np.float32), score[keep].astype(np.float32)

    def nms(self, xyxy: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Indices of the boxes IoU non-maximum suppression keeps (at `nms_iou`)."""
        if len(xyxy) == 0:
            return np.zeros((0,), np.int64)
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        keep = cv2.dnn.NMSBoxes(xywh.tolist(), score.tolist(), self.least_score, self.nms_iou)
        return np.asarray(keep, np.int64).reshape(-1)
