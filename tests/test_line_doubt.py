"""How well a camera can count a line (edge/line_doubt.py), on the real calibrations of the
PETS09 and WILDTRACK examples: the doubt grows with distance, is smallest across a line that
people cross sideways in the picture, and a line partly out of the frame says how much of it
the camera sees. A camera of WILDTRACK's fusion group is given the group's doubt, which its
other cameras narrow and widen the view of."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from calibration.__main__ import main
from calibration.web import create_app
from edge.line_doubt import BODY_WIDTH_M, MAX_POINTS, View, line_doubt, store_line_doubt
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Line, load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCENES = [("pets09.yaml", "view001", (768, 576)), ("wildtrack.yaml", "cvlab1", (1920, 1080))]


def doubt_of(scene, line: Line):
    config_name, camera_name, size = scene
    config = load_config(EXAMPLES / config_name)
    camera = config.camera(camera_name)
    geometry = CameraGeometry.from_config(camera, size)
    return line_doubt(line, camera, geometry, size, config.analysis)


def floor_line(scene, image_px, along_row: bool, length_m: float = 3.0) -> Line:
    """A line centred on the floor under image point `image_px`, along the image row there
    (people cross it towards or away from the camera) or down the image column."""
    config_name, camera_name, size = scene
    geometry = CameraGeometry.from_config(load_config(EXAMPLES / config_name).camera(camera_name), size)
    step_px = (20.0, 0.0) if along_row else (0.0, 20.0)
    centre, ahead = geometry.image_to_floor([image_px, np.add(image_px, step_px)])
    unit = (ahead - centre) / np.linalg.norm(ahead - centre)
    start, end = centre - unit * length_m / 2, centre + unit * length_m / 2
    return Line(name="probe", start_m=tuple(start), end_m=tuple(end))


@pytest.mark.parametrize("scene", SCENES, ids=["pets09", "wildtrack-cvlab1"])
def test_the_same_line_far_away_has_more_doubt_than_near(scene):
    width, height = scene[2]
    near = floor_line(scene, (width / 2, 0.9 * height), along_row=True)
    far_centre = doubt_of(scene, floor_line(scene, (width / 2, 0.42 * height), along_row=True)).points_m.mean(
        0
    )
    # the near line moved, unturned, to the far line's centre
    shift = far_centre - np.mean([near.start_m, near.end_m], axis=0)
    far = Line(name="probe", start_m=tuple(near.start_m + shift), end_m=tuple(near.end_m + shift))
    near_doubt, far_doubt = doubt_of(scene, near), doubt_of(scene, far)
    assert near_doubt.seen_share == far_doubt.seen_share == 1
    # measured: PETS09 0.32 m near, 0.55 far; cvlab1 0.30 and 0.59
    assert far_doubt.median_sigma_m > 1.5 * near_doubt.median_sigma_m
    assert far_doubt.margin_m - near_doubt.margin_m == pytest.approx(
        far_doubt.median_sigma_m - near_doubt.median_sigma_m  # line_hysteresis_sigmas 1
    )
    assert not near_doubt.counts_worse and far_doubt.counts_worse
    assert f"above a body's width ({BODY_WIDTH_M:g} m)" in far_doubt.text()
    assert "body" not in near_doubt.text()


@pytest.mark.parametrize("scene", SCENES, ids=["pets09", "wildtrack-cvlab1"])
def test_a_line_people_cross_sideways_has_less_doubt_across(scene):
    """The feet wander most along the camera's line of sight: a line down the image column is
    crossed sideways and has the smaller doubt across."""
    width, height = scene[2]
    centre_px = (width / 2, 0.6 * height)
    facing = doubt_of(scene, floor_line(scene, centre_px, along_row=True))
    sideways = doubt_of(scene, floor_line(scene, centre_px, along_row=False))
    assert sideways.median_sigma_m < 0.7 * facing.median_sigma_m  # measured 0.16 and 0.42 m on both


@pytest.mark.parametrize("scene", SCENES, ids=["pets09", "wildtrack-cvlab1"])
def test_a_line_half_out_of_the_frame_reports_the_share_it_sees(scene):
    width, height = scene[2]
    on_left_edge = floor_line(scene, (0.0, 0.8 * height), along_row=True, length_m=4.0)
    doubt = doubt_of(scene, on_left_edge)
    assert doubt.seen_share == pytest.approx(0.5, abs=0.07)  # 0.25 m steps on 4 m
    assert np.isnan(doubt.sigma_across_m[~doubt.seen]).all()
    assert np.isfinite(doubt.sigma_across_m[doubt.seen]).all()
    assert f"the camera sees {doubt.seen_share:.0%} of it" in doubt.text()


def test_a_line_beyond_the_horizon_is_not_seen():
    behind = Line(name="behind", start_m=(-40.0, 60.0), end_m=(-36.0, 60.0))  # behind the PETS09 camera
    doubt = doubt_of(SCENES[0], behind)
    assert doubt.seen_share == 0 and np.isnan(doubt.median_sigma_m)
    assert doubt.text() == "the camera does not see this line"


def test_the_calibration_page_asks_for_the_lines_as_drawn(tmp_path, assets):
    """POST /api/cameras/{name}/line-doubt: the lines being edited, not only the saved ones."""
    store = tmp_path / "pets09.yaml"
    store.write_text((EXAMPLES / "pets09.yaml").read_text())
    far = floor_line(SCENES[0], (384.0, 240.0), along_row=True)
    lines = [line.model_dump() for line in [*load_config(store).lines, far]]
    with TestClient(create_app(store)) as client:
        answer = client.post("/api/cameras/view001/line-doubt", json={"lines": lines})
        assert answer.status_code == 200, answer.text
        walkway, probe = answer.json()["lines"]
        assert walkway["name"] == "walkway" and probe["name"] == "probe"
        assert walkway["seen_share"] == 1 and walkway["median_sigma_m"] == 0.25  # measured 0.248 m
        assert walkway["margin_m"] == 0.55 and not walkway["counts_worse"]
        assert walkway["text"] == "feet doubt across 0.24-0.25 m (median 0.25), margin 0.55 m"
        assert probe["counts_worse"] and "body's width" in probe["text"]
        assert client.post("/api/cameras/nope/line-doubt", json={"lines": lines}).status_code == 404
        behind = {"name": "behind", "start_m": [-40.0, 60.0], "end_m": [-36.0, 60.0]}
        [unseen] = client.post("/api/cameras/view001/line-doubt", json={"lines": [behind]}).json()["lines"]
        assert unseen["seen_share"] == 0 and unseen["median_sigma_m"] is None
        endless = '{"lines": [{"name": "endless", "start_m": [0, 0], "end_m": [Infinity, 0]}]}'
        refused = client.post(
            "/api/cameras/view001/line-doubt", content=endless, headers={"content-type": "application/json"}
        )
        assert refused.status_code == 422 and "end_m" in refused.text
        walkway_json = lines[0]
        many = client.post("/api/cameras/view001/line-doubt", json={"lines": [walkway_json] * 1001})
        assert many.status_code == 422 and many.json()["detail"][0]["loc"] == ["body", "lines"]


def test_a_long_line_is_sampled_a_bounded_number_of_times():
    """A line of 10 km (a typo in the store file, or a hostile request) costs no more than one of
    100 m: the samples are spread out instead of multiplied."""
    doubt = doubt_of(SCENES[0], Line(name="long", start_m=(0.0, 0.0), end_m=(10_000.0, 0.0)))
    assert len(doubt.points_m) == MAX_POINTS
    assert np.allclose(doubt.points_m[[0, -1]], [(0.0, 0.0), (10_000.0, 0.0)])


def test_the_image_mask_hides_part_of_a_line():
    """Floor the camera's `image_mask_px` leaves out is not seen, as the pipeline ignores feet
    there: a mask over the frame's right half leaves a line across the middle half seen."""
    config_name, camera_name, (width, height) = SCENES[0]
    config = load_config(EXAMPLES / config_name)
    left_half = [(0.0, 0.0), (width / 2, 0.0), (width / 2, height), (0.0, height)]
    camera = config.camera(camera_name).model_copy(update={"image_mask_px": left_half})
    geometry = CameraGeometry.from_config(camera, (width, height))
    line = floor_line(SCENES[0], (width / 2, 0.8 * height), along_row=True, length_m=4.0)
    doubt = line_doubt(line, camera, geometry, (width, height), config.analysis)
    unmasked = doubt_of(SCENES[0], line)
    assert unmasked.seen_share == 1 and doubt.seen_share == pytest.approx(0.5, abs=0.07)


def store_views(config_name: str, size: tuple[int, int]) -> tuple:
    config = load_config(EXAMPLES / config_name)
    views = {c.name: View(c, CameraGeometry.from_config(c, size), size) for c in config.cameras}
    return config, views


def test_a_camera_outside_a_group_keeps_its_own_doubt():
    config, views = store_views("pets09.yaml", SCENES[0][2])
    [walkway] = config.lines
    shown = store_line_doubt(config, "view001", walkway, views)
    own = doubt_of(SCENES[0], walkway)
    assert shown.group is None and shown.cameras_seeing is None
    assert np.array_equal(shown.sigma_across_m, own.sigma_across_m) and np.array_equal(shown.seen, own.seen)
    assert shown.text() == "feet doubt across 0.24-0.25 m (median 0.25), margin 0.55 m"


def test_a_far_line_of_a_grouped_camera_gets_the_groups_smaller_doubt():
    """cvlab1 sees a line far from it badly; the group counts it with the cameras nearer it."""
    config, views = store_views("wildtrack.yaml", SCENES[1][2])
    far = floor_line(SCENES[1], (960.0, 0.42 * 1080), along_row=True)
    own = doubt_of(SCENES[1], far)
    group = store_line_doubt(config, "cvlab1", far, views)
    assert own.counts_worse and not group.counts_worse
    assert group.median_sigma_m < 0.5 * own.median_sigma_m  # measured 0.58 m alone, 0.11 m the group
    assert np.all(group.sigma_across_m[own.seen] <= own.sigma_across_m[own.seen])
    fewest, median, most = group.cameras_range()
    assert 2 <= fewest <= median <= most <= 7  # measured 6, 6, 7
    assert group.text() == (
        f"in fusion group square: feet doubt across {group.min_sigma_m:.2f}-{group.max_sigma_m:.2f} m "
        f"(median {group.median_sigma_m:.2f}), margin {group.margin_m:.2f} m; "
        f"{fewest}-{most} of 7 cameras see it"
    )
    # every camera of the group names the same doubt: the group counts the line
    other = store_line_doubt(config, "idiap3", far, views)
    assert np.array_equal(other.sigma_across_m, group.sigma_across_m, equal_nan=True)


def test_the_group_sees_at_least_what_any_of_its_cameras_sees():
    config, views = store_views("wildtrack.yaml", SCENES[1][2])
    on_left_edge = floor_line(SCENES[1], (0.0, 0.8 * 1080), along_row=True, length_m=4.0)
    group = store_line_doubt(config, "cvlab1", on_left_edge, views)
    alone = [
        line_doubt(on_left_edge, v.camera, v.geometry, v.frame_size_px, config.analysis)
        for v in views.values()
    ]
    assert group.seen_share == 1 and alone[0].seen_share == pytest.approx(0.5, abs=0.07)
    assert all(group.seen_share >= a.seen_share for a in alone)
    assert np.array_equal(group.cameras_seeing, np.sum([a.seen for a in alone], axis=0))
    assert "the group sees" not in group.text()  # measured: 4-5 of 7 cameras see it
    # the group's other cameras not calibrated yet: the group sees what cvlab1 sees
    only = store_line_doubt(config, "cvlab1", on_left_edge, {"cvlab1": views["cvlab1"]})
    assert np.array_equal(only.seen, alone[0].seen)
    assert f"1 of 7 cameras see it; the group sees {alone[0].seen_share:.0%} of it" in only.text()


def wildtrack_store(tmp_path: Path, lines: list[Line]) -> Path:
    """examples/wildtrack.yaml with `lines`, each camera's source a black frame of its size but
    idiap3's, which cannot be read."""
    text = (EXAMPLES / "wildtrack.yaml").read_text()
    black = np.zeros((1080, 1920, 3), np.uint8)
    for view in ("CVLab1", "CVLab2", "CVLab3", "CVLab4", "IDIAP1", "IDIAP2"):
        cv2.imwrite(str(tmp_path / f"{view}.png"), black)
        text = text.replace(f"wildtrack/{view}.mp4", f"{view}.png")
    lines_json = json.dumps([line.model_dump() for line in lines])  # YAML too
    text = text.replace("wildtrack/IDIAP3.mp4", "missing.mp4") + f"lines: {lines_json}\n"
    store = tmp_path / "wildtrack.yaml"
    store.write_text(text)
    return store


def test_the_calibration_page_answers_the_groups_doubt_for_a_grouped_camera(tmp_path):
    """The page reads every camera's snapshot (once) for its frame size; a camera of the group
    with no frame to read is left out of the group's doubt, not the answer."""
    far = floor_line(SCENES[1], (960.0, 0.42 * 1080), along_row=True)
    store = wildtrack_store(tmp_path, [])
    config, views = store_views("wildtrack.yaml", SCENES[1][2])
    del views["idiap3"]
    expected = store_line_doubt(config, "cvlab1", far, views)
    with TestClient(create_app(store)) as client:
        answer = client.post("/api/cameras/cvlab1/line-doubt", json={"lines": [far.model_dump()]})
        assert answer.status_code == 200, answer.text
        [probe] = answer.json()["lines"]
    assert probe["group"] == "square" and probe["group_size"] == 7
    assert probe["median_sigma_m"] == round(expected.median_sigma_m, 2) and not probe["counts_worse"]
    fewest, median, most = expected.cameras_range()
    assert probe["cameras_seeing"] == {"fewest": fewest, "median": median, "most": most}
    assert probe["text"] == expected.text()


def test_calibration_check_prints_the_groups_doubt_for_a_grouped_camera(tmp_path, capsys):
    far = floor_line(SCENES[1], (960.0, 0.42 * 1080), along_row=True)
    store = wildtrack_store(tmp_path, [far])
    # check reads every camera's frame size: idiap3's too
    (tmp_path / "missing.mp4").write_bytes(
        cv2.imencode(".png", np.zeros((1080, 1920, 3), np.uint8))[1].tobytes()
    )
    config, views = store_views("wildtrack.yaml", SCENES[1][2])
    expected = store_line_doubt(config, "cvlab1", far, views)
    frame = tmp_path / "CVLab1.png"
    assert (
        main(
            ["check", str(store), "--camera", "cvlab1", "--frame", str(frame), "--out", str(tmp_path / "out")]
        )
        == 0
    )
    assert f"line probe: {expected.text()}\n" in capsys.readouterr().out
