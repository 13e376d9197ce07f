"""`python -m calibration solve | check` on the PETS09 example."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from calibration.__main__ import main
from calibration.check import GRID_BGR
from calibration.frames import first_frame
from footfall_core.geometry import CameraGeometry
from footfall_core.store import load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pets09.yaml"


def example_without_homography(tmp_path, edit=None) -> Path:
    """The PETS09 example as its author wrote it (no solved matrix), in tmp_path."""
    text = EXAMPLE.read_text()
    start = text.index("      homography:\n")
    end = text.index("\n", text.index("- [", text.index("- [", text.index("- [", start) + 1) + 1)) + 1
    text = text[:start] + text[end:]
    if edit:
        text = edit(text)
    path = tmp_path / "store.yaml"
    path.write_text(text)
    return path


def test_solve_writes_the_homography_back_keeping_comments_and_order(tmp_path, capsys):
    path = example_without_homography(tmp_path)
    before = path.read_text()
    assert "homography:" not in before
    assert main(["solve", str(path), "--camera", "view001"]) == 0
    printed = capsys.readouterr().out
    assert "median 0.010 m" in printed and "OUTLIER" not in printed
    after = path.read_text()
    # every original line is still there, in the same order, and only the matrix was added
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added[0].strip() == "homography:" and len(added) == 4
    assert [line for line in after.splitlines() if line in before.splitlines()] == before.splitlines()
    stored = np.array(yaml.safe_load(after)["cameras"][0]["calibration"]["homography"])
    camera = load_config(path).camera("view001")
    solved = CameraGeometry.solve(
        "view001", camera.calibration.image_points_px, camera.calibration.floor_points_m
    )
    np.testing.assert_allclose(stored, solved.homography / solved.homography[2, 2], rtol=1e-8)
    # solving again replaces the matrix in place
    assert main(["solve", str(path), "--camera", "view001"]) == 0
    assert path.read_text() == after


def test_solve_flags_an_outlier_and_writes_nothing(tmp_path, capsys):
    path = example_without_homography(
        tmp_path, lambda t: t.replace("[-9.1685, -9.0468]", "[-7.1685, -9.0468]")
    )
    before = path.read_text()
    assert main(["solve", str(path), "--camera", "view001"]) == 1
    out = capsys.readouterr()
    flagged = [line.split()[0] for line in out.out.splitlines() if line.endswith("OUTLIER")]
    assert flagged == ["4"] and "not written" in out.err
    assert path.read_text() == before


def test_unknown_camera_is_an_error_naming_it(tmp_path, capsys):
    assert main(["solve", str(EXAMPLE), "--camera", "view009"]) == 2
    assert "no camera named 'view009'" in capsys.readouterr().err


def grid_drawn_near(image, point_px, radius=1):
    x, y = np.round(point_px).astype(int)
    patch = image[y - radius : y + radius + 1, x - radius : x + radius + 1]
    return bool((patch == GRID_BGR).all(axis=2).any())


@pytest.mark.parametrize("frame_kind", ["video", "image"])
def test_check_draws_the_grid_on_the_floor_only(tmp_path, assets, frame_kind, capsys):
    video = assets / "datasets/pets09_s2l1/vtest.avi"
    frame_path = video
    if frame_kind == "image":
        frame_path = tmp_path / "snapshot.png"
        cv2.imwrite(str(frame_path), first_frame(str(video)))
    out = tmp_path / "check"
    assert (
        main(["check", str(EXAMPLE), "--camera", "view001", "--frame", str(frame_path), "--out", str(out)])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "coverage_view001.png",
        "ownership.png",
        "view001_frame.png",
        "view001_plan.png",
    ]
    # and says per line how well the camera can count it (edge/line_doubt.py)
    assert (
        "line walkway: feet doubt across 0.24-0.25 m (median 0.25), margin 0.55 m\n"
        in capsys.readouterr().out
    )
    config = load_config(EXAMPLE)
    geometry = CameraGeometry.from_config(config.camera("view001"))

    on_frame = cv2.imread(str(out / "view001_frame.png"))
    assert on_frame.shape == (576, 768, 3)
    # on 1 m grid lines (x = -10, -14, -4 m and y = -13 m), away from zones and lines: drawn
    for line_point_m in ([-10.0, -7.5], [-12.5, -13.0], [-14.0, -2.5], [-4.0, 1.5]):
        assert grid_drawn_near(on_frame, geometry.floor_to_image([line_point_m])[0]), line_point_m
    # in the middle of 1 m cells, and on the building above the plan's far edge: not drawn
    for cell_centre_m in ([-9.5, -7.5], [-12.5, -12.5], [-14.5, -2.5], [-4.5, 1.5]):
        assert not grid_drawn_near(on_frame, geometry.floor_to_image([cell_centre_m])[0]), cell_centre_m
    assert not (on_frame[:60] == GRID_BGR).all(axis=2).any()

    plan = cv2.imread(str(out / "view001_plan.png"))
    assert plan.shape == (500, 540, 3)  # 27 m × 25 m at 20 px per m
    x_px, y_px = (np.array([-10.0, -7.5]) - config.floor_plan.origin_m) * 20
    assert (plan[int(y_px), int(x_px) - 1 : int(x_px) + 2] == GRID_BGR).all(axis=1).any()
    # the plan's top-left corner (x -21 m, y -17 m) is outside the camera's view: black
    assert (plan[3:8, 3:8] == 0).all()
    # where the camera sees the walkway (floor (-8.5, -4.5)) the warped frame shows its grey
    grey = plan[int((-4.5 + 17) * 20), int((-8.5 + 21) * 20)]
    assert grey.min() > 100 and np.ptp(grey.astype(int)) < 40
