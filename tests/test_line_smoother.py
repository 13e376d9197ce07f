"""The lines' fixed-lag smoother (edge.analytics.smoother) on synthetic walkers through the
floor filter: closer to the walk than the filter, every frame handed out once and late by
lag_s to 2 × lag_s, nothing lost when a track or the stream ends, and off as before."""

from __future__ import annotations

import numpy as np
import pytest

from edge.aggregator import Aggregator
from edge.analytics import Lines
from edge.analytics.smoother import LinePositions, LineSmoother
from edge.floor_tracks import FloorTracks
from edge.types import FloorObservation
from footfall_core.store import ConfigError, Line, parse_config

FPS = 7.0
DOOR = Line(name="door", start_m=(0, 0), end_m=(4, 0))


def observations(
    t_s: np.ndarray, walks_m: list[np.ndarray], sigma_m: float, seed: int = 0
) -> list[FloorObservation]:
    """Walkers (each (T, 2) m, NaN where absent) measured with `sigma_m` of noise per axis,
    through the floor filter, as the pipeline makes its observations."""
    rng = np.random.default_rng(seed)
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0)
    out = []
    for k, s in enumerate(t_s):
        here = [j for j, walk in enumerate(walks_m) if np.isfinite(walk[k]).all()]
        measured = np.array([walks_m[j][k] for j in here]).reshape(-1, 2)
        measured = measured + rng.normal(0.0, sigma_m, measured.shape)
        cov = np.tile(np.eye(2) * sigma_m**2, (len(here), 1, 1))
        people = tracks.update(s, np.array(here, np.int64), measured, cov)
        out.append(FloorObservation(s, 1 / FPS, measured, people.person_id, people.state, people.state_cov))
    return out


def test_smoothed_positions_are_closer_to_the_walk_than_filtered_ones():
    """A walker at 1.2 m/s, weaving 0.5 m either side, measured with 0.3 m of noise: with 1 s
    of what follows each position, the error is well under the filter's."""
    t = np.arange(140) / FPS
    walk = np.stack([1.2 * t, 5.0 + 0.5 * np.sin(0.5 * t)], axis=1)
    obs = observations(t, [walk], 0.3)
    smoother = LineSmoother(lag_s=1.0, accel_m_s2=1.0)
    smoothed = [p for o in obs for p in smoother.add(o)] + smoother.flush()
    filtered_m = np.array([np.linalg.norm(o.track_xy[0] - walk[k]) for k, o in enumerate(obs)])
    smoothed_m = np.array([np.linalg.norm(p.xy[0] - walk[k]) for k, p in enumerate(smoothed)])
    assert [p.timestamp_s for p in smoothed] == list(t), "every frame once, in order, at its own time"
    steady = slice(7, -7)  # past the filter's start, before the stream's end
    assert np.sqrt((smoothed_m[steady] ** 2).mean()) < 0.8 * np.sqrt((filtered_m[steady] ** 2).mean())
    assert all(
        np.linalg.det(p.cov_m2[0]) < np.linalg.det(o.track_cov_m2[0]) for p, o in zip(smoothed[:-1], obs[:-1])
    ), "and known better (but for the last, which nothing follows)"


def test_positions_reach_the_lines_lag_to_twice_the_lag_late():
    t = np.arange(70) / FPS
    obs = observations(t, [np.stack([t, np.zeros_like(t)], axis=1)], 0.1)
    smoother = LineSmoother(lag_s=1.0, accel_m_s2=1.0)
    for o in obs:
        for p in smoother.add(o):
            assert 1.0 <= o.timestamp_s - p.timestamp_s <= 2.0 + 1e-9
    assert len(smoother) <= 2 * FPS + 1, "no more than 2 lags of frames kept"
    assert smoother.flush()[-1].timestamp_s == t[-1] and len(smoother) == 0


def walk_across(t0_s: float, t_s: np.ndarray) -> np.ndarray:
    """Across the door (x = 2 m) from y = 2 m to y = -2 m at 1.2 m/s from `t0_s`, then gone."""
    y = 2.0 - 1.2 * (t_s - t0_s)
    walk = np.stack([np.full_like(t_s, 2.0), y], axis=1)
    walk[(t_s < t0_s) | (y < -2.0)] = np.nan
    return walk


def test_a_crossing_at_the_end_of_the_stream_is_counted_when_the_lines_end():
    """The stream ends a moment after the walker crossed (at 1.7 s, confirmed 0.3 m and a
    sigma past the door at 2 s): the crossing is still kept back, and `end` counts it."""
    t = np.arange(int(2.3 * FPS)) / FPS
    lines = Lines([DOOR], 0.3, 3.0, 1.0, smoothing_s=1.0, accel_m_s2=1.0)
    for o in observations(t, [walk_across(0.0, t)], 0.1):
        lines.observe(o)
    assert lines.collect()[0].in_count == 0, "not handed out yet"
    lines.end(t[-1])
    [count] = lines.collect()
    assert (count.in_count, count.out_count) == (1, 0)


def test_a_track_that_ends_is_counted_while_others_go_on():
    """One walker crosses and leaves at 3.4 s; another stands still: the first's crossing
    comes out within 2 lags of their last frame, with no end of the stream."""
    t = np.arange(int(6.0 * FPS)) / FPS
    standing = np.tile([6.0, 3.0], (len(t), 1))
    lines = Lines([DOOR], 0.3, 3.0, 1.0, smoothing_s=1.0, accel_m_s2=1.0)
    for o in observations(t, [walk_across(0.0, t), standing], 0.1):
        lines.observe(o)
    [count] = lines.collect()
    assert (count.in_count, count.out_count) == (1, 0)


def test_off_the_lines_count_the_filter_positions_as_they_come():
    """`smoothing_s=0`: each observation's filtered positions are counted in that observation,
    exactly as if they had been measured there."""
    t = np.arange(int(8 * FPS)) / FPS
    obs = observations(t, [walk_across(0.0, t), walk_across(4.0, t)], 0.3, seed=3)
    off = Lines([DOOR], 0.3, 3.0, smoothing_s=0.0)
    plain = Lines([DOOR], 0.3, 3.0)
    for o in obs:
        off.observe(o)
        plain.observe(FloorObservation(o.timestamp_s, o.dt_s, o.track_xy, o.track_id))
        assert off.collect() == plain.collect()


def test_without_the_filter_states_nothing_is_kept_back():
    smoother = LineSmoother(lag_s=1.0, accel_m_s2=1.0)
    out = smoother.add(FloorObservation(5.0, 0.5, np.array([[1.0, 2.0]]), np.array([4])))
    assert [(p.timestamp_s, p.track_id.tolist(), p.cov_m2) for p in out] == [(5.0, [4], None)]


def test_the_clock_stepping_back_hands_out_what_was_kept():
    t = np.arange(7) / FPS
    obs = observations(t, [np.stack([t, np.zeros_like(t)], axis=1)], 0.1)
    smoother = LineSmoother(lag_s=1.0, accel_m_s2=1.0)
    assert [p for o in obs for p in smoother.add(o)] == []
    out = smoother.add(obs[0])  # the source restarted
    assert [p.timestamp_s for p in out] == list(t) and len(smoother) == 1


def store(**analysis) -> dict:
    return {
        "store": {"id": "shop-1"},
        "floor_plan": {"origin_m": [-5, -5], "width_m": 20, "height_m": 10},
        "analysis": analysis,
        "cameras": [
            {
                "name": "cam-a",
                "source": "x.mp4",
                "calibration": {
                    "image_points_px": [[0, 0], [1, 0], [1, 1], [0, 1]],
                    "floor_points_m": [[0, 0], [1, 0], [1, 1], [0, 1]],
                },
            }
        ],
        "lines": [DOOR.model_dump()],
    }


def test_a_crossing_counts_in_the_bucket_open_when_it_comes_out():
    """Crossed at 9.4 s of a 10 s bucket: with smoothing it is counted in the next bucket."""
    config = parse_config(store(bucket_s=10, line_smoothing_s=1.0))
    aggregator = Aggregator(config, "cam-a")
    start_s = 1_700_000_000.0
    t = np.arange(int(12 * FPS)) / FPS
    out = []
    for o in observations(t, [walk_across(7.75, t)], 0.05):
        out += aggregator.observe(
            FloorObservation(
                start_s + o.timestamp_s, o.dt_s, o.floor_xy, o.track_id, o.track_state, o.track_state_cov
            )
        )
    out += aggregator.flush(start_s + t[-1])
    counts = [m.lines[0].in_count for m in out if m.kind == "lines"]
    assert counts == [0, 1]


def test_when_frames_stop_the_closing_bucket_counts_what_was_kept_back():
    """A live camera's frames stop 0.3 s after the walker crossed (confirmed at 3 s); the
    bucket closes by the wall clock 9 s later with the crossing in it."""
    config = parse_config(store(bucket_s=10, line_smoothing_s=1.0))
    aggregator = Aggregator(config, "cam-a")
    start_s = 1_700_000_000.0
    t = np.arange(int(3.3 * FPS)) / FPS
    for o in observations(t, [walk_across(1.0, t)], 0.05):
        aggregator.observe(
            FloorObservation(
                start_s + o.timestamp_s, o.dt_s, o.floor_xy, o.track_id, o.track_state, o.track_state_cov
            )
        )
    assert aggregator.lines.collect()[0].in_count == 0, "still kept back"
    [lines] = [m for m in aggregator.advance(start_s + 12.0) if m.kind == "lines"]
    assert lines.bucket_start.timestamp() == start_s and lines.lines[0].in_count == 1


@pytest.mark.parametrize("lag_s, accel_m_s2", [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0)])
def test_bad_settings_are_refused(lag_s, accel_m_s2):
    with pytest.raises(ValueError, match="must be > 0"):
        LineSmoother(lag_s, accel_m_s2)


def test_line_positions_of_an_observation_keep_only_followed_people():
    o = FloorObservation(1.0, 0.5, np.array([[1.0, 1.0], [2.0, 2.0]]), np.array([-1, 3]))
    p = LinePositions.of(o)
    assert p.track_id.tolist() == [3] and p.xy.tolist() == [[2.0, 2.0]] and p.cov_m2 is None


@pytest.mark.parametrize("lag_s, ok", [(None, True), (0, True), (5, True), (-0.5, False), (6, False)])
def test_the_setting_is_checked(lag_s, ok):
    analysis = {} if lag_s is None else {"line_smoothing_s": lag_s}
    if ok:
        assert parse_config(store(**analysis)).analysis.line_smoothing_s == (2.0 if lag_s is None else lag_s)
    else:
        with pytest.raises(ConfigError, match="analysis.line_smoothing_s"):
            parse_config(store(**analysis), "store.yaml")
