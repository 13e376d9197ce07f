"""The floor analytics on small synthetic trajectories (floor metres, seconds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.aggregator import Aggregator
from edge.analytics import Flows, Heatmap, Lines, Live, Zones
from edge.analytics.flows import heading_bin
from edge.analytics.tracks import TrackStates
from edge.types import FloorObservation
from footfall_core.contract import AGGREGATE_KINDS, parse_aggregate
from footfall_core.floor import ZoneMap, cell_indices, cell_sums, grid_size
from footfall_core.store import FloorPlan, Line, Zone, parse_config

PLAN = FloorPlan(origin_m=(-5.0, -5.0), width_m=20.0, height_m=10.0)
SHELF = Zone(name="shelf", polygon_m=[(0, 0), (4, 0), (4, 4), (0, 4)])
TILL = Zone(name="till", polygon_m=[(6, 0), (8, 0), (8, 2), (6, 2)])
DOOR = Line(name="door", start_m=(0, 0), end_m=(4, 0))


def obs(t_s: float, points, ids=None, dt_s: float = 0.5) -> FloorObservation:
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    ids = np.arange(len(points)) if ids is None else np.asarray(ids)
    return FloorObservation(timestamp_s=t_s, dt_s=dt_s, floor_xy=points, track_id=ids)


def walk(lines: Lines, ys, x: float = 2.0, track: int = 7, t0: float = 0.0) -> None:
    for k, y in enumerate(ys):
        lines.observe(obs(t0 + 0.5 * k, [(x, y)], [track]))


# --- lines -------------------------------------------------------------------------------------


def test_line_crossings_both_ways():
    lines = Lines([DOOR], hysteresis_m=0.3, track_timeout_s=3)
    walk(lines, [1.0, 0.5, 0.1, -0.2, -0.6, -1.0])  # right (y > 0, below on the plan) -> left: in
    walk(lines, [-1.0, -0.4, 0.2, 0.9], track=8, t0=10)  # back: out
    [count] = lines.collect()
    assert (count.in_count, count.out_count) == (1, 1)
    [count] = lines.collect()
    assert (count.in_count, count.out_count) == (0, 0), "collect resets the bucket"


def test_lingering_on_the_line_counts_once():
    lines = Lines([DOOR], hysteresis_m=0.3, track_timeout_s=3)
    walk(lines, [1.0, 0.1, -0.1, 0.15, -0.2, 0.1, -0.25, 0.2, -0.1, -0.8])
    [count] = lines.collect()
    assert (count.in_count, count.out_count) == (1, 0)


def test_a_position_known_less_well_must_go_further_past_the_line():
    """A far person's feet wander by more than the fixed margin: 0.45 m each side of the line is
    a crossing and back for exact positions, and nothing for positions known to 0.3 m across it
    (margin 0.3 + 1 × 0.3 m)."""
    ys = [1.0, 0.45, -0.45, 0.45, -0.45, 0.45, 1.0]
    sloppy = np.diag([0.05**2, 0.3**2])  # x along the door, y across it
    for cov, want in ((None, (2, 2)), (sloppy, (0, 0))):
        lines = Lines([DOOR], hysteresis_m=0.3, track_timeout_s=3, hysteresis_sigmas=1.0)
        for k, y in enumerate(ys):
            lines.observe(
                FloorObservation(
                    0.5 * k,
                    0.5,
                    np.array([[9.0, 9.0]]),  # measured: lines use the filter's position when given
                    np.array([7]),
                    track_state=np.array([[2.0, y, 0.0, 0.0]]),
                    track_state_cov=np.zeros((1, 4, 4)) if cov is None else np.pad(cov, (0, 2))[None],
                )
            )
        [count] = lines.collect()
        assert (count.in_count, count.out_count) == want


def test_crossing_outside_the_segment_does_not_count():
    lines = Lines([DOOR], hysteresis_m=0.3, track_timeout_s=3)
    walk(lines, [1.0, -1.0], x=5.0)  # beyond the end of the segment
    walk(lines, [1.0, 0.8, 1.0], x=2.0, track=9, t0=5)  # never crosses
    [count] = lines.collect()
    assert (count.in_count, count.out_count) == (0, 0)


def test_untracked_people_never_count_and_line_state_is_pruned():
    lines = Lines([DOOR], hysteresis_m=0.3, track_timeout_s=3)
    walk(lines, [1.0, -1.0], track=-1)
    assert lines.collect()[0].in_count == 0
    for k in range(50):
        lines.observe(obs(k, [(2.0, 1.0)], [k]))  # a new id every second
    assert lines.open_tracks <= 4, "tracks unseen for 3 s are forgotten"


# --- zones -------------------------------------------------------------------------------------


def test_zone_occupancy_counts_everyone_time_weighted():
    zones = Zones([SHELF], min_dwell_s=10, exit_grace_s=1, track_timeout_s=3)
    zones.observe(obs(0.0, [(1, 1), (2, 2), (9, 9)], [-1, 3, -1], dt_s=1.0))  # 2 inside
    zones.observe(obs(1.0, [(1, 1)], [-1], dt_s=3.0))  # 1 inside, for 3 s
    [stats] = zones.collect(covered_s=4.0)
    assert stats.max_occupancy == 2
    assert stats.person_seconds == pytest.approx(2 * 1 + 1 * 3)
    assert stats.mean_occupancy == pytest.approx(5 / 4)
    assert stats.entries == 1, "only the tracked person enters"


@pytest.mark.parametrize("stay_s, dwells", [(5.0, []), (12.0, [12.0])])
def test_dwell_under_and_over_min(stay_s, dwells):
    zones = Zones([SHELF], min_dwell_s=10, exit_grace_s=1, track_timeout_s=3)
    t = np.arange(0, stay_s + 0.01, 0.5)
    for k in t:
        zones.observe(obs(k, [(2, 2)], [1]))
    for k in np.arange(stay_s + 0.5, stay_s + 3, 0.5):
        zones.observe(obs(k, [(10, 2)], [1]))  # walks out, stays out past the grace
    [stats] = zones.collect(covered_s=1)
    assert stats.entries == 1
    assert stats.dwells_s == pytest.approx(dwells)


def test_stepping_out_within_grace_is_one_stay():
    zones = Zones([SHELF], min_dwell_s=10, exit_grace_s=1, track_timeout_s=3)
    path = [(2, 2)] * 10 + [(4.3, 2)] + [(2, 2)] * 14  # 0.5 s outside at 5 s
    for k, p in enumerate(path):
        zones.observe(obs(0.5 * k, [p], [1]))
    zones.end(now_s=20)
    [stats] = zones.collect(covered_s=1)
    assert stats.entries == 1
    assert stats.dwells_s == pytest.approx([12.0])


def test_stay_ends_when_the_track_times_out_and_state_is_pruned():
    zones = Zones([SHELF], min_dwell_s=10, exit_grace_s=1, track_timeout_s=3)
    for k in range(25):
        zones.observe(obs(0.5 * k, [(2, 2)], [1]))  # inside from 0 to 12 s, then vanishes
    zones.observe(obs(13.0, [(10, 2)], [2]))
    assert zones.collect(covered_s=1)[0].dwells_s == []
    zones.observe(obs(16.0, [(10, 2)], [2]))
    assert zones.collect(covered_s=1)[0].dwells_s == pytest.approx([12.0])
    assert zones.open_tracks == 1


# --- flows -------------------------------------------------------------------------------------


def test_zone_transitions_follow_the_last_zone():
    flows = Flows(PLAN, [SHELF, TILL], flow_cell_m=1, min_step_m=0.15, track_timeout_s=3)
    path = [(2, 2), (3, 2), (5, 1), (7, 1), (7, 1.5), (2, 2)]  # shelf -> (aisle) -> till -> shelf
    for k, p in enumerate(path):
        flows.observe(obs(k, [p], [4]))
    transitions, _ = flows.collect()
    counts = {(t.from_zone, t.to_zone): t.count for t in transitions}
    assert counts == {("shelf", "till"): 1, ("till", "shelf"): 1}


def test_direction_bins_and_min_step():
    steps = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [1, -0.3]])
    assert list(heading_bin(steps)) == [0, 2, 4, 6, 1, 0]
    flows = Flows(PLAN, [], flow_cell_m=1, min_step_m=0.15, track_timeout_s=3)
    for k in range(5):
        flows.observe(obs(k, [(0.5 + 0.1 * k, 0.5)], [1]))  # 0.1 m steps: the anchor catches up every 2
    for k in range(3):
        flows.observe(obs(10 + k, [(0.5, 0.5 + 0.05 * (k % 2))], [2]))  # jitter below min_step
    _, directions = flows.collect()
    assert directions == [(5, 5, [2, 0, 0, 0, 0, 0, 0, 0])]  # cell of (0.6, 0.5) from origin (-5, -5)


def test_flow_state_is_pruned():
    flows = Flows(PLAN, [SHELF], flow_cell_m=1, min_step_m=0.15, track_timeout_s=3)
    for k in range(100):
        flows.observe(obs(k, [(1, 1)], [k]))
    assert flows.open_tracks <= 4


# --- heat and live -----------------------------------------------------------------------------


def test_heatmap_person_seconds_per_cell_drops_points_off_the_plan():
    heat = Heatmap(PLAN, cell_m=0.5)
    heat.observe(obs(0, [(0.1, 0.1), (0.2, 0.3), (-4.9, 4.9), (15.1, 0), (0, -5.1)], [-1] * 5, dt_s=0.2))
    heat.observe(obs(1, [(0.1, 0.1)], [-1], dt_s=0.3))
    assert heat.collect() == [(0, 19, 0.2), (10, 10, 0.7)]
    assert heat.collect() == []


def test_live_every_interval_with_zone_occupancy():
    live = Live("shop-1", "cam-a", PLAN, [SHELF], cell_m=1.0, interval_s=2.0)
    sent = [live.observe(obs(0.5 * k, [(1, 1), (1.2, 1.1), (9, 0)], [-1, -1, -1])) for k in range(9)]
    messages = [m for m in sent if m is not None]
    assert len(messages) == 3  # at 0, 2 and 4 s
    m = messages[0]
    assert (m.people, m.zones[0].occupancy, m.cameras) == (3, 2, ["cam-a"])
    assert m.cells == [(6, 6, 2), (14, 5, 1)]


# --- buckets -----------------------------------------------------------------------------------


def test_aggregator_closes_aligned_buckets_with_covered_seconds():
    config = parse_config(
        {
            "store": {"id": "shop-1"},
            "floor_plan": {"origin_m": [-5, -5], "width_m": 20, "height_m": 10},
            "analysis": {"bucket_s": 10},
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
            "zones": [SHELF.model_dump()],
            "lines": [DOOR.model_dump()],
        }
    )
    agg = Aggregator(config, "cam-a")
    t0 = 1_700_000_005.0  # 5 s into a 10 s bucket
    out = []
    for k in range(30):  # 15 s at 2 Hz
        out += agg.observe(obs(t0 + 0.5 * k, [(2, 1.0 - 0.2 * k)], [1]))
    out += agg.flush(t0 + 15)
    assert [m.kind for m in out] == list(AGGREGATE_KINDS) * 2
    first, second = out[:5], out[5:]
    assert first[0].bucket_start.timestamp() == 1_700_000_000
    assert second[0].bucket_start.timestamp() == 1_700_000_010
    assert first[0].covered_s == pytest.approx(5.0) and second[0].covered_s == pytest.approx(10.0)
    assert sum(m.lines[0].in_count for m in (first[2], second[2])) == 1
    for m in out:
        assert parse_aggregate(m.to_json()) == m


def _even_odd(x: float, y: float, polygon) -> bool:
    """Plain ray casting towards +x, one edge at a time: the reference for ZoneMap."""
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1]):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def test_zone_map_agrees_with_ray_casting_for_every_zone_at_once():
    notch = [(0.0, 0.0), (6.0, 0.0), (6.0, 5.0), (3.0, 2.0), (0.0, 5.0)]  # concave, horizontal edges
    polygons = [SHELF.polygon_m, TILL.polygon_m, notch, [(2.0, -1.0), (5.0, 3.0), (-1.0, 3.0)]]
    points = np.random.default_rng(1).uniform(-2, 9, size=(500, 2))
    points[:4] = [(2, 0), (3, 2), (6, 1), (4, 4)]  # on edges and vertices too
    inside = ZoneMap(polygons).inside(points)
    expected = [[_even_odd(x, y, [tuple(v) for v in poly]) for poly in polygons] for x, y in points]
    assert inside.shape == (500, 4)
    assert np.array_equal(inside, np.array(expected))
    assert 50 < inside.sum() < 1500, "the points fall inside and outside"
    assert ZoneMap([]).inside(points).shape == (500, 0)


def test_zones_and_flows_count_the_same_with_a_shared_zone_lookup():
    """The aggregator computes point-in-zone once a frame and hands it to zones and flows."""
    path = [(-1 + 0.4 * k, 1 + 0.02 * k) for k in range(25)]  # shelf -> out -> till, and back
    separate = (Zones([SHELF, TILL], 1.0, 1.0, 5.0), Flows(PLAN, [SHELF, TILL], 1.0, 0.3, 5.0))
    shared = (Zones([SHELF, TILL], 1.0, 1.0, 5.0), Flows(PLAN, [SHELF, TILL], 1.0, 0.3, 5.0))
    for k, p in enumerate(path + path[::-1]):
        o = obs(0.5 * k, [p, (7, 1)], [1, -1])
        for analytic in separate:
            analytic.observe(o)
        inside = shared[0].zone_map.inside(o.floor_xy)
        for analytic in shared:
            analytic.observe(o, inside)
    flows = separate[1].collect()
    transitions = [(t.from_zone, t.to_zone, t.count) for t in flows[0]]
    assert transitions == [("shelf", "till", 1), ("till", "shelf", 1)]
    assert flows == shared[1].collect()
    assert separate[0].collect(30.0) == shared[0].collect(30.0)


def test_cell_sums_count_the_cells_cell_indices_numbers_adding_in_input_order():
    """Points on the plan, off it on each side, on its far edges and NaN (above the horizon)."""
    plan = FloorPlan(width_m=4.0, height_m=3.0, origin_m=(-1.0, 0.5))
    rng = np.random.default_rng(3)
    points = np.concatenate(
        [rng.uniform((-2.0, -0.5), (4.0, 4.5), (200, 2)), [[3.0, 1.0], [0.0, 3.5], [np.nan, 1.0]]]
    )
    cells, on_plan = cell_indices(points, plan, 0.5)
    expected: dict[tuple[int, int], float] = {}
    for cell in map(tuple, cells.tolist()):
        expected[cell] = expected.get(cell, 0.0) + 0.1
    sums = cell_sums(points, plan, 0.5, 0.1)
    assert sums == expected and list(sums) == list(expected) and 0 < on_plan.sum() < len(points)
    assert cell_sums(np.empty((0, 2)), plan, 0.5, 0.1) == {}


def test_a_point_a_rounding_step_inside_the_far_edge_falls_in_the_last_cell():
    """3.6 m / 0.3 m is 12 cells, but just under 3.6 m divides out to 12.0: cell 12 does not
    exist (ownership indexes its grid with it, heat would send it)."""
    plan = FloorPlan(width_m=3.6, height_m=3.6)
    edge_m = float(np.nextafter(3.6, 0.0))
    assert math.floor(edge_m / 0.3) == 12 and grid_size(plan, 0.3) == (12, 12)
    cells, on_plan = cell_indices(np.array([[edge_m, edge_m], [0.0, 0.0]]), plan, 0.3)
    assert cells.tolist() == [[11, 11], [0, 0]] and on_plan.all()
    assert cell_sums(np.array([[edge_m, 1.0]]), plan, 0.3, 1.0) == {(11, 3): 1.0}


def test_track_states_expire_exactly_the_tracks_a_full_scan_would():
    """`TrackStates.expire` skips its scan while nothing can have timed out: over random sight
    times, the clock stepping back now and then, it closes the same tracks at the same calls
    as a scan of every track at every call."""
    rng = np.random.default_rng(6)
    states, last_seen = TrackStates(2.0, dict), {}
    now_s, closed = 100.0, 0
    for _ in range(3000):
        now_s += rng.choice([0.1, 0.5, 1.5, -3.0], p=[0.6, 0.25, 0.1, 0.05])
        for track in rng.choice(30, rng.integers(0, 4), replace=False).tolist():
            states.seen(track, now_s)
            last_seen[track] = now_s
        expected = sorted(t for t, seen_s in last_seen.items() if now_s - seen_s > 2.0)
        gone = states.expire(now_s)
        assert sorted(seen_s for _, seen_s in gone) == sorted(last_seen.pop(t) for t in expected)
        assert len(states) == len(last_seen)
        closed += len(gone)
    assert closed > 500
