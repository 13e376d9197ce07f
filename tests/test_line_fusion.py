"""Counting lines inside a fusion group (bench/line_fusion.py): WILDTRACK's seven cameras as one
store, the stand-in detector's misses and jitter, 30 random lines counted on the fused floor
against the annotated trajectories, and the same lines each counted by the one camera an
installer would pick for it. One seed at the recording's 10 frames a second (about 40 s)."""

from __future__ import annotations

import pytest

from bench.fusion_accuracy import DEFAULT_CONFIG
from bench.line_fusion import installer_pick, run_seed
from bench.line_views import upsampled
from bench.wildtrack import FRAME_SIZE_PX, read_frames
from footfall_core.geometry import CameraGeometry
from footfall_core.store import load_config

pytestmark = pytest.mark.slow


def test_lines_seen_by_several_cameras_count_better_fused_than_on_one(assets):
    frames = upsampled(read_frames(assets / "datasets/wildtrack_dev"), 5)
    base = load_config(DEFAULT_CONFIG)
    geometries = [CameraGeometry.from_config(c, FRAME_SIZE_PX) for c in base.cameras]
    run = run_seed(base, frames, seed=2, fps=10)
    group = run.score(run.group)
    pick = {line.name: installer_pick(geometries, line) for line in run.lines}
    one = run.score(run.one_camera_a_line(pick))
    print(f"group {group.accuracy:.1%} (truth {group.truth}), one camera a line {one.accuracy:.1%}")
    assert group.truth > 800, "the lines must see real traffic for the figure to mean anything"
    # measured 92.1 % and 82.8 % (85.3 % one camera a line with its tracker gated on the floor
    # at 10 fps, not shipped for its cost); the group 83.5 % when it joined a person lost for up
    # to 3 s and took a camera's track id wherever it had moved
    assert group.accuracy >= 0.895
    assert group.accuracy >= one.accuracy + 0.07
    assert run.people.doubles <= 0.02 and run.people.count_mae <= 0.25  # measured 0.01 and 0.17
    # measured 2.10 group ids per annotated person (2.19 with every camera track's vote the same;
    # 1.09 on perfect boxes and ids: docs/accuracy.md)
    assert 1.0 < run.ids_per_person <= 2.2
