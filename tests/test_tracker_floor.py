"""C-BIoU asking the floor as well as box overlap (`edge.tracker._FloorCBIoU`), on made-up walkers:
at 2 frames a second each steps 0.7 m a frame, more than its box's width, so box overlap alone
loses them; a stranger whose box overlaps someone's is not given their track."""

from __future__ import annotations

import numpy as np
import pytest

from edge.tracker import Tracker, _FloorCBIoU
from edge.types import Detections

FPS = 2.0
M_PER_PX = 0.01  # the made-up camera looks straight down: 1 px is 1 cm of floor
WIDTH_PX, HEIGHT_PX = 40.0, 120.0
STEP_PX = 70.0  # 0.7 m a frame at 2 fps: 1.4 m/s


def feet_on_floor(xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The made-up calibration: feet (bottom centre) scaled to metres, 5 cm of doubt per axis."""
    xyxy_px = np.asarray(xyxy_px, np.float64).reshape(-1, 4)
    feet = np.c_[(xyxy_px[:, 0] + xyxy_px[:, 2]) / 2, xyxy_px[:, 3]] * M_PER_PX
    return feet, np.tile(0.05**2 * np.eye(2), (len(feet), 1, 1))


def boxes(feet_px: list[tuple[float, float]]) -> Detections:
    xyxy = [(x - WIDTH_PX / 2, y - HEIGHT_PX, x + WIDTH_PX / 2, y) for x, y in feet_px]
    return Detections(np.array(xyxy, np.float64), np.full(len(xyxy), 0.9))


def ids_of(tracker: Tracker, walks: list[list[tuple[float, float]]]) -> list[set[int]]:
    """Each walker's confirmed ids over the frames; `walks[frame][walker]` is their feet (px)."""
    seen: list[set[int]] = [set() for _ in walks[0]]
    for k, feet in enumerate(walks):
        tracks = tracker.update(boxes(feet), 100.0 + k / FPS)
        for walker, track_id in enumerate(tracks.track_id.tolist()):
            if track_id >= 0:
                seen[walker].add(track_id)
    return seen


def passing(frames: int = 12, apart_px: float = 60.0) -> list[list[tuple[float, float]]]:
    """Two walkers in opposite directions, `apart_px` across each other's path, passing mid-way."""
    return [
        [(100.0 + STEP_PX * k, 500.0), (100.0 + STEP_PX * (frames - 1 - k), 500.0 + apart_px)]
        for k in range(frames)
    ]


def test_two_people_passing_at_2_fps_keep_their_ids():
    seen = ids_of(Tracker(frame_rate=FPS, feet_on_floor=feet_on_floor), passing())
    assert [len(s) for s in seen] == [1, 1]
    assert seen[0] != seen[1]


def test_box_overlap_alone_loses_them():
    """Why the floor: on box overlap alone the same walkers are confirmed once in 12 frames,
    where they pass, and then each under the other's id."""
    tracker = Tracker(frame_rate=FPS)
    confirmed = [
        tracker.update(boxes(feet), 100.0 + k / FPS).track_id >= 0 for k, feet in enumerate(passing())
    ]
    assert np.sum(confirmed) <= 2


@pytest.mark.parametrize("apart_px", [30.0, 60.0, 120.0])
def test_a_crowd_walking_side_by_side_keeps_its_ids(apart_px):
    """Four people abreast, `apart_px` apart (0.3-1.2 m), walking the same way at 2 fps."""
    walks = [[(100.0 + STEP_PX * k, 300.0 + apart_px * p) for p in range(4)] for k in range(10)]
    seen = ids_of(Tracker(frame_rate=FPS, feet_on_floor=feet_on_floor), walks)
    assert [len(s) for s in seen] == [1, 1, 1, 1]
    assert len(set().union(*seen)) == 4


def test_feet_above_the_horizon_fall_back_to_box_overlap():
    """A calibration that puts nobody on the floor (NaN) leaves C-BIoU as it is."""

    def nowhere(xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(xyxy_px)
        return np.full((n, 2), np.nan), np.full((n, 2, 2), np.nan)

    slow = [[(100.0 + 5.0 * k, 500.0)] for k in range(6)]  # 5 px a frame: the boxes overlap
    assert ids_of(Tracker(frame_rate=FPS, feet_on_floor=nowhere), slow) == ids_of(
        Tracker(frame_rate=FPS), slow
    )


def test_a_lost_track_is_not_matched_on_the_floor():
    """A walker missed for two frames is not taken back by the floor match (the floor filter
    joins them, edge.floor_tracks): the tracker gives them a new id."""
    walk = [[(100.0 + STEP_PX * k, 500.0)] for k in range(10)]
    walk[5] = walk[6] = []  # missed twice: lost
    seen: set[int] = set()
    tracker = Tracker(frame_rate=FPS, feet_on_floor=feet_on_floor)
    for k, feet in enumerate(walk):
        tracks = tracker.update(
            boxes(feet) if feet else Detections(np.zeros((0, 4)), np.zeros(0)), 100.0 + k / FPS
        )
        seen |= {t for t in tracks.track_id.tolist() if t >= 0}
    assert len(seen) == 2


@pytest.mark.parametrize(("fps", "on_floor"), [(2.0, True), (5.0, True), (6.0, False), (10.0, False)])
def test_the_floor_match_runs_under_6_frames_a_second(fps, on_floor):
    """From 6 a second a walker's step is within their box: box overlap alone, at no extra cost."""
    tracker = Tracker(frame_rate=fps, feet_on_floor=feet_on_floor)
    assert isinstance(tracker._tracker, _FloorCBIoU) is on_floor


def oblique(xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A made-up camera that sees the floor at a slant: 1 px of image height is 5 cm of floor
    depth (1 px across, 1 cm), 5 cm of doubt per axis."""
    xyxy_px = np.asarray(xyxy_px, np.float64).reshape(-1, 4)
    feet = np.c_[(xyxy_px[:, 0] + xyxy_px[:, 2]) / 2 * M_PER_PX, xyxy_px[:, 3] * 0.05]
    return feet, np.tile(0.05**2 * np.eye(2), (len(feet), 1, 1))


def test_a_stranger_whose_box_overlaps_does_not_take_the_track():
    """At 5 frames a second, someone stands still and leaves; the next frame a stranger stands
    3 m behind them on the floor, whose box overlaps theirs in the image. The floor says the
    stranger is not where the first person could have walked since: a new id. On box overlap
    alone the stranger takes the first person's id."""
    fps = 5.0
    stay = [[(100.0, 500.0)]] * 8 + [[(100.0, 560.0)]] * 8

    def people(tracker: Tracker) -> list[set[int]]:
        seen: list[set[int]] = [set(), set()]
        for k, feet in enumerate(stay):
            [track_id] = tracker.update(boxes(feet), 100.0 + k / fps).track_id.tolist()
            if track_id >= 0:
                seen[k >= 8].add(track_id)
        return seen

    first, stranger = people(Tracker(frame_rate=fps, feet_on_floor=oblique))
    assert len(first) == 1 and stranger and not first & stranger
    first, stranger = people(Tracker(frame_rate=fps))
    assert first == stranger


def test_a_frame_asks_the_floor_once_for_all_its_stages():
    """The association stages of a frame (confident boxes, then low-scored ones for the tracks
    left, then new tracks) read the feet of one `feet_on_floor` call, and walkers are followed
    as when each stage asked: two walkers passing, one of them scored under the confident
    stage's threshold on every other frame once followed, and a third who appears half-way."""
    calls: list[int] = []

    def counted(xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(xyxy_px))
        return feet_on_floor(xyxy_px)

    tracker = Tracker(frame_rate=FPS, feet_on_floor=counted)
    walks = passing()
    seen: list[set[int]] = [set(), set(), set()]
    for k, feet in enumerate(walks):
        feet = feet + [(300.0, 200.0 + 10.0 * k)] if k >= len(walks) // 2 else feet
        detections = boxes(feet)
        detections.confidence[1] = 0.3 if k >= 3 and k % 2 else 0.9  # the low stage continues their track
        calls.clear()
        tracks = tracker.update(detections, 100.0 + k / FPS)
        assert len(calls) == (k > 0)  # the first frame has no tracks to match
        for walker, track_id in enumerate(tracks.track_id.tolist()):
            if track_id >= 0:
                seen[walker].add(track_id)
    assert [len(s) for s in seen] == [1, 1, 1]
    assert len(set().union(*seen)) == 3
