"""The floor filter (edge.floor_tracks) on synthetic walkers: smoothing by how far off each
measurement may be, tracks the image tracker broke joined again, and nothing joined that the
floor says are two people."""

from __future__ import annotations

import numpy as np
import pytest

from edge.floor_tracks import FloorTracks, predict, transition

FPS = 7.0


def cov(sigma_x_m: float, sigma_y_m: float, n: int = 1) -> np.ndarray:
    return np.tile(np.diag([sigma_x_m**2, sigma_y_m**2]), (n, 1, 1))


def test_a_far_walker_is_smoothed_by_the_doubt_of_each_measurement():
    """A walker at 1.2 m/s measured with 0.4 m of noise along the line of sight (y): the
    filtered positions are much closer to the walk than the measurements."""
    rng = np.random.default_rng(0)
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0)
    t = np.arange(70) / FPS
    truth = np.stack([1.2 * t, np.full_like(t, 5.0)], axis=1)
    measured = truth + rng.normal(0.0, [0.05, 0.4], truth.shape)
    filtered = np.array(
        [tracks.update(s, np.array([3]), measured[[k]], cov(0.05, 0.4)).floor_xy[0] for k, s in enumerate(t)]
    )
    raw_m = np.abs(measured[10:, 1] - truth[10:, 1]).mean()
    kept_m = np.abs(filtered[10:, 1] - truth[10:, 1]).mean()
    assert kept_m < raw_m / 2, (raw_m, kept_m)


def test_a_broken_track_continues_as_the_same_person():
    """The tracker loses id 3 and finds the walker again as id 8, 1 s later, where the walk
    predicts: one person. Someone new starting 4 m away is another."""
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0)
    for k in range(14):
        first = tracks.update(k / FPS, np.array([3]), np.array([[k / FPS, 0.0]]), cov(0.1, 0.1))
    resumed = tracks.update(3.0, np.array([8, 9]), np.array([[3.0, 0.0], [3.0, 4.0]]), cov(0.1, 0.1, 2))
    assert resumed.person_id[0] == first.person_id[0]
    assert resumed.person_id[1] not in (first.person_id[0], -1)
    later = tracks.update(3.0 + 1 / FPS, np.array([8]), np.array([[3.1, 0.0]]), cov(0.1, 0.1))
    assert later.person_id[0] == first.person_id[0], "the joined id keeps its person"


@pytest.mark.parametrize("rejoin_s, joined", [(None, True), (1.5, True), (1.0, False)])
def test_a_new_id_joins_a_person_lost_within_the_rejoin_window(rejoin_s, joined):
    """The walker of the test above, lost for 1.14 s: joined by the new id within `join_s` (one
    camera) and within a group's shorter window of 1.5 s, not within 1 s; the lost person is
    kept for `join_s` all the same, so their own id coming back continues them."""
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0, rejoin_s=rejoin_s)
    for k in range(14):
        first = tracks.update(k / FPS, np.array([3]), np.array([[k / FPS, 0.0]]), cov(0.1, 0.1))
    resumed = tracks.update(3.0, np.array([8]), np.array([[3.0, 0.0]]), cov(0.1, 0.1))
    assert (resumed.person_id[0] == first.person_id[0]) == joined
    back = tracks.update(3.0 + 1 / FPS, np.array([3]), np.array([[3.1, 0.0]]), cov(0.1, 0.1))
    assert back.person_id[0] == first.person_id[0]


def test_someone_who_walked_out_of_view_is_not_joined_by_who_walks_in():
    """A walker heads out of the camera's view (x >= 2 m) at 1.2 m/s, last seen at x = 1.9 m;
    1.4 s later, when the walk has them 1.6 m outside, a new id appears at the edge: with the
    view known, that is someone else, who must not inherit the walker's side of a line;
    without it, the walker back (as above)."""

    def walk_out(tracks: FloorTracks) -> tuple[int, int]:
        for k in range(14):
            left = tracks.update(
                k / FPS, np.array([3]), np.array([[0.5 + 1.2 * k / FPS, 0.0]]), cov(0.1, 0.1)
            )
        entered = tracks.update(3.0, np.array([8]), np.array([[2.0, 0.0]]), cov(0.1, 0.1))
        return int(left.person_id[0]), int(entered.person_id[0])

    def in_view(xy: np.ndarray) -> np.ndarray:
        return xy[:, 0] < 2.0

    walker, newcomer = walk_out(FloorTracks(accel_m_s2=1.0, join_s=3.0, in_view=in_view))
    assert newcomer not in (walker, -1)
    walker, same = walk_out(FloorTracks(accel_m_s2=1.0, join_s=3.0))
    assert same == walker


def test_an_id_that_comes_back_beside_its_continuation_is_another_person():
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0)
    tracks.update(0.0, np.array([1]), np.array([[0.0, 0.0]]), cov(0.1, 0.1))
    joined = tracks.update(0.5, np.array([2]), np.array([[0.0, 0.1]]), cov(0.1, 0.1))
    both = tracks.update(0.6, np.array([2, 1]), np.array([[0.0, 0.1], [0.0, -0.2]]), cov(0.1, 0.1, 2))
    assert both.person_id[0] == joined.person_id[0]
    assert both.person_id[1] != both.person_id[0]


def test_unconfirmed_and_off_floor_rows_pass_through_and_lost_people_are_forgotten():
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0)
    xy = np.array([[1.0, 1.0], [np.nan, np.nan], [2.0, 2.0]])
    out = tracks.update(0.0, np.array([-1, 4, 5]), xy, cov(0.2, 0.2, 3))
    assert out.person_id[0] == out.person_id[1] == -1
    assert out.person_id[2] >= 0
    np.testing.assert_array_equal(out.floor_xy[:2], xy[:2])
    for k in range(40):  # a new id every second, far apart: nobody is joined, old ones forgotten
        tracks.update(1.0 + k, np.array([100 + k]), np.array([[10.0 * k, 0.0]]), cov(0.1, 0.1))
    assert len(tracks) <= 4
    assert len(tracks._alias) <= 4, "the tracker ids of forgotten people are dropped too"


def test_a_clock_stepping_back_starts_everyone_afresh():
    """A live camera's clock corrected backwards by an hour: the people followed before are of
    another time and are not moved on to the new one (nor kept forever)."""
    tracks = FloorTracks(accel_m_s2=1.0, join_s=3.0)
    for k in range(5):
        tracks.update(7200.0 + k, np.array([1]), np.array([[float(k), 0.0]]), cov(0.1, 0.1))
    after = tracks.update(3600.0, np.array([1]), np.array([[9.0, 9.0]]), cov(0.1, 0.1))
    np.testing.assert_allclose(after.floor_xy[0], [9.0, 9.0])
    assert len(tracks) == 1


def test_settings_are_checked():
    with pytest.raises(ValueError, match="accel_m_s2"):
        FloorTracks(accel_m_s2=0.0, join_s=3.0)


def test_the_model_as_matrices_moves_a_state_as_the_filter_does():
    """`transition` (the lines' smoother) and `predict` (the filter): one walker model."""
    rng = np.random.default_rng(1)
    state, a = rng.normal(size=(1, 4)), rng.normal(size=(1, 4, 4))
    cov = a @ a.transpose(0, 2, 1)
    f, noise = transition(0.3, 1.5)
    moved, spread = predict(state.copy(), cov.copy(), np.array([0.3]), 1.5)
    assert np.allclose(moved[0], f @ state[0]) and np.allclose(spread[0], f @ cov[0] @ f.T + noise)


def test_a_step_adds_the_white_noise_accelerations_covariance():
    """From no doubt at all, a step of dt adds accel² × [[dt⁴/4, dt³/2], [dt³/2, dt²]] to each
    axis's (position, speed) covariance, and nothing across the axes."""
    dt_s, accel_m_s2 = np.array([0.5, 2.0]), 1.5
    _, spread = predict(np.zeros((2, 4)), np.zeros((2, 4, 4)), dt_s, accel_m_s2)
    for k, dt in enumerate(dt_s.tolist()):
        axis = accel_m_s2**2 * np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]])
        expected = np.zeros((4, 4))
        expected[np.ix_([0, 2], [0, 2])] = expected[np.ix_([1, 3], [1, 3])] = axis
        np.testing.assert_allclose(spread[k], expected, rtol=1e-12)
        np.testing.assert_allclose(transition(dt, accel_m_s2)[1], expected, rtol=1e-12)
