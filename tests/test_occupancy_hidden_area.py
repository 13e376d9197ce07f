"""bench/occupancy_hidden_area.py: the floor hidden behind the people found, on Mall's calibration,
and the bench's figures on a few frames of Mall and PETS09."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from bench.occupancy_hidden_area import FOUND_HIDDEN, HiddenFloor, Recorded, head_found, missed_spots
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


def test_held_people_are_taken_from_the_people_expected_hidden_in_their_zone_at_least_0(mall):
    geometry, floor = mall
    crowd = np.concatenate(
        [standing(geometry, (x, y)) for x in (9.0, 12.0, 15.0) for y in (20.0, 35.0, 48.0)]
    )
    _, _, plain = floor.expected(crowd)
    held = standing(geometry, (12.0, 34.0))  # just behind someone found
    found, _, minus = floor.expected(crowd, held_xyxy=held, rule="minus")
    assert found[0] == 9  # the held are not among the found
    assert 0 < plain[0] < 1
    assert minus[0] == 0.0  # one held, fewer than one expected: nobody more
    outside = standing(geometry, (12.0, 60.0))  # feet beyond the zone
    assert floor.expected(crowd, held_xyxy=outside, rule="minus")[2][0] == pytest.approx(plain[0])


def test_a_held_persons_spot_is_not_hidden_floor_and_counts_in_the_density(mall):
    geometry, floor = mall
    crowd = np.concatenate(
        [standing(geometry, (x, y)) for x in (9.0, 12.0, 15.0) for y in (20.0, 35.0, 48.0)]
    )
    _, hidden_m2, _ = floor.expected(crowd)
    spot_m = (12.0, 34.0)  # just behind the person at (12, 35), on hidden floor
    assert hidden_at(floor, crowd, spot_m)
    held = standing(geometry, spot_m)
    found, spot_m2, spot = floor.expected(crowd, held_xyxy=held, rule="spot")
    near = ((floor.floor - floor.feet_m(held)[0]) ** 2).sum(axis=1) <= floor.apart_m2
    theirs = (floor.hidden_cells(crowd, floor.feet_m(crowd)) & near).sum() * floor.cell_m2
    assert theirs > 0
    assert spot_m2[0] == pytest.approx(hidden_m2[0] - theirs)
    assert found[0] == 9
    density = (9 + 1) / (floor.seen_m2[0] - spot_m2[0])
    assert spot[0] == pytest.approx(density * spot_m2[0] * (1 - FOUND_HIDDEN))


def test_a_head_is_found_in_the_top_third_of_a_box_only():
    box = np.array([[100.0, 100.0, 130.0, 190.0]])  # 30 px top third: rows 100-130
    heads = np.array([[115.0, 110.0], [115.0, 97.0], [115.0, 150.0], [140.0, 110.0]])
    assert head_found(heads, box).tolist() == [True, True, False, False]
    assert head_found(heads, np.zeros((0, 4))).tolist() == [False] * 4


def test_missed_heads_are_tallied_on_the_spots_where_someone_stays_missed(tmp_path):
    """24 frames: a walker found in each, a sitter at (300, 200) missed in every frame but the
    first, and a passer-by missed every 4th frame, at a new spot each time."""
    rows = ["frame,x,y"]
    frames = []
    for index in range(24):
        walker = (20.0 + 25 * index, 50.0)
        rows += [f"{index + 1},{walker[0]},{walker[1]}", f"{index + 1},300.0,200.0"]
        found = [[walker[0] - 10, walker[1] - 5, walker[0] + 10, walker[1] + 55]]
        if index == 0:
            found.append([290.0, 195.0, 310.0, 255.0])  # the sitter, found once
        if index % 4 == 0:
            rows.append(f"{index + 1},{100.0 + 20 * index},400.0")
        frames.append(Recorded(index, np.array(found), np.zeros((0, 4))))
    heads = tmp_path / "heads.csv"
    heads.write_text("\n".join(rows) + "\n")
    line = missed_spots(frames, heads)
    # 29 of 54 heads missed: the sitter's 23 on the one spot missed on 3 frames or more (11 in
    # the first 12 frames, 12 in the last), and the 6 passers-by, each on a spot of their own
    assert line.startswith(
        "heads missed (1.2 a frame of 2.2): 79% of them (1.0 a frame; 0.9 and 1.0 in each half)"
    )
    assert "on 1 spots of 10 px" in line
    assert line.endswith("heads found there 4%, elsewhere 80%")


def bench_output(*args: str) -> str:
    """What bench/occupancy_hidden_area.py prints with `args` (printed too, for the report)."""
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench/occupancy_hidden_area.py"), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    print(out)
    return out


@pytest.mark.slow
def test_the_bench_on_the_shipped_pipeline_prints_its_own_figure_and_each_rule(assets):
    out = bench_output("--shipped", "--frames", "140", "--pets09")
    figure = r"MAE (\d+\.\d\d) \(bias ([+-]\d+\.\d\d)\)"
    [own] = re.findall(rf"the pipeline's own 10 s buckets: {figure}", out)
    [(there, elsewhere)] = re.findall(r"heads missed .* heads found there (\d+)%, elsewhere (\d+)%", out)
    assert int(there) < int(elsewhere)
    halves = {}
    for key, name in (
        ("shipped", "shipped"),
        ("twice", "expected added, held counted twice"),
        ("minus", "\\(a\\) [^:]+"),
        ("spot", "\\(b\\) [^:]+"),
    ):
        [halves[key]] = re.findall(rf"  {name}: frames 1-80 {figure}, 81-140 {figure}, all {figure}", out)
    # the count a frame is the pipeline's (whose first frame stands for a little less time)
    assert np.allclose([float(v) for v in halves["shipped"][4:]], [float(v) for v in own], atol=0.02)
    bias = {key: float(found[5]) for key, found in halves.items()}
    assert bias["shipped"] < bias["minus"] <= bias["twice"]  # (a) adds, less than counting twice
    for zone in ("path", "crossroad"):
        assert re.search(
            rf"  {zone} \(annotated \d\.\d\d a frame\): shipped {figure}; held counted twice {figure}; "
            rf"\(a\) {figure}; \(b\) {figure}",
            out,
        )


@pytest.mark.slow
def test_the_bench_prints_each_half_the_slope_and_pets09(assets):
    out = bench_output("--frames", "140", "--pets09")
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
