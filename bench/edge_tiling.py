"""Tiling only where people are small against tiling the whole frame,
on Mall with yolox_nano.onnx and the example's other settings (score 0.1): model passes per
frame, frames per CPU second of the whole pipeline (decode included, best of `--rounds`
interleaved rounds), speed-up against 2×2 tiles over the whole frame, and the ROI occupancy
error per 10 s bucket against counts.csv (the acceptance test's measure,
tests/test_accuracy_mall.py; mean absolute error and bias).

Modes: one whole-frame pass; 2×2 tiles; 2×2 tiles plus a whole-frame pass; and, per
`--small-below` value, 2×1 tiles over the rows where the calibration puts people under that
many model input px in a whole-frame pass, plus one whole-frame pass (`Tiling.small_below_input_px`).

Run `.venv/bin/python bench/edge_tiling.py [--frames N]`: about
6 minutes for the 800 frames here. Numbers depend on the machine (docs/performance.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import PipelineRun, decoding_reader, run_pipeline
from edge.detector import Detector
from edge.model import use_threads
from footfall_core.assets import assets_dir
from footfall_core.store import StoreConfig, Tiling
from tests.pipeline_runs import example
from tests.test_accuracy_mall import BUCKET_S, bucket_errors

CAMERA = "cam1"
FRAME_PX = (640, 480)  # mall_dev frames
MODEL = "yolox_nano.onnx"
WHOLE_FRAME_TILING = "2x2 tiles"  # the mode the speed-ups are measured against


def modes(small_below_input_px: list[float]) -> dict[str, Tiling | None]:
    out: dict[str, Tiling | None] = {
        "whole frame": None,
        WHOLE_FRAME_TILING: Tiling(cols=2, rows=2, overlap=0.2),
        "2x2 tiles + full": Tiling(cols=2, rows=2, overlap=0.2, full_frame=True),
    }
    for small_below in small_below_input_px:
        out[f"2x1 band <{small_below:g}px + full"] = Tiling(
            cols=2, rows=1, overlap=0.2, small_below_input_px=small_below
        )
    return out


def with_tiling(config: StoreConfig, tiling: Tiling | None) -> StoreConfig:
    camera = config.camera(CAMERA).model_copy(update={"tiling": tiling})
    detector = config.detector.model_copy(update={"model": MODEL})
    return config.model_copy(update={"cameras": [camera], "detector": detector})


def roi_errors(run: PipelineRun, config: StoreConfig) -> np.ndarray:
    """ROI mean occupancy minus the annotated count, per bucket (people)."""
    return bucket_errors(
        SimpleNamespace(config=config, messages=run.messages), assets_dir() / "datasets/mall_dev/counts.csv"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=800, help="first Mall frames (default 800: all)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best fps kept (default 2)")
    parser.add_argument(
        "--small-below",
        type=float,
        nargs="+",
        default=[40.0, 45.0, 60.0],
        help="small_below_input_px values to run (default 40 45 60; the example ships 45)",
    )
    args = parser.parse_args()
    use_threads(1)  # as a camera's process with the example's detector.threads
    base = example("mall", CAMERA, bucket_s=BUCKET_S, motion_gating=False)  # the tilings alone
    configs = {mode: with_tiling(base, tiling) for mode, tiling in modes(args.small_below).items()}
    detectors = {mode: Detector.for_camera(c.camera(CAMERA), c) for mode, c in configs.items()}
    runs: dict[str, PipelineRun] = {}
    for _ in range(args.rounds):
        for mode, config in configs.items():
            run = run_pipeline(
                config, CAMERA, decoding_reader(config, CAMERA, args.frames), detectors[mode], stages=False
            )
            if mode not in runs or run.fps > runs[mode].fps:
                runs[mode] = run
    print(
        f"\n## Tiling on Mall ({args.frames} frames, {MODEL}, score "
        f"{base.detector.score_threshold:g}; whole pipeline, decode included, best of {args.rounds})"
    )
    print(
        f"{'mode':26s} {'tiles: image rows':>18s} {'passes':>6s} {'fps/core':>8s} {'speed-up':>8s}  "
        f"ROI occupancy per {BUCKET_S} s bucket vs counts.csv"
    )
    for mode, run in runs.items():
        detector = detectors[mode]
        rows = sorted({(t.y0, t.y1) for t in detector.tiles.tiles(*FRAME_PX)}) if detector.tiled else []
        errors = roi_errors(run, configs[mode])
        speed_up = run.fps / runs[WHOLE_FRAME_TILING].fps
        passes = len(detector.passes(*FRAME_PX))
        print(
            f"{mode:26s} {' '.join(f'{a}-{b}' for a, b in rows) or '-':>18s} {passes:6d} "
            f"{run.fps:8.1f} {speed_up:7.2f}x  MAE {np.abs(errors).mean():.2f}, bias {errors.mean():+.2f} "
            f"people, {len(errors)} buckets",
            flush=True,
        )


if __name__ == "__main__":
    main()
