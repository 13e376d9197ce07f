"""What the edge pipeline costs besides the detector, on real footage.

The detector runs once over the first frames of PETS09 and Mall (example configs, YOLOX, Mall
in 2×2 tiles) and its people are kept; then the real `CameraPipeline.run()` loop (feed
thread, rate gate, tracker, floor projection, analytics, buckets, live messages) replays those
frames several times with the kept detections served instantly, so that only the
non-detector stages cost anything. Prints CPU ms per frame by stage (best of the rounds, as
the machine is shared) and, with `--profile`, the functions that take the most time.

    .venv/bin/python bench/edge_rest.py [--frames 300] [--rounds 3] [--profile]

Stage times are CPU seconds of this process (`bench.edge_runs.StageClock`); "other" is the rest
of the loop: feed hand-off, rate gate, bucket accounting, message building."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import MemoryReader, StageClock, _served_by, decode, instrument
from edge.detector import Detected, Detector, Step
from edge.model import use_threads
from edge.pipeline import CameraPipeline
from edge.tiles import Tile
from edge.types import Detections
from tests.pipeline_runs import example

DATASETS = {"pets09 768x576": ("pets09", "view001"), "mall 640x480": ("mall", "cam1")}
STAGES = ("track", "floor", "analytics", "live", "other")


class KeptDetections:
    """A stand-in detector (one pass over the whole frame, no crops) that hands back, call by
    call, what the real one found."""

    tiled = can_crop = False
    nms_iou = 0.45
    model_path = Path("kept detections")

    def __init__(self, found: list[Detections]):
        self.found, self.calls = found, 0

    def passes(self, width_px: int, height_px: int) -> tuple[Tile, ...]:
        return (Tile.whole(width_px, height_px),)

    def region_seen(self, tile: Tile, region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        raise NotImplementedError("kept detections are never cropped")

    def __call__(self, image: np.ndarray, steps: Sequence[Step] | None = None) -> Detected:
        self.calls += 1
        return Detected(self.found[self.calls - 1], (), 0, 0, 0.0)


def detect_all(name: str, camera: str, frames: int) -> tuple[list[Detections], tuple[int, ...]]:
    """The example camera's detector over its first `frames` frames: (people per frame, shape)."""
    config = example(name, camera)
    detector = Detector.for_camera(config.camera(camera), config)
    images = decode(config, camera, frames)
    return [detector(image).detections for image in images], images[0].shape


def replay(
    name: str,
    camera: str,
    found: list[Detections],
    shape: tuple[int, ...],
    profile: cProfile.Profile | None = None,
) -> dict[str, float]:
    """One pass of the pipeline over the kept detections: CPU ms per frame by stage, and total."""
    config = example(name, camera, motion_gating=False)  # every frame's kept people, none re-used
    pipeline = CameraPipeline(config, camera, detector=KeptDetections(found))
    clock = StageClock()
    if profile is None:
        instrument(pipeline, clock)
    blank = np.zeros(shape, np.uint8)  # the detector is not run: any picture of the right size
    with _served_by(config, camera, MemoryReader([blank] * len(found), config.camera(camera).fps)):
        started = time.process_time()
        if profile is not None:
            profile.enable()
        for _ in pipeline.run():
            pass
        if profile is not None:
            profile.disable()
        total_s = time.process_time() - started
    ms = {stage: 1e3 * s / len(found) for stage, s in clock.seconds.items()}
    ms["total"] = 1e3 * total_s / len(found)
    ms["other"] = ms["total"] - sum(v for k, v in ms.items() if k in STAGES[:-1])
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per dataset (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="replays per dataset, best kept (default 3)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one replay")
    args = parser.parse_args()
    use_threads(1)  # as a camera's process with the examples' detector.threads
    print(
        f"{'dataset':16} {'frames':>6} {'people':>6} | CPU ms/frame: "
        + " ".join(f"{s:>9}" for s in STAGES)
        + f" {'total':>7}"
    )
    for label, (name, camera) in DATASETS.items():
        found, shape = detect_all(name, camera, args.frames)
        best = min((replay(name, camera, found, shape) for _ in range(args.rounds)), key=lambda r: r["total"])
        people = np.mean([len(d) for d in found])
        print(
            f"{label:16} {len(found):6d} {people:6.1f} |               "
            + " ".join(f"{best.get(s, 0.0):9.3f}" for s in STAGES)
            + f" {best['total']:7.3f}"
        )
        if args.profile:
            profile = cProfile.Profile()
            replay(name, camera, found, shape, profile)
            pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
