"""bench/occupancy_hidden_area.py: the floor hidden behind the people found, on Mall's calibration,
and the bench's figures on a few frames of Mall and PETS09."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from bench.occupancy_hidden_area import FOUND_HIDDEN, HiddenFloor
from edge.tiles import standing_height_px
from footfall_core.assets import REPO_ROOT
from footfall_core.geometry import CameraGeometry
from footfall_core.store import load_config

PERSON_M = 1.7
CELL_M = 0.25


@pytest.fixture(scope="module")
def mall():
    """examples/mall.yaml's camera (it stands above floor (12, 70): smaller floor y is further
    away) and its roi zone."""
    config = load_config(REPO_ROOT / "examples/mall.yaml")
    geometry = CameraGeometry.from_config(config.cameras[0])
    roi = next(z.polygon_m for z in config.zones if z.name == "roi")
    return geometry, HiddenFloor(geometry, [roi], (640, 480), PERSON_M, CELL_M)


def standing(geometry: CameraGeometry, floor_m: tuple[float, float], width_share: float = 0.4) -> np.ndarray:
    """(1, 4) the box of a person standing at `floor_m`."""
    feet = geometry.floor_to_image(np.array([floor_m]))
    height = standing_height_px(geometry, feet, PERSON_M)[0]
    u, v = feet[0]
    return np.array([[u - width_share * height / 2, v - height, u + width_share * height / 2, v]])


def hidden_at(floor: HiddenFloor, xyxy: np.ndarray, point_m: tuple[float, float]) -> bool:
    """Whether the cell nearest `point_m` is hidden behind the boxes `xyxy`."""
    nearest = int(np.argmin(((floor.floor - np.array(point_m)) ** 2).sum(axis=1)))
    assert np.abs(floor.floor[nearest] - point_m).max() <= CELL_M
    return bool(floor.hidden_cells(xyxy, floor.feet_m(xyxy))[nearest])


def test_the_floor_just_behind_someone_is_hidden_and_the_rest_is_not(mall):
    geometry, floor = mall
    person = standing(geometry, (12.0, 40.0))  # 30 m from the camera
    assert hidden_at(floor, person, (12.0, 39.0))  # 1 m further away, right behind them
    assert hidden_at(floor, person, (12.0, 38.0))
    assert not hidden_at(floor, person, (12.0, 34.0))  # 6 m further: seen over their head
    assert not hidden_at(floor, person, (12.0, 41.0))  # in front of them
    assert not hidden_at(floor, person, (13.5, 39.0))  # beside them
    assert not hidden_at(floor, person, (12.0, 40.0))  # where they stand themselves


def test_nobody_found_hides_nothing_and_expects_nobody(mall):
    _, floor = mall
    found, hidden_m2, expected = floor.expected(np.zeros((0, 4)))
    assert found.tolist() == [0.0] and hidden_m2.tolist() == [0.0] and expected.tolist() == [0.0]


def test_the_people_expected_are_the_density_seen_on_the_hidden_floor_less_those_found(mall):
    geometry, floor = mall
    crowd = np.concatenate(
        [standing(geometry, (x, y)) for x in (9.0, 12.0, 15.0) for y in (20.0, 35.0, 48.0)]
    )
    found, hidden_m2, expected = floor.expected(crowd)
    assert found[0] == 9
    assert 0 < hidden_m2[0] < floor.seen_m2[0] / 10
    density = 9 / (floor.seen_m2[0] - hidden_m2[0])
    assert expected[0] == pytest.approx(density * hidden_m2[0] * (1 - FOUND_HIDDEN))


def test_a_box_covering_the_floor_behind_only_together_with_another_hides_it_in_union_only(mall):
    geometry, _ = mall
    config = load_config(REPO_ROOT / "examples/mall.yaml")
    roi = next(z.polygon_m for z in config.zones if z.name == "roi")
    single = HiddenFloor(geometry, [roi], (640, 480), PERSON_M, CELL_M)
    union = HiddenFloor(geometry, [roi], (640, 480), PERSON_M, CELL_M, union=True)
    # two people side by side, half a body apart, each covering half of the one behind them
    behind = standing(geometry, (12.0, 38.0))[0]
    width = behind[2] - behind[0]
    left, right = standing(geometry, (12.0, 40.0)), standing(geometry, (12.0, 40.0))
    left[0, [0, 2]] = behind[0] - width / 2, behind[0] + width / 2
    right[0, [0, 2]] = behind[2] - width / 2, behind[2] + width / 2
    pair = np.concatenate([left, right])
    assert not hidden_at(single, pair, (12.0, 38.0))
    assert hidden_at(union, pair, (12.0, 38.0))


@pytest.mark.slow
def test_the_bench_prints_each_half_the_slope_and_pets09(assets):
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench/occupancy_hidden_area.py"), "--frames", "140", "--pets09"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    print(out)
    figure = r"MAE \d+\.\d\d \(bias [+-]\d+\.\d\d\)"
    for name in ("found", "found \\+ expected hidden"):
        assert re.search(
            rf"  {name}: frames 1-80 {figure}, 81-140 {figure}, all {figure}; slope [+-]\d+\.\d+ ", out
        ), name
    [mall_expected] = re.findall(r"expected hidden (\d+\.\d\d) a frame; estimate \d+ µs a frame", out)
    assert float(mall_expected) > 0.2  # a crowd of about 30 hides some
    [pets] = re.findall(r"expected hidden path (\d\.\d+), crossroad (\d\.\d+) a frame", out)
    assert all(float(p) < 0.2 for p in pets)  # a few people a frame hide hardly anyone
    for zone in ("path", "crossroad"):
        assert re.search(
            rf"  {zone} \(annotated \d\.\d\d a frame\): found {figure}, found \+ expected hidden {figure}",
            out,
        )
