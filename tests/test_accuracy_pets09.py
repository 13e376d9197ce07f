"""Acceptance on PETS09-S2L1 (real footage, real ground truth): heat and line counts from the
whole pipeline (detector, tracker, floor projection, analytics, buckets) against the same
figures computed from the annotated trajectories (gt.txt wx, wy: the floor frame of
examples/pets09.yaml). Lines are measured over families of random lines, as
bench/line_accuracy.py does, with the example's own line as one more case. Two replays
(about 10-30 s each)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from edge.pipeline import CameraPipeline, Heartbeat
from edge.types import Detections
from tests.gt import PETS_FPS, pets09_gt
from tests.pipeline_runs import START, example, run_example
from tests.scene_truth import AnnotatedIds, line_counts, line_score, random_lines, truth_messages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run():
    return run_example("pets09", "view001")  # the example as shipped (1 m heat cells)


@pytest.fixture(scope="module")
def gt(assets):
    return pets09_gt(assets)


def _of(run, kind):
    return [m for m in run.messages if getattr(m, "kind", None) == kind]


def test_heat_grid_matches_ground_truth(run, gt):
    plan, cell_m = run.config.floor_plan, run.config.analysis.cell_m
    shape = (int(np.ceil(plan.height_m / cell_m)), int(np.ceil(plan.width_m / cell_m)))
    pipeline = np.zeros(shape)
    for message in _of(run, "grid"):
        assert message.cell_m == cell_m
        for ix, iy, person_s in message.cells:
            pipeline[iy, ix] += person_s
    truth = np.zeros(shape)
    ix = np.floor((gt["wx"] - plan.origin_m[0]) / cell_m).astype(int)
    iy = np.floor((gt["wy"] - plan.origin_m[1]) / cell_m).astype(int)
    on_plan = (ix >= 0) & (ix < shape[1]) & (iy >= 0) & (iy < shape[0])
    np.add.at(truth, (iy[on_plan], ix[on_plan]), 1 / PETS_FPS)  # each GT frame stands for 1/7 s
    r = np.corrcoef(pipeline.ravel(), truth.ravel())[0, 1]
    print(
        f"heat: pipeline {pipeline.sum():.0f} person-s, truth {truth.sum():.0f} person-s, Pearson r = {r:.3f}"
    )
    assert r >= 0.92  # measured 0.934
    assert pipeline.sum() == pytest.approx(truth.sum(), rel=0.02)  # measured 646 against 639 (+1.1 %)


SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def families(assets, gt):
    """One replay of the example with 30 random lines per seed beside its own `walkway`
    (tests/scene_truth.py, as bench/line_accuracy.py draws them), and the same lines counted on
    the annotated trajectories by the same analytics."""
    config = example("pets09", "view001")
    drawn = {seed: random_lines(gt, 30, seed) for seed in SEEDS}
    config = config.model_copy(update={"lines": [*config.lines, *(ln for f in drawn.values() for ln in f)]})
    pipeline = CameraPipeline(config, "view001")
    messages = tuple(m for m in pipeline.run() if not isinstance(m, Heartbeat))
    start_s = datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp()
    truth = truth_messages(config, "view001", gt, start_s, pipeline.frames_read)
    return drawn, line_counts(truth), line_counts(messages)


# Line accuracy (1 - sum |error| / sum truth, each direction of each line) measured per seed
# with C-BIoU, the floor filter and the lines' 2 s smoother: 92.8, 91.2 and 92.1 % here, in the
# example's 60 s buckets (92.3, 90.8 and 92.1 % in bench/line_accuracy.py's 10 s ones, whose
# closes hand the lines their positions at other times; with C-BIoU gated on the floor at 7
# fps, not shipped for its cost, 92.3, 90.8 and 92.7 % here; without the smoother 91.7, 90.8
# and 91.2 % in both; before the floor filter, ByteTrack on the raw feet: 78.7, 69.3 and
# 77.6 %).
# Thresholds: 2.5 points under the figures measured here, seed 2 under the first figure
# measured with the floor filter (91.6 %).
@pytest.mark.parametrize("seed, least", [(1, 0.903), (2, 0.89), (3, 0.896)])
def test_random_line_families_count_like_the_annotated_trajectories(families, seed, least):
    drawn, want, got = families
    score = line_score(want, got, [line.name for line in drawn[seed]])
    print(
        f"seed {seed}: line accuracy {score.accuracy:.1%} (truth {score.truth}, counted {score.counted}, "
        f"sum |error| {score.abs_error})"
    )
    assert score.truth > 200, "the lines must see real traffic for the figure to mean anything"
    assert score.accuracy >= least


def test_the_shipped_line_is_within_one_crossing_of_the_truth_each_way(families):
    _, want, got = families
    (truth_in, truth_out), (counted_in, counted_out) = want["walkway"], got["walkway"]
    print(f"walkway: in {counted_in} (truth {truth_in}), out {counted_out} (truth {truth_out})")
    assert truth_in > 5 and truth_out > 5, "the line must see real traffic for this test to mean anything"
    assert abs(counted_in - truth_in) <= 1 and abs(counted_out - truth_out) <= 1  # measured 13/13, 17/17


def test_annotated_ids_give_each_box_the_id_of_the_annotation_it_overlaps(gt):
    """The identity oracle of `bench/line_accuracy.py --annotated-ids`: boxes shifted a little
    from frame 100's annotations take their ids, in any order; a box on nobody gets -1."""
    start_s = 1_000.0
    rows = gt[gt["frame"] == 100]
    boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1) + 3.0
    boxes = np.concatenate([boxes[::-1], [[0.0, 0.0, 10.0, 10.0]]])
    tracks = AnnotatedIds(gt, start_s, PETS_FPS).update(
        Detections(boxes, np.ones(len(boxes))), start_s + 99 / PETS_FPS
    )
    assert len(rows) >= 3
    assert tracks.track_id.tolist() == [*rows["id"][::-1].astype(int).tolist(), -1]


def test_every_bucket_is_complete_and_covered(run):
    kinds = [m.kind for m in run.messages if hasattr(m, "kind")]
    assert len(kinds) % 5 == 0 and kinds[:5] == ["grid", "zones", "lines", "flows", "health"]
    health = _of(run, "health")
    assert sum(h.frames_read for h in health) == run.frames_read == 795
    assert sum(h.frames_analysed for h in health) == run.frames_analysed
    covered = sum(h.covered_s for h in health)
    assert covered == pytest.approx(795 / PETS_FPS, abs=1.0)  # the whole clip, 7 frames per second
    zones = _of(run, "zones")
    assert sum(z.entries for m in zones for z in m.zones) > 0
    assert sum(len(m.transitions) for m in _of(run, "flows")) > 0
