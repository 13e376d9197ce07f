"""Benchmark: calibration accuracy on PETS09 ground truth, and the cost of the geometry per frame.

Prints, for the example store's homography and for calibrations from fewer of its points, the
median and 95th-percentile distance between every annotated foot (flag=1 boxes of gt.txt)
projected to the floor and its ground-truth (wx, wy); then how long image_to_floor takes for
one frame's people and how long building the floor ownership of each example store takes.

    .venv/bin/python bench/calibration.py
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from footfall_core.assets import assets_dir  # noqa: E402
from footfall_core.geometry import CameraGeometry  # noqa: E402
from footfall_core.ownership import Ownership  # noqa: E402
from footfall_core.store import load_config  # noqa: E402


def foot_errors_m(geometry: CameraGeometry, feet_px: np.ndarray, world_m: np.ndarray) -> np.ndarray:
    return np.linalg.norm(geometry.image_to_floor(feet_px) - world_m, axis=1)


def best_of(runs: int, action) -> float:
    """Fastest of `runs` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    gt = np.loadtxt(assets_dir() / "datasets/pets09_s2l1/gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] == 1]
    feet_px = np.stack([gt[:, 2] + gt[:, 4] / 2, gt[:, 3] + gt[:, 5]], axis=1)
    world_m = gt[:, 7:9]
    pets = load_config(ROOT / "examples/pets09.yaml")
    camera = pets.camera("view001")
    cal = camera.calibration
    print(f"PETS09 foot error over {len(gt)} annotated boxes (m):")
    print(f"{'calibration':<34} {'median':>7} {'p95':>7} {'max':>7}")
    rows = [("example homography (8 points)", CameraGeometry.from_config(camera))]
    for subset in ([0, 2, 5, 7], [0, 2, 4, 6, 7], [0, 1, 2, 3, 5, 6]):
        image = np.array(cal.image_points_px)[subset]
        floor = np.array(cal.floor_points_m)[subset]
        rows.append((f"points {subset}", CameraGeometry.solve("view001", image, floor)))
    for name, geometry in rows:
        errors = foot_errors_m(geometry, feet_px, world_m)
        print(f"{name:<34} {np.median(errors):7.3f} {np.percentile(errors, 95):7.3f} {errors.max():7.3f}")

    geometry = rows[0][1]
    people_px = feet_px[:8]
    per_frame_s = best_of(2000, lambda: geometry.image_to_floor(people_px))
    print(f"image_to_floor, 8 people: {per_frame_s * 1e6:.1f} µs per frame")
    for name, camera_name, size in (("pets09", "view001", (768, 576)), ("mall", "cam1", (640, 480))):
        store = load_config(ROOT / f"examples/{name}.yaml")
        build = functools.partial(Ownership.build, store, {camera_name: size})
        cells = build().grid.size
        print(f"Ownership.build {name} ({camera_name}): {best_of(5, build) * 1e3:.1f} ms for {cells} cells")


if __name__ == "__main__":
    main()
