"""WILDTRACK, seven overlapping calibrated cameras: its store config and its annotated frames.

The dataset (`../shared/datasets/wildtrack_dev/README.md`) has no images, only each person's
ground position and box in every view that sees them, and each camera's model (intrinsics of
the undistorted frames, extrinsics in centimetres). This module reads both:

- `store_config(dataset_dir)`: a store with the seven cameras (1920x1080 each), each one
  calibrated as an installer would, from 12 floor points paired with where the camera model
  puts them in its image (spread over the frame), all in one fusion group; floor metres are
  the dataset's ground coordinates (x, y), so fused positions compare with the annotation as
  they are (the plan is drawn mirrored, y down). A live snapshot every annotated frame.
- `read_frames(dataset_dir)`: every annotated frame, each person with their ground position
  and their box in each view (NaN where the view does not see them).

    .venv/bin/python bench/wildtrack.py [DATASET_DIR] --out examples/wildtrack.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from footfall_core.assets import assets_dir  # noqa: E402

DEFAULT_DATASET = assets_dir() / "datasets" / "wildtrack_dev"
VIEWS = ("CVLab1", "CVLab2", "CVLab3", "CVLab4", "IDIAP1", "IDIAP2", "IDIAP3")  # viewNum 0..6
FRAME_SIZE_PX = (1920, 1080)
FRAME_STEP = 5  # annotated frames are every 5th of the 10 fps recording
FPS = 10.0 / FRAME_STEP  # so 2 annotated frames a second
# the 480 x 1440 grid of 2.5 cm cells in which positionID numbers ground positions
GRID_ORIGIN_M = (-3.0, -9.0)
GRID_CELL_M = 0.025
GRID_COLS, GRID_ROWS = 480, 1440
PLAN_MARGIN_M = 1.0
FUSION_GROUP = "square"  # the name the fused aggregates carry
CALIBRATION_POINTS = 12
CANDIDATE_STEP_M = 0.5  # floor points offered to the calibration, every this many metres
FRAME_MARGIN_PX = 20  # calibration points stay this far inside the frame


def camera_name(view: int) -> str:
    """The store's camera name of WILDTRACK view `view` (config names are lower case)."""
    return VIEWS[view].lower()


@dataclass(frozen=True)
class CameraModel:
    """One view's pinhole model: K (3, 3) px, rvec (3,), tvec (3,) cm (world in cm, z up)."""

    K: np.ndarray
    rvec: np.ndarray
    tvec: np.ndarray

    def project(self, floor_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground points (N, 2) m → image points (N, 2) px and (N,) bool: in front of the camera."""
        world_cm = np.c_[np.asarray(floor_m, np.float64) * 100.0, np.zeros(len(floor_m))]
        R, _ = cv2.Rodrigues(self.rvec)
        in_front = (world_cm @ R.T + self.tvec)[:, 2] > 0
        image, _ = cv2.projectPoints(world_cm, self.rvec, self.tvec, self.K, np.zeros(5))
        return image.reshape(-1, 2), in_front


def _read_node(path: Path, key: str) -> np.ndarray:
    """An OpenCV FileStorage value: a matrix (intrinsics) or a plain sequence of numbers
    (extrinsics)."""
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    try:
        node = storage.getNode(key)
        if node.isSeq():
            value = np.array([node.at(i).real() for i in range(node.size())], np.float64)
        else:
            value = node.mat()
    finally:
        storage.release()
    if value is None or value.size == 0:
        raise ValueError(f"{path}: no {key!r}")
    return np.asarray(value, np.float64)


def camera_model(dataset_dir: Path, view: int) -> CameraModel:
    """The model of view `view` for the undistorted frames the boxes are annotated in."""
    calibrations = Path(dataset_dir) / "calibrations"
    name = VIEWS[view]
    K = _read_node(calibrations / "intrinsic_zero" / f"intr_{name}.xml", "camera_matrix").reshape(3, 3)
    extrinsic = calibrations / "extrinsic" / f"extr_{name}.xml"
    rvec, tvec = _read_node(extrinsic, "rvec").reshape(3), _read_node(extrinsic, "tvec").reshape(3)
    return CameraModel(K, rvec, tvec)


def plan() -> dict:
    """The floor plan: the annotation grid (12 m x 36 m) and PLAN_MARGIN_M all round, so that
    a person annotated at its edge and placed a little beyond it is still on the plan."""
    return {
        "origin_m": [GRID_ORIGIN_M[0] - PLAN_MARGIN_M, GRID_ORIGIN_M[1] - PLAN_MARGIN_M],
        "width_m": GRID_COLS * GRID_CELL_M + 2 * PLAN_MARGIN_M,
        "height_m": GRID_ROWS * GRID_CELL_M + 2 * PLAN_MARGIN_M,
    }


def calibration_points(model: CameraModel, count: int = CALIBRATION_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """`count` floor points (m) and their image points (px), spread over the frame:
    among the annotation grid's points every CANDIDATE_STEP_M that the camera sees (inside the frame by
    FRAME_MARGIN_PX), the one nearest the frame's centre, then each time the one farthest in
    the image from those already chosen."""
    width, height = FRAME_SIZE_PX
    xs = GRID_ORIGIN_M[0] + np.arange(0, GRID_COLS * GRID_CELL_M + 1e-9, CANDIDATE_STEP_M)
    ys = GRID_ORIGIN_M[1] + np.arange(0, GRID_ROWS * GRID_CELL_M + 1e-9, CANDIDATE_STEP_M)
    floor_m = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    image_px, in_front = model.project(floor_m)
    seen = (
        in_front
        & (image_px[:, 0] >= FRAME_MARGIN_PX)
        & (image_px[:, 0] <= width - FRAME_MARGIN_PX)
        & (image_px[:, 1] >= FRAME_MARGIN_PX)
        & (image_px[:, 1] <= height - FRAME_MARGIN_PX)
    )
    floor_m, image_px = floor_m[seen], image_px[seen]
    chosen = [int(np.argmin(np.linalg.norm(image_px - np.array([width, height]) / 2, axis=1)))]
    distance = np.linalg.norm(image_px - image_px[chosen[0]], axis=1)
    while len(chosen) < count:
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(image_px - image_px[chosen[-1]], axis=1))
    return floor_m[chosen], image_px[chosen]


def store_config(dataset_dir: Path) -> dict:
    """The WILDTRACK store as a config mapping (`footfall_core.store.parse_config` takes it).
    Sources name the views' recordings, which this dataset does not hold: the accuracy bench
    feeds annotated boxes instead."""
    cameras = []
    for view in range(len(VIEWS)):
        floor_m, image_px = calibration_points(camera_model(dataset_dir, view))
        cameras.append(
            {
                "name": camera_name(view),
                "source": f"wildtrack/{VIEWS[view]}.mp4",
                "calibration": {
                    "image_points_px": [[round(float(x), 1), round(float(y), 1)] for x, y in image_px],
                    "floor_points_m": [[round(float(x), 3), round(float(y), 3)] for x, y in floor_m],
                },
            }
        )
    return {
        "store": {"id": "wildtrack", "name": "WILDTRACK square (seven overlapping cameras)"},
        "floor_plan": plan(),
        "analysis": {"fps": FPS, "live_interval_s": 1 / FPS},
        "cameras": cameras,
        "fusion": [{"name": FUSION_GROUP, "cameras": [camera["name"] for camera in cameras]}],
    }


@dataclass(frozen=True)
class AnnotatedFrame:
    """One annotated instant: P people, each with a ground position and a box per view."""

    index: int  # frame number of the 10 fps recording
    person_id: np.ndarray  # (P,) int64
    floor_m: np.ndarray  # (P, 2) float64, ground position in metres (the store's floor frame)
    boxes_px: np.ndarray  # (P, V, 4) float64 xyxy in view v's undistorted frame, NaN: not seen

    @property
    def timestamp_s(self) -> float:
        return self.index / (FPS * FRAME_STEP)


def read_frames(dataset_dir: Path) -> list[AnnotatedFrame]:
    """Every `annotations_positions/*.json` of the dataset, in frame order."""
    files = sorted((Path(dataset_dir) / "annotations_positions").glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{dataset_dir}/annotations_positions: no annotated frame (*.json)")
    frames = []
    for path in files:
        people = json.loads(path.read_text())
        boxes = np.full((len(people), len(VIEWS), 4), np.nan)
        for p, person in enumerate(people):
            for view in person["views"]:
                box = [view["xmin"], view["ymin"], view["xmax"], view["ymax"]]
                if box != [-1, -1, -1, -1]:
                    boxes[p, view["viewNum"]] = box
        position = np.array([person["positionID"] for person in people], np.int64)
        floor_m = np.stack(
            [
                GRID_ORIGIN_M[0] + GRID_CELL_M * (position % GRID_COLS),
                GRID_ORIGIN_M[1] + GRID_CELL_M * (position // GRID_COLS),
            ],
            axis=1,
        ).reshape(-1, 2)
        person_id = np.array([person["personID"] for person in people], np.int64)
        frames.append(AnnotatedFrame(int(path.stem), person_id, floor_m, boxes))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--out", type=Path, help="write the store YAML here (default: stdout)")
    args = parser.parse_args()
    header = (
        "# WILDTRACK: a public square filmed by seven synchronised, overlapping, calibrated cameras\n"
        "# (Chavdarova et al., CVPR 2018). Written by bench/wildtrack.py from the dataset's camera\n"
        "# models: each camera's 12 calibration points are floor points of the annotated area (the\n"
        "# dataset's ground coordinates in metres, drawn mirrored: y down) and where its model sees\n"
        "# them. The plan is the annotated area and 1 m all round. The cameras' views are fused.\n"
        "# The dataset has no images: bench/fusion_accuracy.py feeds its annotated boxes instead.\n"
    )
    text = header + yaml.safe_dump(store_config(args.dataset), sort_keys=False, default_flow_style=None)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
