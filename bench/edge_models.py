"""INT8 quantization and batched inference of the registered detectors, measured: one
onnxruntime thread, frames per CPU second (time.process_time).

1. INT8: each model is quantized (`models.quantize`) in several ways, calibrated on the first
   half of PETS09 and the second half of Mall (`models.footage`), and run by the project's
   `Detector` on held-out frames: PETS09 frames 400-794 whole (score >= 0.3) and Mall frames
   1-400 in 2×2 tiles (score >= 0.1, the committed examples' settings). Printed per variant:
   frames/s and speed-up against the float model; recall and precision at IoU 0.5 against the
   float model's boxes and against the PETS09 ground-truth boxes; Mall head-count MAE and bias
   (boxes whose head point, 10 % down the box, lies in roi_mask.png, against counts.csv).
2. Batching: a dynamic-batch copy (`models.batch`) of each model and of its default INT8 copy,
   checked to give the batch-1 model's outputs on real inputs, then per-image CPU ms at batch 1,
   2, 4 and 8 (N cameras' frames in one call) and Mall's 4 tiles of a frame as one batch-4 call
   instead of 4 calls, against the batch-1 model.

Run `.venv/bin/python bench/edge_models.py [--out DIR] [--quick]`.
Generated models go to --out (default a temporary directory, deleted afterwards); their sha256
are printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.detector import Detector
from edge.model import use_threads
from edge.types import Detections
from footfall_core.assets import assets_dir
from models.batch import write_batched
from models.evaluate import recall_precision
from models.footage import (
    MALL_SPLIT,
    MALL_TILING,
    PETS_SPLIT,
    calibration_blobs,
    mall_frames,
    pets09_frames,
    tile_crops,
)
from models.letterbox import letterbox
from models.quantize import QuantizeOptions, quantize
from models.registry import MODELS, file_sha256, find_model
from tests.gt import pets09_gt

VARIANTS = (  # the first is the plainest: per tensor, everything in INT8
    QuantizeOptions(per_channel=False, float_convs=0),
    QuantizeOptions(float_convs=0),
    QuantizeOptions(float_convs=0, float_head=True),
    QuantizeOptions(),  # the default: per channel, stem in float
    QuantizeOptions(float_head=True),
    QuantizeOptions(format="qoperator"),
    QuantizeOptions(calibration="percentile"),
    QuantizeOptions(calibration="entropy"),
)
PETS_SCORE, MALL_SCORE = 0.3, 0.1  # examples/pets09.yaml, examples/mall.yaml
BATCHES = (1, 2, 4, 8)


@dataclass(frozen=True)
class Footage:
    """Held-out frames and their ground truth."""

    pets: list[np.ndarray]
    pets_gt: list[np.ndarray]  # per frame, (K, 4) xyxy of the annotated people
    mall: list[np.ndarray]
    mall_counts: np.ndarray  # people per Mall frame (counts.csv)
    roi: np.ndarray  # (480, 640) bool, roi_mask.png


def load_footage(pets_step: int, mall_step: int) -> Footage:
    root = assets_dir() / "datasets"
    indices = range(PETS_SPLIT, 795, pets_step)
    pets = [frame for _, frame in pets09_frames(indices)]
    gt = pets09_gt(assets_dir())
    pets_gt = []
    for index in indices[: len(pets)]:
        rows = gt[gt["frame"] == index + 1]
        pets_gt.append(np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1))
    numbers = range(1, MALL_SPLIT + 1, mall_step)
    mall = [frame for _, frame in mall_frames(numbers)]
    counts = dict(np.loadtxt(root / "mall_dev/counts.csv", delimiter=",", skiprows=1).astype(int))
    roi = cv2.imread(str(root / "mall_dev/roi_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    return Footage(pets, pets_gt, mall, np.array([counts[n] for n in numbers]), roi)


def head_count_errors(found: list[Detections], footage: Footage) -> np.ndarray:
    """Per Mall frame: boxes whose head point lies in the ROI, minus the annotated count."""
    height, width = footage.roi.shape
    counted = []
    for people in found:
        xyxy = people.xyxy
        x = np.clip((xyxy[:, 0] + xyxy[:, 2]) / 2, 0, width - 1).astype(int)
        y = np.clip(xyxy[:, 1] + 0.1 * (xyxy[:, 3] - xyxy[:, 1]), 0, height - 1).astype(int)
        counted.append(int(footage.roi[y, x].sum()))
    return np.array(counted) - footage.mall_counts


def timed_run(detector: Detector, frames: list[np.ndarray]) -> tuple[float, list[Detections]]:
    """(frames per CPU second, people per frame), after one warm-up call."""
    detector(frames[0])
    started = time.process_time()
    found = [detector(frame).detections for frame in frames]
    return len(frames) / (time.process_time() - started), found


@dataclass
class Scored:
    pets_fps: float = 0.0
    mall_fps: float = 0.0
    pets: list[Detections] | None = None
    mall: list[Detections] | None = None


def run_best(paths: dict[str, Path], footage: Footage, rounds: int, person_class: int) -> dict[str, Scored]:
    """Every model of `paths` on the footage, best frames/s of `rounds` rounds interleaved."""
    detectors = {
        label: (
            Detector.load(path, score_threshold=PETS_SCORE, person_class=person_class),
            Detector.load(path, score_threshold=MALL_SCORE, person_class=person_class, tiling=MALL_TILING),
        )
        for label, path in paths.items()
    }
    scored = {label: Scored() for label in paths}
    for _ in range(rounds):
        for label, (whole, tiled) in detectors.items():
            fps, scored[label].pets = timed_run(whole, footage.pets)
            scored[label].pets_fps = max(scored[label].pets_fps, fps)
            fps, scored[label].mall = timed_run(tiled, footage.mall)
            scored[label].mall_fps = max(scored[label].mall_fps, fps)
    return scored


def int8_table(
    name: str, out: Path, footage: Footage, variants: tuple[QuantizeOptions, ...], rounds: int
) -> dict[str, Path]:
    """Print the table for model `name`; returns the models run, by variant tag ("float" too)."""
    spec = MODELS[name]
    source = find_model(name).path
    blobs = calibration_blobs(spec.input_size_px)
    paths = {"float": source}
    for options in variants:
        started = time.perf_counter()
        path = quantize(source, out / f"{Path(name).stem}.int8.{options.tag}.onnx", blobs, options)
        paths[options.tag] = path
        print(
            f"  quantized {options.tag} in {time.perf_counter() - started:.0f} s "
            f"({len(blobs)} calibration blobs): {path} sha256 {file_sha256(path)}",
            flush=True,
        )
    scored = run_best(paths, footage, rounds, spec.person_class)
    ref = scored["float"]
    print(
        f"\n{name}: PETS09 {len(footage.pets)} held-out frames whole, Mall {len(footage.mall)} frames "
        f"in 2x2 tiles; frames per CPU second, best of {rounds}"
    )
    print(
        f"{'variant':26s} {'pets fps':>8s} {'x':>5s} {'mall fps':>8s} {'x':>5s} | vs float: "
        f"{'pets R':>6s} {'P':>5s} {'mall R':>6s} {'P':>5s} | vs truth: {'pets R':>6s} {'P':>5s} "
        f"{'mall MAE':>8s} {'bias':>6s}"
    )
    for label, s in scored.items():
        pets, mall = [d.xyxy for d in s.pets], [d.xyxy for d in s.mall]
        pets_rf = recall_precision(pets, [d.xyxy for d in ref.pets])
        mall_rf = recall_precision(mall, [d.xyxy for d in ref.mall])
        pets_gt = recall_precision(pets, footage.pets_gt)
        errors = head_count_errors(s.mall, footage)
        print(
            f"{label:26s} {s.pets_fps:8.1f} {s.pets_fps / ref.pets_fps:5.2f} {s.mall_fps:8.1f} "
            f"{s.mall_fps / ref.mall_fps:5.2f} |           {pets_rf[0]:6.2f} {pets_rf[1]:5.2f} "
            f"{mall_rf[0]:6.2f} {mall_rf[1]:5.2f} |           {pets_gt[0]:6.2f} {pets_gt[1]:5.2f} "
            f"{np.abs(errors).mean():8.2f} {errors.mean():+6.2f}",
            flush=True,
        )
    return paths


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cpu_ms_per_image(run, images: int, calls: int, rounds: int) -> float:
    """Best of `rounds`: CPU ms per image of `calls` calls of `run` (each on `images` images)."""
    run()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            run()
        best = min(best, (time.process_time() - started) / (calls * images))
    return best * 1000


def batch_table(source: Path, out: Path, footage: Footage, images: int, rounds: int) -> None:
    path = write_batched(source, out / f"{source.stem}.batch.onnx", None)
    single, batched = session(source), session(path)
    input_name, size_px = single.get_inputs()[0].name, single.get_inputs()[0].shape[-1]
    pets = np.concatenate([letterbox(f, size_px)[0] for f in footage.pets[: max(BATCHES)]])
    reference = np.concatenate([single.run(None, {input_name: blob[None]})[0] for blob in pets])
    diff = max(
        float(
            np.abs(
                np.concatenate(
                    [batched.run(None, {input_name: pets[i : i + n]})[0] for i in range(0, len(pets), n)]
                )
                - reference
            ).max()
        )
        for n in BATCHES
    )
    print(
        f"\n{source.name}: dynamic-batch copy {path} sha256 {file_sha256(path)}; largest output difference "
        f"against the batch-1 model over {len(pets)} PETS09 inputs at batch {BATCHES}: {diff:.3g}"
    )
    base = cpu_ms_per_image(lambda: single.run(None, {input_name: pets[:1]}), 1, images, rounds)
    print(
        f"{'batch':>5s} {'ms/image':>9s} {'speed-up':>9s}   (batch-1 model: {base:.2f} ms/image, "
        f"CPU, one thread, best of {rounds})"
    )
    for n in BATCHES:
        ms = cpu_ms_per_image(
            lambda n=n: batched.run(None, {input_name: pets[:n]}), n, max(1, images // n), rounds
        )
        print(f"{n:5d} {ms:9.2f} {base / ms:8.2f}x", flush=True)
    tiles = np.concatenate([letterbox(crop, size_px)[0] for crop in tile_crops(footage.mall[0])])
    count, frames = len(tiles), max(1, images // len(tiles))
    four_calls = cpu_ms_per_image(
        lambda: [single.run(None, {input_name: t[None]}) for t in tiles], 1, frames, rounds
    )
    one_call = cpu_ms_per_image(lambda: batched.run(None, {input_name: tiles}), 1, frames, rounds)
    print(
        f"Mall, {count} tiles a frame: {count} calls {four_calls:.2f} ms/frame, one batch-{count} call "
        f"{one_call:.2f} ms/frame ({four_calls / one_call:.2f}x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="directory for the generated models (default: temporary)")
    parser.add_argument("--quick", action="store_true", help="fewer frames, variants, rounds")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    use_threads(1)  # as a camera's process with the examples' detector.threads
    started = time.perf_counter()
    footage = load_footage(pets_step=8 if args.quick else 4, mall_step=16 if args.quick else 8)
    variants = VARIANTS[:4] if args.quick else VARIANTS
    rounds = 2 if args.quick else 3
    print(
        f"onnxruntime {ort.__version__}; calibration: PETS09 frames < {PETS_SPLIT}, "
        f"Mall frames > {MALL_SPLIT}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or Path(temporary)
        batch_sources = []
        for name in args.models:
            print(f"\n## INT8: {name}", flush=True)
            paths = int8_table(name, out, footage, variants, rounds)
            batch_sources += [paths["float"], paths[QuantizeOptions().tag]]
        for source in batch_sources:
            print(f"\n## Batching: {source.name}", flush=True)
            batch_table(source, out, footage, images=32 if args.quick else 64, rounds=rounds)
    print(f"\nbench wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
