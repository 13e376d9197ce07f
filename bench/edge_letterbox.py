"""Tight against square letterbox (`detector.letterbox`), whole pipeline on real footage, for
each model: frames per CPU second (decode included, best of `--rounds` interleaved rounds),
detector ms per analysed frame, and accuracy against the ground truth with the acceptance
tests' own measures (PETS09: walkway line in/out against the annotated crossings, 1 m heat-grid
Pearson r and person-seconds against the annotated positions; Mall: ROI occupancy MAE per 10 s
bucket against counts.csv) and the largest change of any count (line in, line out,
person-seconds; Mall mean occupancy) against square, with the example configs' other
settings (Mall: tiles over its far rows plus the whole frame, each pass letterboxed the same
way).

A square letterbox pads a 4:3 frame (PETS09 768×576, Mall 640×480) to the model's square:
416×416 of which 416×312 is picture. Tight pads it only to 416×320 (192×160 for the 192 px
model), on a copy of the model whose input shape is left free.

Then, as most shop cameras are 16:9 and the shared footage is 4:3, the detector alone on
PETS09 cut to 16:9 (768×432, rows 72-503: a square pads it to 416×416 of which 416×234 is
picture, tight to 416×256): frames per CPU second (best of `--rounds`) and recall/precision
against the annotated boxes inside the cut (IoU >= 0.5, tests/test_detector.py's matching).

    .venv/bin/python bench/edge_letterbox.py [--pets-frames N] [--mall-frames N] [--rounds R]

About 5 minutes for every frame of both recordings and 2 rounds here."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_levers import (
    HEAT_CELL_M,
    MALL_BUCKET_S,
    count_change,
    mall_accuracy,
    of_kind,
    pets_accuracy,
    without_levers,
)
from bench.edge_runs import PipelineRun, decoding_reader, detector_fps, run_pipeline
from bench.edge_speed import machine, with_detector
from edge.detector import Detector
from edge.model import use_threads
from footfall_core.assets import assets_dir
from models.letterbox import letterbox_image
from models.registry import MODELS, find_model
from tests.gt import pets09_boxes
from tests.pipeline_runs import example
from tests.test_detector import recall_precision

LETTERBOXES = ("square", "tight")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pets-frames", type=int, default=795, help="first PETS09 frames (default all 795)")
    parser.add_argument("--mall-frames", type=int, default=800, help="first Mall frames (default all 800)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best fps kept (default 2)")
    parser.add_argument("--wide-only", action="store_true", help="only the 16:9 table")
    args = parser.parse_args()
    use_threads(1)  # as a camera's process with the examples' detector.threads
    if args.wide_only:
        wide_table(args.rounds)
        return
    started = time.perf_counter()
    print(f"machine: {machine()}")
    # the letterboxes alone: without levers (crops need the tight one)
    scenes = [
        (
            "pets09",
            without_levers(example("pets09", "view001", cell_m=HEAT_CELL_M)),
            "view001",
            args.pets_frames,
        ),
        ("mall", without_levers(example("mall", "cam1", bucket_s=MALL_BUCKET_S)), "cam1", args.mall_frames),
    ]
    print(
        f"\n{'model':26s} {'scene':7s} {'letterbox':9s} {'frames':>6s} {'fps/core':>8s} {'speed-up':>8s} "
        f"{'det ms':>7s} {'max Δcount':>10s}  accuracy vs ground truth"
    )
    for model in MODELS:
        for name, scene_config, camera, frames in scenes:
            runs: dict[str, PipelineRun] = {}
            for _ in range(args.rounds):
                for letterbox in LETTERBOXES:
                    config = with_detector(scene_config, model=model, letterbox=letterbox)
                    detector = Detector.for_camera(config.camera(camera), config)
                    run = run_pipeline(
                        config, camera, decoding_reader(config, camera, frames), detector, stages=False
                    )
                    if letterbox not in runs or run.fps > runs[letterbox].fps:
                        runs[letterbox] = run
            score = pets_accuracy if name == "pets09" else mall_accuracy
            scored = {letterbox: score(run, scene_config, frames) for letterbox, run in runs.items()}
            for letterbox, run in runs.items():
                (text, counts), base = scored[letterbox], scored["square"][1]
                change = count_change(counts, base)
                health = of_kind(run, "health")
                analysed = sum(m.frames_analysed for m in health)
                detector_ms = sum(m.detector_ms_mean * m.frames_analysed for m in health) / max(analysed, 1)
                print(
                    f"{model:26s} {name:7s} {letterbox:9s} {run.frames:6d} {run.fps:8.1f} "
                    f"{run.fps / runs['square'].fps:7.2f}x {detector_ms:7.2f} {change:9.1%}  {text}",
                    flush=True,
                )
    wide_table(args.rounds)
    print(f"\nbench wall time {time.perf_counter() - started:.0f} s")


WIDE_ROWS = (72, 504)  # PETS09's 576 rows cut to 432: 768x432 is 16:9
WIDE_STEP = 5  # every 5th frame of the recording


def wide_frames() -> list[tuple[np.ndarray, np.ndarray]]:
    """PETS09 frames cut to 16:9, each with its annotated boxes (K, 4) xyxy px in the cut: the
    people whose box centre lies in it, their boxes clipped to it."""
    top, bottom = WIDE_ROWS
    samples = []
    for image, boxes in pets09_boxes(assets_dir(), WIDE_STEP):
        boxes[:, [1, 3]] -= top
        centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
        boxes = boxes[(centre_y >= 0) & (centre_y < bottom - top)]
        samples.append((image[top:bottom], boxes.clip(0, [768, bottom - top, 768, bottom - top])))
    return samples


def wide_table(rounds: int) -> None:
    samples = wide_frames()
    images = [image for image, _ in samples]
    height, width = images[0].shape[:2]
    print(
        f"\n16:9: PETS09 cut to {width}x{height} (rows {WIDE_ROWS[0]}-{WIDE_ROWS[1] - 1}), every "
        f"{WIDE_STEP}th frame ({len(images)}), detector alone, frames per CPU second, best of {rounds}"
    )
    print(
        f"{'model':26s} {'letterbox':9s} {'input':>7s} {'fps/core':>8s} {'speed-up':>8s} {'recall':>6s} "
        f"{'precision':>9s}"
    )
    for model in MODELS:
        detectors = {
            letterbox: Detector.load(find_model(model).path, score_threshold=0.3, letterbox=letterbox)
            for letterbox in LETTERBOXES
        }
        fps = dict.fromkeys(LETTERBOXES, 0.0)
        for _ in range(rounds):  # interleaved
            for letterbox, detector in detectors.items():
                fps[letterbox] = max(fps[letterbox], detector_fps(detector, images))
        for letterbox, detector in detectors.items():
            recall, precision = recall_precision(detector, samples)
            size = detector.input_size_px
            shape = letterbox_image(images[0], size, detector.model.tight)[0].shape
            print(
                f"{model:26s} {letterbox:9s} {shape[1]:3d}x{shape[0]:<3d} {fps[letterbox]:8.1f} "
                f"{fps[letterbox] / fps['square']:7.2f}x {recall:6.3f} {precision:9.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
