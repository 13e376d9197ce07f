"""The ByteTrack wrapper on the PETS09 ground-truth boxes: order kept, everyone returned, ids stable."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import supervision as sv
from trackers import ByteTrackTracker

from edge.tracker import Tracker
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


def test_every_detection_comes_back_in_input_order(gt_frames):
    tracker = Tracker(frame_rate=PETS_FPS)
    rng = np.random.default_rng(0)
    for t_s, dets, _ in gt_frames[:100]:
        shuffled = dets[rng.permutation(len(dets))]
        tracks = tracker.update(shuffled, t_s)
        assert len(tracks) == len(shuffled)
        assert np.array_equal(tracks.detections.xyxy, shuffled.xyxy)


def test_ids_follow_the_ground_truth_people(gt_frames):
    tracker = Tracker(frame_rate=PETS_FPS)
    pairs = []  # (gt id, track id) for every confirmed row
    first = tracker.update(gt_frames[0][1], gt_frames[0][0])
    assert (first.track_id == -1).all(), "a track needs two frames before it is confirmed"
    for t_s, dets, gt_ids in gt_frames[1:]:
        tracks = tracker.update(dets, t_s)
        pairs += [(g, t) for g, t in zip(gt_ids, tracks.track_id) if t >= 0]
    confirmed = len(pairs) / sum(len(d) for _, d, _ in gt_frames[1:])
    assert confirmed > 0.95
    # each track id should mostly stand for one person: count rows whose id maps to another person
    pairs = np.array(pairs)
    majority = {t: np.bincount(pairs[pairs[:, 1] == t, 0].astype(int)).argmax()
                for t in np.unique(pairs[:, 1])}
    wrong = sum(majority[t] != g for g, t in pairs)
    assert wrong / len(pairs) < 0.02
    assert len(majority) < 2 * len(np.unique(pairs[:, 0])), "few id switches"


def test_instances_are_independent_and_reset_restarts_ids(gt_frames):
    a, b = Tracker(frame_rate=PETS_FPS), Tracker(frame_rate=PETS_FPS)
    for t_s, dets, _ in gt_frames[:5]:
        ids_a = a.update(dets, t_s).track_id
    for t_s, dets, _ in gt_frames[:5]:
        ids_b = b.update(dets, t_s).track_id
    assert np.array_equal(ids_a, ids_b), "ids are per tracker, not from a shared counter"
    a.reset()
    for t_s, dets, _ in gt_frames[:5]:
        ids_c = a.update(dets, t_s).track_id
    assert np.array_equal(ids_a, ids_c)


def test_empty_frames():
    tracker = Tracker(frame_rate=5)
    assert len(tracker.update(Detections.empty(), 0.0)) == 0



def test_warnings_are_foreseen_exactly_when_bytetrack_raises_them(gt_frames):
    """ByteTrack warns about a timestamp that is repeated, earlier or not finite; the wrapper
    silences exactly those calls (it foresees them rather than wrapping every call in a
    warnings context), lets no warning out, and still returns every row."""
    times = [0.0, 1 / PETS_FPS, 1 / PETS_FPS, 0.5 / PETS_FPS, None, 5.0, float("nan"), float("inf"), 6.0, 6.0]
    frames = gt_frames[: len(times)]
    bare, raised = ByteTrackTracker(frame_rate=PETS_FPS), []
    for t_s, (_, dets, _) in zip(times, frames):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bare.update(sv.Detections(xyxy=dets.xyxy.astype(np.float32),
                                      confidence=dets.confidence.astype(np.float32)), timestamp=t_s)
        raised.append(any(issubclass(w.category, UserWarning) for w in caught))
    assert raised == [False, False, True, True, False, False, True, True, False, True]

    tracker, foreseen = Tracker(frame_rate=PETS_FPS), []
    warns = tracker._warns
    tracker._warns = lambda t_s: foreseen.append(warns(t_s)) or foreseen[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that leaks out fails the test
        for t_s, (_, dets, _) in zip(times, frames):
            assert len(tracker.update(dets, t_s)) == len(dets)
    assert foreseen == raised
