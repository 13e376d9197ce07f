"""Floor cell ownership: overlapping cameras split the floor so that nobody counts twice."""

import numpy as np
import pytest

from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.ownership import Ownership
from footfall_core.store import parse_config
from tests.test_calibration_geometry import project, synthetic_camera

SIZE_PX = (1280, 720)
# A 12 m × 20 m floor; camera "north" stands at (6, 0) looking down +y, "south" at (6, 20)
# looking back along -y. Each sees the floor in front of it, and they overlap in the middle.
CAMERAS = {"north": dict(at_m=(6.0, 0.0), yaw_deg=0.0), "south": dict(at_m=(6.0, 20.0), yaw_deg=180.0)}
FLOOR_M = np.array([[3, 4], [9, 4], [10, 14], [2, 14], [6, 8]], float)


def camera_entry(name, mask=None, **pose):
    K, rvec, tvec = synthetic_camera(tilt_deg=30, size_px=SIZE_PX, **pose)
    floor = FLOOR_M if pose["yaw_deg"] == 0 else np.c_[FLOOR_M[:, 0], 20 - FLOOR_M[:, 1]]
    entry = {
        "name": name,
        "source": f"{name}.mp4",
        "calibration": {
            "image_points_px": project(floor, K, rvec, tvec).tolist(),
            "floor_points_m": floor.tolist(),
        },
    }
    if mask is not None:
        entry["image_mask_px"] = mask
    return entry


def store(masks=None):
    masks = masks or {}
    return parse_config(
        {
            "store": {"id": "two-cams"},
            "floor_plan": {"width_m": 12, "height_m": 20},
            "analysis": {"cell_m": 0.5},
            "cameras": [camera_entry(name, masks.get(name), **pose) for name, pose in CAMERAS.items()],
        }
    )


def test_overlap_is_split_and_every_seen_cell_has_exactly_one_owner():
    config = store()
    ownership = Ownership.build(config, {name: SIZE_PX for name in CAMERAS})
    north, south = ownership.coverage["north"], ownership.coverage["south"]
    overlap = north & south
    assert ownership.grid.shape == (40, 24)
    assert overlap.sum() > 50, "the synthetic views should overlap"
    # every cell someone sees has exactly one owner, and only a camera that sees it
    assert ((ownership.grid >= 0) == (north | south)).all()
    assert (ownership.grid[north & ~south] == 0).all() and (ownership.grid[south & ~north] == 1).all()
    # in the overlap the nearer camera (more pixels per metre) wins: north owns y < 10 m, south y > 10 m
    rows = np.arange(40)[:, None].repeat(24, axis=1)
    assert (ownership.grid[overlap & (rows < 19)] == 0).all()
    assert (ownership.grid[overlap & (rows > 20)] == 1).all()
    # people anywhere on seen floor are kept by exactly one camera
    people_m = np.random.default_rng(0).uniform([0, 0], [12, 20], size=(2000, 2))
    row, col = (people_m[:, 1] // 0.5).astype(int), (people_m[:, 0] // 0.5).astype(int)
    people_m = people_m[(north | south)[row, col]]
    assert len(people_m) > 1500
    kept = np.stack([ownership.keep(name, people_m) for name in CAMERAS])
    assert (kept.sum(axis=0) == 1).all()


def test_mask_and_plan_edges_limit_what_a_camera_keeps():
    # north may only count the left half of its image: the right half of its view goes to south
    config = store({"north": [[0, 0], [640, 0], [640, 720], [0, 720]]})
    ownership = Ownership.build(config, {name: SIZE_PX for name in CAMERAS})
    geometry = CameraGeometry.from_config(config.camera("north"))
    spot_m = np.array([[8.0, 6.0], [4.0, 6.0]])  # right and left of north's image centre line
    assert (geometry.floor_to_image(spot_m)[:, 0] > 640).tolist() == [True, False]
    assert ownership.keep("north", spot_m).tolist() == [False, True]
    assert ownership.coverage["south"][12, 16] and ownership.grid[12, 16] == 1  # (8, 6) went to south
    assert ownership.keep("south", spot_m[:1]).tolist() == [True]
    off_plan = np.array([[-1.0, 6.0], [6.0, 25.0], [np.nan, np.nan]])
    assert not ownership.keep("north", off_plan).any() and not ownership.keep("south", off_plan).any()


def test_missing_frame_size_and_unknown_camera_are_named():
    config = store()
    with pytest.raises(CalibrationError, match="camera south: no frame size"):
        Ownership.build(config, {"north": SIZE_PX})
    ownership = Ownership.build(config, {name: SIZE_PX for name in CAMERAS})
    with pytest.raises(KeyError, match="'east' is not in this store"):
        ownership.keep("east", np.zeros((1, 2)))


def test_one_camera_keeps_everyone_it_sees_on_the_plan(assets):
    """PETS09 has one camera: every annotated foot inside the frame and on the plan is kept,
    including people at the frame's edges whose cell centre is out of view."""
    from pathlib import Path

    from footfall_core.store import load_config
    from tests.test_calibration_geometry import pets09_ground_truth

    config = load_config(Path(__file__).resolve().parent.parent / "examples" / "pets09.yaml")
    ownership = Ownership.build(config, {"view001": (768, 576)})
    feet_px, _ = pets09_ground_truth(assets)
    geometry = CameraGeometry.from_config(config.camera("view001"))
    floor_m = geometry.image_to_floor(feet_px)
    plan = config.floor_plan
    on_plan = (
        (floor_m >= plan.origin_m) & (floor_m < np.add(plan.origin_m, [plan.width_m, plan.height_m]))
    ).all(axis=1)
    assert on_plan.mean() > 0.99
    assert ownership.keep("view001", floor_m[on_plan]).all()
    assert (ownership.grid == 0).sum() > 0.5 * ownership.grid.size
