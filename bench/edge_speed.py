"""Edge speed on real footage, one onnxruntime thread, for each model on
PETS09 (768×576) and Mall (640×480), the example configs' own settings (Mall: 2 tiles over its far
rows plus the whole frame; bench/edge_tiling.py compares tilings):

1. detector only: frames/s per model, whole frame (square and tight letterbox) and 2×2 tiles,
   on frames decoded beforehand;
2. over the same decoded frames: detector only, the whole pipeline (the example's settings, so
   motion gating on, the default) with decode excluded and included, CPU ms per stage (from a
   separate run with stage clocks), Python heap peak; the peer baseline (same detector, then
   trackers' ByteTrack, supervision's HeatMapAnnotator and LineZone on every frame) and our
   frames/s divided by the peer's and by the detector's (targets: >= 1.7 and >= 0.9), all with
   the example's detector settings (tight letterbox); then the detector alone and the peer
   with the model fed as it ships (square input), and our frames/s divided by theirs; and
   the pipeline without levers (every frame, every pass, whole), against the same figures;
3. the levers (motion gating, adaptive rate, Mall's tiles on every other frame) on whole
   recordings: speed-up, detector runs,
   accuracy against the ground truth and change of counts against no lever;
4. cameras at 5 fps one core sustains, with and without the levers.

Frames/s are frames per CPU second of this process (what one core sustains, not inflated by
other work on a shared machine). Run `.venv/bin/python bench/edge_speed.py [--quick]`; the
quick run takes under 2 minutes, the full one under 10 on an idle 2-core machine. Numbers
depend on the machine: compare on one machine only (docs/performance.md)."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import onnxruntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_levers import lever_table, without_levers
from bench.edge_runs import (
    MemoryReader,
    PipelineRun,
    decode,
    decoding_reader,
    detector_fps,
    run_peer,
    run_pipeline,
)
from edge.detector import Detector
from edge.model import use_threads
from footfall_core.store import StoreConfig, Tiling
from models.registry import MODELS, find_model
from tests.pipeline_runs import example

DATASETS = {"pets09 768x576": ("pets09", "view001"), "mall 640x480": ("mall", "cam1")}
STAGES = ("gate", "detect", "track", "floor", "analytics", "live")


def measure(detector: Detector, frames: list[np.ndarray]) -> tuple[float, float, float, float]:
    """(frames/s, median ms, p90 ms, mean people) over `frames`, after two warm-up calls."""
    for image in frames[:2]:
        detector(image)
    latencies_ms, people = [], []
    started = time.perf_counter()
    for image in frames:
        found = detector(image)
        people.append(len(found.detections))
        latencies_ms.append(found.latency_ms)
    elapsed_s = time.perf_counter() - started
    p90 = float(np.percentile(latencies_ms, 90))
    return len(frames) / elapsed_s, statistics.median(latencies_ms), p90, float(np.mean(people))


def detector_table(images: dict[str, list[np.ndarray]]) -> None:
    """Section 1: the detector alone (wall time), whole frame (square and tight letterbox) and
    2×2 tiles (tight, the default)."""
    modes = {
        "square": (None, "square"),
        "tight": (None, "tight"),
        "2x2 tiles": (Tiling(cols=2, rows=2, overlap=0.2), "tight"),
    }
    print("\n## Detector only (wall time per call)")
    print(
        f"{'model':26s} {'dataset':16s} {'mode':10s} {'frames/s':>9s} {'median ms':>10s} "
        f"{'p90 ms':>8s} {'people':>7s}"
    )
    for name in MODELS:
        path = find_model(name).path
        for mode, (tiling, letterbox) in modes.items():
            detector = Detector.load(
                path,
                score_threshold=0.3,
                threads=1,
                tiling=tiling,
                person_class=MODELS[name].person_class,
                letterbox=letterbox,
            )
            for dataset, frames in images.items():
                fps, median_ms, p90_ms, people = measure(detector, frames)
                print(
                    f"{name:26s} {dataset:16s} {mode:10s} {fps:9.1f} {median_ms:10.1f} "
                    f"{p90_ms:8.1f} {people:7.1f}",
                    flush=True,
                )


def with_detector(config: StoreConfig, **settings) -> StoreConfig:
    """`config` with these `detector` settings (model, letterbox, ...) changed."""
    return config.model_copy(update={"detector": config.detector.model_copy(update=settings)})


def heap_peak_mb(config: StoreConfig, camera: str, images: list[np.ndarray], detector: Detector) -> float:
    """Peak Python-heap MB (tracemalloc: numpy arrays included, onnxruntime's arena not) of the
    pipeline over `images`, decode excluded; a separate run, as tracing slows it down."""
    tracemalloc.start()
    run_pipeline(config, camera, MemoryReader(images, config.camera(camera).fps), detector, stages=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def pipeline_table(images: dict[str, list[np.ndarray]], heap_frames: int, rounds: int) -> dict[str, float]:
    """Section 2; returns pipeline frames/s (decode included) per 'model dataset'. Each figure is
    the best of `rounds` interleaved rounds (detector, pipeline, pipeline + decode, peer), so
    that a burst of other work on a shared machine does not bias one of them."""
    print(
        f"\n## Same decoded frames: detector, pipeline, peer (frames per CPU second, one thread, "
        f"best of {rounds} rounds)"
    )
    print(
        f"{'model':26s} {'dataset':16s} {'detector':>8s} {'pipe':>6s} {'+decode':>7s} {'peer':>6s} "
        f"{'pipe/det':>8s} {'pipe/peer':>9s} {'peer/det':>8s} | square: {'det':>5s} {'peer':>5s} "
        f"{'pipe/det':>8s} {'pipe/peer':>9s} | CPU ms/frame: "
        + " ".join(f"{s:>6s}" for s in (*STAGES, "other"))
        + f" | {'heap MB':>7s} | peer ms: det trk heat line"
    )
    included, ungated_rows = {}, []
    for model in MODELS:
        for dataset, (example_name, camera) in DATASETS.items():
            config = with_detector(example(example_name, camera), model=model)
            frames, fps = images[dataset], config.camera(camera).fps
            detector = Detector.for_camera(config.camera(camera), config)
            # the model as it ships (square input), for the detector alone and the peer
            square = Detector.for_camera(config.camera(camera), with_detector(config, letterbox="square"))
            det, excl, timed, incl, (peer, peer_s, _) = 0.0, None, None, None, (0.0, {}, 0)
            square_det = square_peer = 0.0
            ungated, ungated_config, share = None, without_levers(config), 0.0
            for _ in range(rounds):
                det = max(det, detector_fps(detector, frames))
                square_det = max(square_det, detector_fps(square, frames))
                square_peer = max(square_peer, run_peer(config, camera, frames, square, fps)[0])
                # frames/s without the stage clocks (their wrappers cost ~2 % of a 4 ms frame);
                # the stage split from a run with them
                px_before = detector.input_px_run
                excl = best(
                    excl, run_pipeline(config, camera, MemoryReader(frames, fps), detector, stages=False)
                )
                default_px, px_before = detector.input_px_run - px_before, detector.input_px_run
                ungated = best(
                    ungated,
                    run_pipeline(ungated_config, camera, MemoryReader(frames, fps), detector, stages=False),
                )
                share = default_px / (detector.input_px_run - px_before)
                timed = best(timed, run_pipeline(config, camera, MemoryReader(frames, fps), detector))
                incl = best(
                    incl,
                    run_pipeline(
                        config, camera, decoding_reader(config, camera, len(frames)), detector, stages=False
                    ),
                )
                peer, peer_s, _ = max(
                    (peer, peer_s, 0), run_peer(config, camera, frames, detector, fps), key=lambda r: r[0]
                )
            ms = {s: timed.stage_s.get(s, 0.0) * 1000 / timed.frames for s in STAGES}
            other = timed.cpu_s * 1000 / timed.frames - sum(ms.values())
            heap = heap_peak_mb(config, camera, frames[:heap_frames], detector)
            peer_ms = " ".join(
                f"{peer_s[k] * 1000 / len(frames):.1f}" for k in ("detect", "track", "heatmap", "line")
            )
            print(
                f"{model:26s} {dataset:16s} {det:8.1f} {excl.fps:6.1f} {incl.fps:7.1f} {peer:6.1f} "
                f"{excl.fps / det:8.2f} {excl.fps / peer:9.2f} {peer / det:8.2f} |         "
                f"{square_det:5.0f} {square_peer:5.0f} "
                f"{excl.fps / square_det:8.2f} {excl.fps / square_peer:9.2f} |"
                f"              "
                + " ".join(f"{ms[s]:6.1f}" for s in STAGES)
                + f" {other:6.1f} | {heap:7.1f} | {peer_ms}",
                flush=True,
            )
            included[f"{model} {dataset}"] = incl.fps
            ungated_rows.append(
                f"{model:26s} {dataset:16s} {ungated.fps:6.1f} {excl.fps / ungated.fps:8.2f} "
                f"{share:8.0%} {ungated.fps / det:8.2f} {ungated.fps / peer:9.2f} "
                f"{ungated.fps / square_peer:9.2f}"
            )
    print(
        "\n## The same pipeline without levers (no motion gating, tiles on every frame: every pass on "
        "every frame, whole), same frames and rounds; 'levers': the default's frames/s and model input "
        "against it"
    )
    print(
        f"{'model':26s} {'dataset':16s} {'pipe':>6s} {'levers':>8s} {'input px':>8s} {'pipe/det':>8s} "
        f"{'pipe/peer':>9s} {'/sq. peer':>9s}"
    )
    print("\n".join(ungated_rows))
    return included


def best(a: PipelineRun | None, b: PipelineRun) -> PipelineRun:
    return b if a is None or b.fps > a.fps else a


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, onnxruntime "
        f"{onnxruntime.__version__}, load average {os.getloadavg()[0]:.2f} at start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer frames, levers on part of PETS09 only")
    parser.add_argument("--frames", type=int, help="frames per dataset, tables 1-2 (default 100, quick 20)")
    args = parser.parse_args()
    frames = args.frames or (20 if args.quick else 100)
    use_threads(1)  # as a camera's process with the examples' detector.threads
    started = time.perf_counter()
    print(f"machine: {machine()}")
    images = {
        dataset: decode(example(name, camera), camera, frames) for dataset, (name, camera) in DATASETS.items()
    }
    detector_table(images)
    included = pipeline_table(images, heap_frames=min(frames, 20), rounds=2 if args.quick else 3)
    if args.quick:
        runs = lever_table(pets_frames=200, empty_s=15, mall_frames=0)
    else:
        runs = lever_table(pets_frames=None, empty_s=60, mall_frames=300)
    print("\n## Cameras at 5 fps one core sustains (decode included)")
    for key, fps in included.items():
        print(f"{key:44s} defaults: {fps / 5:5.1f}")
    for r in runs:
        print(f"yolox_nano.onnx {r.scene:28s} {r.lever:14s} {r.run.fps / 5:5.1f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\npeak RSS of this process (all decoded frames held in memory included): {peak_mb:.0f} MB; "
        f"bench wall time {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
