"""Detector-only speed on real footage: frames/s of one onnxruntime thread per model, on frames
decoded beforehand (decoding is not timed), for PETS09 (768×576) and Mall (640×480), whole
frame and 2×2 tiles. Prints a table; run `.venv/bin/python bench/edge_speed.py [--frames N]`.
Numbers depend on the machine and on what else runs on it: compare on one machine only."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.assets import assets_dir  # noqa: E402
from edge.config import Tiling  # noqa: E402
from edge.detector import Detector  # noqa: E402
from models.registry import MODELS, find_model  # noqa: E402


def pets_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(assets_dir() / "datasets/pets09_s2l1/vtest.avi"))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def mall_frames(count: int) -> list[np.ndarray]:
    root = assets_dir() / "datasets/mall_dev/frames"
    return [cv2.imread(str(root / f"seq_{i:06d}.jpg")) for i in range(1, count + 1)]


def measure(detector: Detector, frames: list[np.ndarray]) -> tuple[float, float, float, float, float]:
    """(frames/s, median ms, p90 ms, CPU ms a frame, mean people) over `frames`, after two
    warm-up calls. CPU ms (process time) is the figure least disturbed by other load."""
    for image in frames[:2]:
        detector(image)
    latencies_ms, people = [], []
    started, started_cpu = time.perf_counter(), time.process_time()
    for image in frames:
        people.append(len(detector(image)))
        latencies_ms.append(detector.last_latency_ms)
    elapsed_s, cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    p90 = float(np.percentile(latencies_ms, 90))
    return (len(frames) / elapsed_s, statistics.median(latencies_ms), p90, cpu_s * 1000 / len(frames),
            float(np.mean(people)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100, help="frames per dataset (default 100)")
    args = parser.parse_args()
    datasets = {"pets09 768x576": pets_frames(args.frames), "mall 640x480": mall_frames(args.frames)}
    tilings = {"whole": None, "2x2 tiles": Tiling(cols=2, rows=2, overlap=0.2)}
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'model':26s} {'dataset':16s} {'mode':10s} {'frames/s':>9s} {'median ms':>10s} "
          f"{'p90 ms':>8s} {'CPU ms':>7s} {'people':>7s}")
    for name in MODELS:
        path = find_model(name).path
        for mode, tiling in tilings.items():
            detector = Detector(path, score_threshold=0.3, threads=1, tiling=tiling,
                                person_class=MODELS[name].person_class)
            for dataset, frames in datasets.items():
                fps, median_ms, p90_ms, cpu_ms, people = measure(detector, frames)
                print(f"{name:26s} {dataset:16s} {mode:10s} {fps:9.1f} {median_ms:10.1f} "
                      f"{p90_ms:8.1f} {cpu_ms:7.1f} {people:7.1f}", flush=True)


if __name__ == "__main__":
    main()
