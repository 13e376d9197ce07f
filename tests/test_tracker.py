"""The tracker wrapper (C-BIoU and ByteTrack) on the PETS09 ground-truth boxes: order kept, everyone
returned, ids stable."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import supervision as sv
from trackers import ByteTrackTracker, CBIoUTracker
from trackers.core.botsort.tracklet import BoTSORTTracklet
from trackers.core.bytetrack.tracklet import ByteTrackTracklet
from trackers.utils.iou import BIoU
from trackers.utils.predict_timing import PredictTiming

from edge.tracker import AxisKalman, BoxKalman, Tracker, _BoxTracklet, _LeanBIoU, joined
from edge.types import Detections
from tests.gt import PETS_FPS, pets09_gt


@pytest.fixture(scope="module")
def gt_frames(assets):
    gt = pets09_gt(assets)
    frames = []
    for f in np.unique(gt["frame"]):
        rows = gt[gt["frame"] == f]
        xyxy = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1)
        frames.append((f / PETS_FPS, Detections(xyxy, np.full(len(rows), 0.9)), rows["id"].astype(int)))
    return frames


KINDS = pytest.mark.parametrize("kind", ["cbiou", "bytetrack"])


@KINDS
def test_every_detection_comes_back_in_input_order(gt_frames, kind):
    tracker = Tracker(frame_rate=PETS_FPS, kind=kind)
    rng = np.random.default_rng(0)
    for t_s, dets, _ in gt_frames[:100]:
        shuffled = dets[rng.permutation(len(dets))]
        tracks = tracker.update(shuffled, t_s)
        assert len(tracks) == len(shuffled)
        assert np.array_equal(tracks.detections.xyxy, shuffled.xyxy)


@KINDS
def test_ids_follow_the_ground_truth_people(gt_frames, kind):
    tracker = Tracker(frame_rate=PETS_FPS, kind=kind)
    pairs = []  # (gt id, track id) for every confirmed row
    first = tracker.update(gt_frames[0][1], gt_frames[0][0])
    assert (first.track_id == -1).all(), "a track needs two frames before it is confirmed"
    for t_s, dets, gt_ids in gt_frames[1:]:
        tracks = tracker.update(dets, t_s)
        pairs += [(g, t) for g, t in zip(gt_ids, tracks.track_id) if t >= 0]
    confirmed = len(pairs) / sum(len(d) for _, d, _ in gt_frames[1:])
    assert confirmed > 0.99  # measured 0.996
    # each track id should mostly stand for one person: count rows whose id maps to another person
    pairs = np.array(pairs)
    majority = {
        t: np.bincount(pairs[pairs[:, 1] == t, 0].astype(int)).argmax() for t in np.unique(pairs[:, 1])
    }
    wrong = sum(majority[t] != g for g, t in pairs)
    print(f"{kind}: confirmed {confirmed:.3f}, wrong ids {wrong / len(pairs):.4f}, {len(majority)} ids")
    assert wrong / len(pairs) < 0.002  # measured 0: no row's id stands for another person
    assert len(majority) <= 22, "few id switches"  # measured 21 ids for the 19 people


@KINDS
def test_instances_are_independent_and_reset_restarts_ids(gt_frames, kind):
    a, b = Tracker(frame_rate=PETS_FPS, kind=kind), Tracker(frame_rate=PETS_FPS, kind=kind)
    for t_s, dets, _ in gt_frames[:5]:
        ids_a = a.update(dets, t_s).track_id
    for t_s, dets, _ in gt_frames[:5]:
        ids_b = b.update(dets, t_s).track_id
    assert np.array_equal(ids_a, ids_b), "ids are per tracker, not from a shared counter"
    a.reset()
    for t_s, dets, _ in gt_frames[:5]:
        ids_c = a.update(dets, t_s).track_id
    assert np.array_equal(ids_a, ids_c)


@KINDS
def test_empty_frames(kind):
    tracker = Tracker(frame_rate=5, kind=kind)
    assert len(tracker.update(Detections.empty(), 0.0)) == 0


def test_an_unknown_tracker_is_refused():
    with pytest.raises(ValueError, match="'sort'"):
        Tracker(frame_rate=5, kind="sort")


@pytest.mark.parametrize("kind, library", [("cbiou", CBIoUTracker), ("bytetrack", ByteTrackTracker)])
def test_warnings_are_foreseen_exactly_when_the_library_raises_them(gt_frames, kind, library):
    """The library tracker warns about a timestamp that is repeated, earlier or not finite; the wrapper
    silences exactly those calls (it foresees them rather than wrapping every call in a
    warnings context), lets no warning out, and still returns every row."""
    times = [0.0, 1 / PETS_FPS, 1 / PETS_FPS, 0.5 / PETS_FPS, None, 5.0, float("nan"), float("inf"), 6.0, 6.0]
    frames = gt_frames[: len(times)]
    bare, raised = library(frame_rate=PETS_FPS), []
    for t_s, (_, dets, _) in zip(times, frames):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bare.update(
                sv.Detections(
                    xyxy=dets.xyxy.astype(np.float32), confidence=dets.confidence.astype(np.float32)
                ),
                timestamp=t_s,
            )
        raised.append(any(issubclass(w.category, UserWarning) for w in caught))
    assert raised == [False, False, True, True, False, False, True, True, False, True]

    tracker, foreseen = Tracker(frame_rate=PETS_FPS, kind=kind), []
    warns = tracker._warns
    tracker._warns = lambda t_s: foreseen.append(warns(t_s)) or foreseen[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that leaks out fails the test
        for t_s, (_, dets, _) in zip(times, frames):
            assert len(tracker.update(dets, t_s)) == len(dets)
    assert foreseen == raised


@pytest.mark.parametrize(
    "tracklet, ours, growth",
    [(ByteTrackTracklet, AxisKalman, [1, 1, 1, 1]), (BoTSORTTracklet, BoxKalman, [1, 1, 1.5, 2])],
    ids=["AxisKalman", "BoxKalman"],
)
def test_our_filter_follows_the_library_filter_through_gaps_and_misses(tracklet, ours, growth):
    """`AxisKalman` is trackers' XYXY filter with ByteTrack's noise, computed per axis;
    `BoxKalman` trackers' centre-width-height filter with C-BIoU's box-scaled noise, computed per
    coordinate. Each gives its tracklet the same boxes as the library's filter after every
    predict and update: at the nominal step, inside the nominal band and over gaps (white-noise
    acceleration scaling), with and without a frame rate, while the box grows and shrinks (C-BIoU's
    noise follows its size)."""
    rng = np.random.default_rng(1)
    box = np.array([100.0, 50.0, 140.0, 170.0])
    theirs = tracklet(box)
    mine = tracklet(box, state_estimator_class=ours)
    steps = [1.0, 1.0, 1.02, 0.5, 3.0, 1.0, 7.5, 1.0, 0.999, 2.0] * 6
    for i, step in enumerate(steps):
        timing = PredictTiming(frame_step=step, elapsed_seconds=step / 7, frame_rate=7.0 if i % 3 else None)
        assert np.allclose(mine.predict(timing), theirs.predict(timing), rtol=0, atol=1e-9), i
        if i % 4 != 3:  # every fourth frame the person is missed
            box = box + rng.normal(3.0, 2.0, 4) * growth
            theirs.update(box)
            mine.update(box)
            assert np.allclose(mine.get_state_bbox(), theirs.get_state_bbox(), rtol=0, atol=1e-9), i


@pytest.mark.parametrize(
    "library, ours", [(ByteTrackTracker, AxisKalman), (CBIoUTracker, BoxKalman)], ids=["bytetrack", "cbiou"]
)
def test_the_tracker_with_our_filter_gives_the_library_ids(gt_frames, library, ours):
    """Both stages of ByteTrack with `AxisKalman` and of C-BIoU with `BoxKalman` (confidences
    around the split), frames dropped and boxes jittered: the tracker returns the same rows and
    ids as with trackers' own filter."""
    rng = np.random.default_rng(2)
    settings = dict(
        frame_rate=PETS_FPS, track_activation_threshold=0.4, high_conf_det_threshold=0.5, lost_track_buffer=45
    )
    theirs, mine = library(**settings), library(state_estimator_class=ours, **settings)
    compared = 0
    for t_s, dets, _ in gt_frames[:400]:
        if rng.random() < 0.15:
            continue  # a dropped frame: the next step is a gap
        keep = rng.random(len(dets)) > 0.1  # a missed person now and then
        xyxy = (dets.xyxy[keep] + rng.normal(0, 2.0, (keep.sum(), 4))).astype(np.float32)
        inputs = sv.Detections(xyxy=xyxy, confidence=rng.uniform(0.3, 0.9, len(xyxy)).astype(np.float32))
        a, b = theirs.update(inputs, timestamp=t_s), mine.update(inputs, timestamp=t_s)
        assert np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.tracker_id, b.tracker_id), t_s
        compared += int((a.tracker_id >= 0).sum())
    assert compared > 1000


def test_our_tracklet_gives_the_library_tracklet_s_boxes_to_the_bit():
    """`_BoxTracklet` refreshes C-BIoU's box-scaled noise and clamps the box on `BoxKalman`'s
    floats: after every predict and update the same box, to the bit, as the library's tracklet
    over `BoxKalman`, through gaps and misses, and while the box shrinks to nothing (the clamps)."""
    rng = np.random.default_rng(3)
    box = np.array([100.0, 50.0, 140.0, 170.0])
    theirs = BoTSORTTracklet(box, state_estimator_class=BoxKalman)
    mine = _BoxTracklet(box, state_estimator_class=BoxKalman)
    steps = [1.0, 1.0, 1.02, 0.5, 3.0, 1.0, 7.5, 1.0, 0.999, 2.0] * 8
    for i, step in enumerate(steps):
        timing = PredictTiming(frame_step=step, elapsed_seconds=step / 7, frame_rate=7.0 if i % 3 else None)
        assert np.array_equal(mine.predict(timing), theirs.predict(timing)), i
        if i % 4 != 3:  # every fourth frame the person is missed
            shrink = np.array([1.0, 1.0, -1.0, -1.0]) * (i > 50) * 25.0  # the box collapses and inverts
            box = box + rng.normal(3.0, 2.0, 4) + shrink
            theirs.update(box)
            mine.update(box)
            assert np.array_equal(mine.get_state_bbox(), theirs.get_state_bbox()), i
    assert (theirs.state_estimator.kf.state[2:4, 0] == 1e-3).any()  # the clamps did act


def test_the_wrapper_s_tracklets_give_the_library_tracklets_ids(gt_frames):
    """The wrapper's C-BIoU (its tracklets made `_BoxTracklet`s) returns the same ids as with the
    library's tracklets over the same filter, frames dropped and boxes jittered."""
    rng = np.random.default_rng(4)
    ours, theirs = Tracker(frame_rate=PETS_FPS), Tracker(frame_rate=PETS_FPS)
    theirs._lean = False
    confirmed = 0
    for t_s, dets, _ in gt_frames[:400]:
        if rng.random() < 0.15:
            continue
        keep = rng.random(len(dets)) > 0.1
        jittered = Detections(
            dets.xyxy[keep] + rng.normal(0, 2.0, (keep.sum(), 4)), rng.uniform(0.3, 0.9, keep.sum())
        )
        a, b = ours.update(jittered, t_s), theirs.update(jittered, t_s)
        assert np.array_equal(a.track_id, b.track_id), t_s
        confirmed += int((a.track_id >= 0).sum())
    assert confirmed > 1000
    assert all(type(t) is _BoxTracklet for t in ours._tracker.tracks)


@pytest.mark.parametrize("buffer_ratio", [0.0, 0.3, 0.5])
def test_our_biou_gives_the_library_s_matrix_to_the_bit(buffer_ratio):
    """`_LeanBIoU` against trackers' `BIoU`, as C-BIoU calls it (float64 predicted boxes
    against float32 detections, either side empty): the same float32 matrix, to the bit, with
    boxes that overlap, touch, nest, lie apart and have no area."""
    rng = np.random.default_rng(5)
    theirs, ours = BIoU(buffer_ratio), _LeanBIoU(buffer_ratio)
    overlapping = 0
    for _ in range(300):
        tracks, found = rng.integers(0, 12), rng.integers(0, 12)
        corner = rng.uniform(0, 300, (tracks + found, 2))
        size = rng.uniform(0, 60, (tracks + found, 2)) * (rng.random((tracks + found, 1)) > 0.05)
        boxes = np.concatenate([corner, corner + size], axis=1)
        if rng.random() < 0.3:  # whole pixels: edges that touch exactly
            boxes = np.round(boxes)
        predicted, detected = boxes[:tracks], boxes[tracks:].astype(np.float32)
        a, b = theirs.compute(predicted, detected), ours.compute(predicted, detected)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        overlapping += int((a > 0).sum())
    assert overlapping > 100


def test_axis_kalman_refuses_noise_it_does_not_model():
    filter_ = AxisKalman(np.zeros(4))
    with pytest.raises(ValueError, match="process_noise"):
        filter_.set_kf_covariances(process_noise=np.diag([1.0, 1, 1, 1, 2, 2, 2, 2]))


def walker(frames: int, score: float | list[float], start_px: float = 100.0) -> list[Detections]:
    """One person walking right at 4 px a frame, a box per frame scored `score` (one, or one a
    frame)."""
    scores = score if isinstance(score, list) else [score] * frames
    return [
        Detections(np.array([[start_px + 4 * i, 100.0, start_px + 4 * i + 40, 200.0]]), np.array([s]))
        for i, s in enumerate(scores)
    ]


def test_a_box_under_the_score_threshold_continues_a_confirmed_track_and_keeps_its_id():
    tracker = Tracker(frame_rate=7.0)
    scores = [0.9] * 4 + [0.15] * 3 + [0.9] * 3
    rows = [joined(tracker.update(d, i / 7.0), 0.3) for i, d in enumerate(walker(len(scores), scores))]
    ids = [int(r.track_id[0]) for r in rows[1:]]  # confirmed from the second frame
    assert len(set(ids)) == 1 and ids[0] >= 0
    assert [len(r) for r in rows] == [1] * len(scores)  # the low boxes are that person: kept
    assert not len(tracker.lost(1.0)[0])  # continued, so not lost (nor held as hidden)


def test_a_box_under_the_score_threshold_starts_no_track_and_alone_counts_for_nothing():
    tracker = Tracker(frame_rate=7.0)
    for i, dets in enumerate(walker(6, 0.15)):
        tracks = tracker.update(dets, i / 7.0)
        assert (tracks.track_id == -1).all()
        assert not len(joined(tracks, 0.3))
    assert not tracker._tracker.tracks  # no track, tentative or not


def test_a_low_box_beside_a_followed_person_joins_nobody_and_is_dropped():
    tracker = Tracker(frame_rate=7.0)
    near, far = walker(5, 0.9), walker(5, 0.15, start_px=400.0)
    for i, (person, other) in enumerate(zip(near, far, strict=True)):
        both = Detections(np.concatenate([person.xyxy, other.xyxy]), np.array([0.9, 0.15]))
        kept = joined(tracker.update(both, i / 7.0), 0.3)
        assert np.array_equal(kept.detections.xyxy, person.xyxy)  # the confident person only
    assert len(tracker._tracker.tracks) == 1
