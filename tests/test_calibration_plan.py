"""`python -m calibration plan`: the people-free background (per-pixel median) warped onto the plan."""

from __future__ import annotations

import cv2
import numpy as np

from calibration import __main__ as cli
from calibration.plan import UNSEEN_BGR, background, plan_picture
from footfall_core.store import parse_config


def test_the_median_background_has_nobody_in_it(tmp_path):
    floor = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 3, (48, 1, 3))
    for k in range(9):  # a bright "person" walks across: in each spot in one frame of nine
        frame = floor.copy()
        frame[20:28, 6 * k : 6 * k + 6] = 255
        cv2.imwrite(str(tmp_path / f"seq_{k + 1:06d}.png"), frame)
    assert np.array_equal(background(str(tmp_path / "seq_%06d.png"), 9), floor)


def test_each_floor_point_takes_its_colour_from_where_the_camera_sees_it(tmp_path):
    # a camera looking straight down: 10 px a metre, image (0, 0) at floor (0, 0)
    config = parse_config(
        {
            "store": {"id": "s1"},
            "floor_plan": {"origin_m": [-1, 0], "width_m": 8, "height_m": 5},
            "cameras": [
                {
                    "name": "top",
                    "source": "unused.avi",
                    "calibration": {
                        "image_points_px": [[0, 0], [60, 0], [60, 40], [0, 40]],
                        "floor_points_m": [[0, 0], [6, 0], [6, 4], [0, 4]],
                    },
                }
            ],
        }
    )
    picture = np.zeros((40, 60, 3), np.uint8)
    picture[:, :, 2] = np.arange(60, dtype=np.uint8)[None, :] * 4  # red grows with image x
    plan = plan_picture(config, {"top": picture}, px_per_m=10)
    assert plan.shape == (50, 80, 3)
    # plan px (x, y) is floor (x / 10 - 1, y / 10): image px (x - 10, y)
    assert abs(int(plan[15, 35, 2]) - 25 * 4) <= 2
    assert tuple(plan[15, 5]) == UNSEEN_BGR  # floor x = -0.5 m: the camera does not see it
    assert tuple(plan[45, 35]) == UNSEEN_BGR  # floor y = 4.5 m: below its picture


def test_the_command_writes_the_picture_and_says_how_to_upload_it(tmp_path, capsys, assets):
    out = tmp_path / "plan.png"
    from pathlib import Path

    store = Path(__file__).resolve().parents[1] / "examples/pets09.yaml"
    assert cli.main(["plan", str(store), "--out", str(out), "--frames", "5"]) == 0
    assert cv2.imread(str(out)).shape == (500, 540, 3)
    assert (
        f"python -m dashboard stores plan pets09 {out} --m-per-px 0.05 --origin-m -21,-17"
        in capsys.readouterr().out
    )
