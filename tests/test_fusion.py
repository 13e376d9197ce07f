"""Fusion of overlapping cameras: floor uncertainty from the calibration, one person per group of
measurements, time alignment, group track ids, the store config of a group, the group's stage."""

from __future__ import annotations

import numpy as np
import pytest

from edge.aggregator import Aggregator
from edge.floor import CameraView
from edge.fusion import Fused, feet_covariance, fuse, inverse_2x2, measure
from edge.fusion_stage import FusionStage, Identities, Slot, Slots
from edge.types import Detections, FloorMeasurements, FloorObservation
from footfall_core.geometry import CameraGeometry
from footfall_core.store import ConfigError, parse_config
from tests.test_calibration_ownership import CAMERAS, SIZE_PX, camera_entry, store

FEET_SIGMA, FLOOR_SIGMA_M, GATE = 0.08, 0.15, 13.8


def geometries(config) -> dict[str, CameraGeometry]:
    return {c.name: CameraGeometry.from_config(c, SIZE_PX) for c in config.cameras}


def boxes_at(geometry: CameraGeometry, floor_m: np.ndarray, height_px: float = 200.0) -> Detections:
    """Boxes standing on floor points (N, 2) m: feet at the bottom centre, `height_px` tall."""
    feet = geometry.floor_to_image(floor_m)
    xyxy = np.c_[feet[:, 0] - height_px / 5, feet[:, 1] - height_px, feet[:, 0] + height_px / 5, feet[:, 1]]
    return Detections(xyxy, np.full(len(feet), 0.9))


def measured(geometry, floor_m, rng=None, track_id=None, timestamp_s=0.0) -> FloorMeasurements:
    """One camera's measurements of people at floor_m, boxes jittered by 5 % of their size if
    `rng` is given."""
    detections = boxes_at(geometry, floor_m)
    if rng is not None:
        size = detections.xyxy[:, [2, 3, 2, 3]] - detections.xyxy[:, [0, 1, 0, 1]]
        detections = Detections(
            detections.xyxy + rng.normal(size=size.shape) * 0.05 * size, detections.confidence
        )
    track_id = np.full(len(floor_m), -1) if track_id is None else track_id
    return measure(
        geometry.camera, timestamp_s, geometry, detections, track_id, SIZE_PX, FEET_SIGMA, FLOOR_SIGMA_M
    )


def test_the_floor_is_less_certain_far_away_and_where_a_box_is_cut():
    north = geometries(store())["north"]
    spots_m = np.array([[6.0, 5.0], [6.0, 15.0]])  # near, far from north (which stands at (6, 0))
    cov = feet_covariance(north, boxes_at(north, spots_m), SIZE_PX, FEET_SIGMA, FLOOR_SIGMA_M)
    spread_m = np.sqrt(np.linalg.eigvalsh(cov))  # (2, 2): smaller and larger axis
    assert spread_m[1, 1] > 3 * spread_m[0, 1]
    assert spread_m[:, 0].min() >= FLOOR_SIGMA_M
    # the long axis lies along the line of sight (floor y, from this camera)
    _, axes = np.linalg.eigh(cov[1])
    assert abs(axes[1, 1]) > 0.95
    # the image → floor Jacobian is the inverse of the scale the geometry reports the other way
    jacobian = north.image_to_floor_jacobian(north.floor_to_image(spots_m))
    np.testing.assert_allclose(
        1 / np.sqrt(np.abs(np.linalg.det(jacobian))), north.pixels_per_metre(spots_m), rtol=1e-3
    )
    # a box whose bottom is the frame's bottom edge may not end at the feet
    near = boxes_at(north, spots_m[:1]).xyxy
    cut = near.copy()
    cut[0, 3] = SIZE_PX[1]
    whole = near.copy()
    whole[0, 3] = SIZE_PX[1] - 5
    covs = [
        feet_covariance(north, Detections(b, [0.9]), SIZE_PX, FEET_SIGMA, FLOOR_SIGMA_M)[0]
        for b in (cut, whole)
    ]
    assert np.linalg.det(covs[0]) > 4 * np.linalg.det(covs[1])


def test_the_closed_form_inverse_inverts_any_2x2_matrix():
    """Not only covariances: a matrix whose off-diagonal terms differ (a Kalman step's covariance
    drifts from symmetry in its last bits) is inverted too, each of a stack."""
    matrices = np.random.default_rng(0).normal(size=(50, 2, 2))
    matrices[:, 0, 1] += 3.0  # far from symmetric
    identities = np.broadcast_to(np.eye(2), (50, 2, 2))
    np.testing.assert_allclose(inverse_2x2(matrices) @ matrices, identities, atol=1e-9)
    np.testing.assert_allclose(inverse_2x2(matrices), np.linalg.inv(matrices), rtol=1e-9)


def test_the_feet_doubt_is_the_boxes_doubt_through_the_jacobian_with_cut_sides_doubted_more():
    """Per box, as the docstring says: σx = feet_sigma × width, σy = feet_sigma × height, plus
    half the width (height) in quadrature where the left or right (bottom) edge cuts the box,
    mapped by the Jacobian at the feet, plus floor_sigma_m² in every direction."""
    north = geometries(store())["north"]
    width, height = SIZE_PX
    xyxy = np.array(
        [
            [300.0, 200.0, 380.0, 400.0],  # whole
            [0.0, 200.0, 60.0, 400.0],  # cut by the left edge
            [width - 50.0, 220.0, width, 420.0],  # cut by the right edge
            [500.0, height - 150.0, 560.0, height],  # cut by the bottom edge
        ]
    )
    boxes = Detections(xyxy, np.full(4, 0.9))
    cov = feet_covariance(north, boxes, SIZE_PX, FEET_SIGMA, FLOOR_SIGMA_M)
    for k, (cut_x, cut_y) in enumerate([(False, False), (True, False), (True, False), (False, True)]):
        box_w, box_h = xyxy[k, 2] - xyxy[k, 0], xyxy[k, 3] - xyxy[k, 1]
        var_x = (FEET_SIGMA * box_w) ** 2 + (box_w / 2) ** 2 * cut_x
        var_y = (FEET_SIGMA * box_h) ** 2 + (box_h / 2) ** 2 * cut_y
        jacobian = north.image_to_floor_jacobian(boxes.feet_xy[k : k + 1])[0]
        expected = jacobian @ np.diag([var_x, var_y]) @ jacobian.T + FLOOR_SIGMA_M**2 * np.eye(2)
        np.testing.assert_allclose(cov[k], expected, rtol=1e-12)


def test_a_person_cut_by_the_frames_bottom_is_put_beyond_it_within_the_doubt():
    """A person 2 m in front of north, whose box runs 168 px below the 720 px frame: the
    detector's box ends at the frame's edge, which projects 0.9 m behind them; their feet are
    put beyond it, 0.15 m behind them, well within the doubt given."""
    north = geometries(store())["north"]
    spot_m = np.array([[6.0, 2.0]])
    whole = boxes_at(north, spot_m, height_px=400).xyxy
    assert whole[0, 3] - SIZE_PX[1] == pytest.approx(168, abs=1)
    cut = Detections(np.minimum(whole, [np.inf, np.inf, np.inf, SIZE_PX[1]]), [0.9])
    [edge_m] = north.image_to_floor(cut.feet_xy)
    m = measure("north", 0.0, north, cut, np.array([-1]), SIZE_PX, FEET_SIGMA, FLOOR_SIGMA_M)
    error_m = m.floor_xy[0] - spot_m[0]
    assert abs(error_m[1]) < 0.5 * abs(edge_m[1] - spot_m[0, 1])
    assert error_m @ np.linalg.inv(m.cov_m2[0]) @ error_m < 2**2


def test_people_seen_by_both_cameras_count_once_and_those_one_missed_still_count():
    """North and south face each other over a 12 x 20 m floor; 12 people stand 2 m apart where
    both see them. North misses two of them, south two others: the fused people are the 12,
    each made of at most one measurement per camera, placed better than either camera alone."""
    rng = np.random.default_rng(3)
    geometry = geometries(store())
    grid_m = np.stack(np.meshgrid([3.0, 5.0, 7.0, 9.0], [7.0, 9.0, 11.0]), axis=-1).reshape(-1, 2)
    people_m = grid_m + rng.uniform(-0.3, 0.3, grid_m.shape)
    # (two people missed by one camera each and standing one behind the other along both
    # cameras' line of sight would be one person to them: these are not)
    seen = {"north": np.setdiff1d(np.arange(12), [0, 1]), "south": np.setdiff1d(np.arange(12), [3, 11])}
    measurements = [measured(geometry[name], people_m[seen[name]], rng) for name in CAMERAS]
    fused = fuse(measurements, GATE)
    assert len(fused) == 12
    for person in fused.person:
        assert len(np.unique(person)) == len(person), "one measurement per camera and person"
    who = np.full(len(fused), -1)
    for person, rows in zip(fused.person, seen.values()):
        who[person] = rows
    assert sorted(who) == list(range(12))
    error_m = np.linalg.norm(fused.floor_xy - people_m[who], axis=1)
    alone_m = np.concatenate(
        [np.linalg.norm(m.floor_xy - people_m[r], axis=1) for m, r in zip(measurements, seen.values())]
    )
    assert np.median(error_m) < np.median(alone_m)


def test_two_people_side_by_side_stay_two_and_a_position_without_floor_joins_nobody():
    geometry = geometries(store())
    pair_m = np.array([[5.7, 6.0], [6.3, 6.0]])  # 0.6 m apart, 6 m from north
    north = measured(geometry["north"], pair_m)
    south = measured(geometry["south"], pair_m)
    nan = FloorMeasurements(
        "south",
        0.0,
        np.vstack([south.floor_xy, [np.nan, np.nan]]),
        np.vstack([south.cov_m2, np.full((1, 2, 2), np.nan)]),
        [-1, -1, -1],
    )
    fused = fuse([north, nan], GATE)
    assert len(fused) == 2
    assert fused.person[1][2] == -1
    np.testing.assert_allclose(np.sort(fused.floor_xy[:, 0]), pair_m[:, 0], atol=0.05)
    nobody = FloorMeasurements("north", 0.0, np.zeros((0, 2)), np.zeros((0, 2, 2)), [])
    assert len(fuse([], GATE)) == 0 and len(fuse([nobody, nobody], GATE)) == 0


def at(camera: str, timestamp_s: float, track_id=(-1,)) -> FloorMeasurements:
    n = len(track_id)
    return FloorMeasurements(camera, timestamp_s, np.zeros((n, 2)), np.tile(np.eye(2), (n, 1, 1)), track_id)


def sight(at_m, towards_m, along_m: float, across_m: float = 0.1) -> np.ndarray:
    """A (2, 2) m² covariance long (`along_m`) on the line from `at_m` towards `towards_m`, as
    a far camera's feet are."""
    u = np.subtract(towards_m, at_m) / np.linalg.norm(np.subtract(towards_m, at_m))
    axes = np.array([u, [-u[1], u[0]]]).T
    return axes @ np.diag([along_m**2, across_m**2]) @ axes.T


def test_two_far_cameras_whose_lines_of_sight_cross_beside_two_people_do_not_make_a_third():
    """A near camera sees two people 1 m apart, precisely; two far cameras each see one of
    them with a long ellipse, and the two ellipses cross 1 m beyond, where nobody stands. The
    far cameras see more people elsewhere, so they are assigned first and the crossing looks
    like a person to them; each far measurement also fits its own person, and taking the
    crossing apart gives both back: two people there, not three."""
    one_m, two_m, crossing_m = np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([0.5, 1.0])
    elsewhere_m = np.array([[10.0, 10.0], [12.0, 10.0], [14.0, 10.0]])
    tight = np.tile(np.eye(2) * 0.1**2, (3, 1, 1))

    def far(camera: str, person_m: np.ndarray) -> FloorMeasurements:
        z = person_m + 0.9 * (crossing_m - person_m)
        cov = np.concatenate([[sight(person_m, crossing_m, 0.6)], tight])
        return FloorMeasurements(camera, 0.0, np.vstack([z, elsewhere_m]), cov, [-1] * 4)

    near = FloorMeasurements("near", 0.0, np.array([one_m, two_m]), tight[:2], [-1, -1])
    fused = fuse([far("far1", one_m), far("far2", two_m), near], GATE)
    assert len(fused) == 5
    (far1, far2, near_people) = fused.person
    assert far1[0] == near_people[0] and far2[0] == near_people[1]
    np.testing.assert_allclose(fused.floor_xy[near_people], [one_m, two_m], atol=0.05)
    for person in fused.person:
        assert len(np.unique(person)) == len(person), "one measurement per camera and person"


def test_an_instant_is_fused_once_every_running_camera_has_moved_past_it():
    slots = Slots(["a", "b"], period_s=0.2, max_lag_s=1.0)
    assert slots.add(at("a", 100.0)) == []
    assert slots.add(at("a", 100.2)) == []  # b has said nothing about 100.0 yet
    assert slots.add(at("b", 100.01)) == []  # b may still send something for 100.0
    [first] = slots.add(at("b", 100.21))
    assert [m.timestamp_s for m in first.measurements] == [100.0, 100.01] and first.timestamp_s == 100.01
    # b falls behind: an instant is fused without it once a is max_lag_s ahead of it
    out = []
    for k in range(2, 8):
        out += slots.add(at("a", 100.0 + 0.2 * k))
    assert [round(s.timestamp_s, 2) for s in out] == [100.21, 100.4]
    assert [m.timestamp_s for m in out[0].measurements] == [100.2, 100.21]
    assert [m.timestamp_s for m in out[1].measurements] == [100.4, 100.21], "b's last stands in once"
    assert slots.add(at("b", 100.4)) == [] and slots.late == 1  # too late: fused already
    # a stopped camera is not waited for; what a sent since is fused now, without b
    done = slots.stopped("b")
    assert [round(s.timestamp_s, 1) for s in done] == [100.6, 100.8, 101.0, 101.2]
    assert all([m.camera for m in s.measurements] == ["a"] for s in done)
    assert [round(s.timestamp_s, 1) for s in slots.flush()] == [101.4]
    with pytest.raises(ValueError, match="camera 'c' is not in this group"):
        slots.add(at("c", 102.0))


def test_a_person_keeps_their_group_id_from_one_camera_to_the_next():
    identities = Identities(timeout_s=3.0)

    def step(t, *people, nowhere=()):
        """people: each a list of (camera, its track id) links; `nowhere`: links of measurements
        that joined nobody (no floor position)."""
        cameras = sorted({c for links in (*people, nowhere) for c, _ in links})
        measurements, person = [], []
        for camera in cameras:
            rows = [(p, track) for p, links in enumerate(people) for c, track in links if c == camera]
            rows += [(-1, track) for c, track in nowhere if c == camera]
            measurements.append(at(camera, t, [track for _, track in rows]))
            person.append(np.array([p for p, _ in rows], np.int64))
        fused = Fused(np.zeros((len(people), 2)), np.tile(np.eye(2), (len(people), 1, 1)), person)
        return identities.update(Slot(t, measurements), fused).tolist()

    first = step(0.0, [("a", 4)], [("b", -1)])
    assert first[1] == -1 and first[0] >= 0
    assert step(0.2, [("a", 4), ("b", 9)], nowhere=[("c", 5)]) == [first[0]]
    assert step(0.4, [("b", 9)]) == [first[0]], "handed over to camera b"
    assert step(0.6, [("b", 9)], [("a", 4)]) == [first[0], first[0] + 1], "a's old track is a new person"
    assert step(0.8, [("c", 5)]) == [first[0] + 2], "a measurement that joined nobody links nobody"
    assert step(9.0, [("b", 9)])[0] not in first, "forgotten after the timeout"


def test_a_camera_track_that_jumps_to_someone_else_does_not_hand_them_the_group_id():
    """Camera a's tracker moves its track from a person who left onto a newcomer 4 m away: the
    newcomer is not the person who left (whose side of every line they would inherit), but a
    person who walks on at a walking pace keeps their id."""
    identities = Identities(timeout_s=3.0)

    def step(t, xy, links):
        measurements = [at(camera, t, [track]) for camera, track in links]
        fused = Fused(np.array([xy], float), 0.01 * np.eye(2)[None], [np.zeros(1, np.int64)] * len(links))
        return int(identities.update(Slot(t, measurements), fused)[0])

    leaving = step(0.0, (2.0, 2.0), [("a", 4), ("b", 7)])
    assert step(0.5, (2.6, 2.0), [("a", 4)]) == leaving, "walked 0.6 m in half a second"
    newcomer = step(1.0, (6.6, 2.0), [("a", 4), ("b", 8)])
    assert newcomer != leaving
    assert step(1.2, (6.8, 2.0), [("a", 4), ("b", 8)]) == newcomer


def test_a_camera_track_held_for_a_while_outweighs_two_just_started_on_a_neighbour():
    """Two people half a metre apart. The near camera has followed the first for 2 s; two far
    cameras restarted their tracks of the second a moment ago. The second is hidden for an
    instant and both far tracks move onto the first: two votes against one, but the near
    camera's, held for longer than a lost track's time, weighs 2.5 against their 1 each."""
    identities = Identities(timeout_s=3.0)

    def step(t, *people):
        """people: each ((x, y) m, [(camera, its track id), ...])."""
        cameras = sorted({c for _, links in people for c, _ in links})
        measurements, person = [], []
        for camera in cameras:
            rows = [(p, track) for p, (_, links) in enumerate(people) for c, track in links if c == camera]
            measurements.append(at(camera, t, [track for _, track in rows]))
            person.append(np.array([p for p, _ in rows], np.int64))
        xy = np.array([xy for xy, _ in people], float)
        fused = Fused(xy, np.tile(0.05**2 * np.eye(2), (len(people), 1, 1)), person)
        return identities.update(Slot(t, measurements), fused).tolist()

    one_m, two_m = (0.0, 0.0), (0.5, 0.0)
    first_links = [("near", 1), ("far1", 11), ("far2", 21)]
    for k in range(19):
        first, second = step(
            0.1 * k, (one_m, first_links), (two_m, [("near", 2), ("far1", 12), ("far2", 22)])
        )
    assert step(1.9, (one_m, first_links), (two_m, [("near", 2), ("far1", 32), ("far2", 42)])) == [
        first,
        second,
    ]
    assert step(2.0, (one_m, [("near", 1), ("far1", 32), ("far2", 42)])) == [first]


def test_the_group_follows_its_people_on_the_floor_across_new_track_ids():
    """A person walking where both cameras see them, whose tracks both cameras restart halfway:
    the group gives them a new group id, and the floor filter, which predicts where they walk,
    continues the person the analytics count (zones, flows and lines see one person), and
    hands the lines its filtered position, surer than the fused one."""
    base = store().model_dump(exclude={"path"})
    config = parse_config({**base, "fusion": [{"name": "hall", "cameras": ["north", "south"]}]})
    geometry = geometries(config)
    stage = FusionStage(config, config.fusion[0], {name: SIZE_PX for name in CAMERAS})
    period_s = 1.0 / config.analysis.fps
    slots = []
    for k in range(12):
        t = k * period_s
        walking_m = np.array([[6.0, 8.0 + 1.0 * t]])
        for name, track in zip(CAMERAS, [1, 2] if k < 6 else [7, 8]):
            out = stage.observe(
                measured(geometry[name], walking_m, track_id=np.array([track]), timestamp_s=t)
            )
            slots += out.slots
    slots += stage.flush().slots
    assert len(slots) == 12 and all(len(s.fused) == 1 for s in slots)
    assert len({int(s.track_id[0]) for s in slots}) == 2
    assert {int(s.observation.track_id[0]) for s in slots} == {int(slots[0].observation.track_id[0])}
    last = slots[-1]
    assert last.observation.track_xy is not None and last.observation.track_cov_m2 is not None
    assert np.linalg.det(last.observation.track_cov_m2[0]) < np.linalg.det(last.fused.cov_m2[0])


@pytest.mark.parametrize(
    "groups, message",
    [
        ([{"name": "north", "cameras": ["north", "south"]}], "fusion.0.name: 'north' is a camera's name"),
        ([{"name": "hall", "cameras": ["north", "east"]}], "fusion.0.cameras: no camera named 'east'"),
        ([{"name": "hall", "cameras": ["north"]}], "fusion.0.cameras: List should have at least 2 items"),
        (
            [
                {"name": "hall", "cameras": ["north", "south"]},
                {"name": "yard", "cameras": ["south", "north"]},
            ],
            "fusion.1.cameras: camera 'south' is already in group 'hall'",
        ),
        (
            [{"name": "hall", "cameras": ["north", "south"], "gate": 0}],
            "fusion.0.gate: Input should be greater than 0",
        ),
    ],
)
def test_a_bad_fusion_group_is_refused_naming_the_key(groups, message):
    data = store().model_dump(exclude={"path"})
    with pytest.raises(ConfigError, match=message):
        parse_config({**data, "fusion": groups}, "shop.yaml")


def test_the_group_leaves_floor_owned_by_a_camera_outside_it():
    """A third camera with north's view, listed first, owns the floor north sees best: the group
    of north and south counts only people on the rest."""
    base = store().model_dump(exclude={"path"})
    twin = camera_entry("twin", **CAMERAS["north"])
    config = parse_config(
        {
            **base,
            "cameras": [twin, *base["cameras"]],
            "fusion": [{"name": "hall", "cameras": ["north", "south"]}],
        }
    )
    geometry = geometries(config)
    people_m = np.array([[6.0, 3.0], [6.0, 17.0]])  # near north, near south
    stage = FusionStage(config, config.fusion[0])
    stage.update_frame_sizes({name: SIZE_PX for name in ("twin", *CAMERAS)})
    slots = []
    for t in (0.0, 0.2):
        for name in CAMERAS:
            slots += stage.observe(measured(geometry[name], people_m, timestamp_s=t)).slots
    [slot] = slots
    assert len(slot.fused) == 2 and slot.counted.tolist() == (slot.fused.floor_xy[:, 1] > 10).tolist()
    assert stage.flush().slots[0].observation.floor_xy[:, 1].tolist() == pytest.approx([17.0], abs=0.1)


def test_an_aggregator_emits_only_its_kinds():
    config = store()
    with pytest.raises(ValueError, match="unknown aggregate kind"):
        Aggregator(config, "north", ("grid", "heat"))
    health = Aggregator(config, "north", ("health",))
    health.observe(FloorObservation(30.0, 0.2, np.zeros((0, 2))))
    [message] = health.flush(30.0)
    assert message.kind == "health" and message.covered_s == 0.2


def test_a_group_sees_the_floor_either_camera_sees_and_only_that():
    """The floor filter of a group joins only people some camera of the group still sees
    (`edge.floor.CameraView`): in front of it, in its frame, inside its image mask. Before any
    frame size is known, everywhere."""
    left_half = [[0, 0], [SIZE_PX[0] / 2, 0], [SIZE_PX[0] / 2, SIZE_PX[1]], [0, SIZE_PX[1]]]
    base = store({"south": left_half}).model_dump(exclude={"path"})
    config = parse_config({**base, "fusion": [{"name": "hall", "cameras": ["north", "south"]}]})
    stage = FusionStage(config, config.fusion[0])
    # in front of north; behind north, in south's frame, left and right of its mask's edge; off the plan
    points_m = np.array([[6.0, 3.0], [7.0, -1.0], [5.0, -1.0], [60.0, 10.0]])
    assert stage.floor_tracks.in_view(points_m).tolist() == [True, True, True, True]
    stage.update_frame_sizes({"north": SIZE_PX})
    assert stage.floor_tracks.in_view(points_m).tolist() == [True, False, False, False]
    stage.update_frame_sizes({"north": SIZE_PX, "south": SIZE_PX})
    assert stage.floor_tracks.in_view(points_m).tolist() == [True, True, False, False]
    south = CameraView(config.camera("south"), geometries(config)["south"], SIZE_PX)
    assert south.sees(points_m[1:]).tolist() == [True, False, False]
