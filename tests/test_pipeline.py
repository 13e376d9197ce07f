"""The camera pipeline and the `edge` command line on real footage, plus heartbeats and bucket
closing while a live source cannot be reached."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from edge.gating import Gated
from edge.pipeline import CameraPipeline, Heartbeat
from edge.types import Detections, Frame, Tracks
from footfall_core.assets import REPO_ROOT
from footfall_core.contract import AGGREGATE_KINDS, HealthAggregate, LiveMessage, parse_aggregate
from footfall_core.ownership import Ownership
from tests.pipeline_runs import START, example, run_example

PETS = "${FOOTFALL_ASSETS}/datasets/pets09_s2l1/vtest.avi"


def _edge(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.mark.slow
def test_replay_writes_the_contract_payloads(tmp_path):
    out = tmp_path / "agg.jsonl"
    done = _edge(
        "replay",
        PETS,
        "--config",
        "examples/pets09.yaml",
        "--camera",
        "view001",
        "--out",
        str(out),
        "--start",
        START,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "frames/s" in done.stdout
    lines = out.read_bytes().splitlines()
    messages = [parse_aggregate(line, "footfall/v1/pets09/view001/agg") for line in lines]
    assert [m.kind for m in messages] == list(AGGREGATE_KINDS) * 2  # 795 frames at 7 fps: 113.6 s
    assert [line for line in lines] == [m.to_json() for m in messages], "exactly the publisher's bytes"
    assert messages[0].bucket_start.isoformat() == "2024-05-01T09:00:00+00:00"
    assert sum(m.frames_read for m in messages if m.kind == "health") == 795


@pytest.mark.parametrize(
    "config_text, expected",
    [
        ("store: {id: shop}\nfloor_plan: {width_m: -1, height_m: 3}\n", "floor_plan.width_m"),
        ("store: {id: shop}\n  bad: [\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(tmp_path, config_text, expected):
    path = tmp_path / "store.yaml"
    path.write_text(config_text)
    for command in (
        ["run", "--config", str(path)],
        ["replay", "x.avi", "--config", str(path), "--camera", "a", "--out", str(tmp_path / "o")],
    ):
        done = _edge(*command, timeout_s=60)
        assert done.returncode == 2
        assert str(path) in done.stderr and expected in done.stderr
        assert "Traceback" not in done.stderr


def test_heartbeats_and_buckets_continue_while_the_source_reconnects():
    config = example("pets09", "view001", bucket_s=1)
    camera = config.cameras[0].model_copy(update={"source": "rtsp://127.0.0.1:9/nothing-here"})
    config = config.model_copy(update={"cameras": [camera]})
    pipeline = CameraPipeline(config, "view001")
    beats, health = [], []
    deadline_s = time.monotonic() + 60
    for message in pipeline.run():
        if isinstance(message, Heartbeat):
            beats.append(message)
        elif isinstance(message, HealthAggregate):
            health.append(message)
        seen_enough = len(beats) >= 3 and len(health) >= 2 and sum(h.reconnects for h in health) >= 1
        if seen_enough or time.monotonic() > deadline_s:
            pipeline.stop()
    assert len(beats) >= 3
    assert [b.source_status for b in beats[:3]] == ["reconnecting"] * 3
    assert len(health) >= 2, "buckets close by the wall clock when no frame comes"
    assert all(h.covered_s == 0 and h.frames_read == 0 for h in health)
    assert sum(h.reconnects for h in health) >= 1
    assert any(h.source_status == "reconnecting" for h in health)


@pytest.mark.slow
def test_stop_flushes_the_open_bucket_and_live_lists_this_camera_only():
    pipeline = CameraPipeline(example("pets09", "view001"), "view001")
    messages = []
    for message in pipeline.run():
        messages.append(message)
        if pipeline.frames_read >= 100:
            pipeline.stop()
    aggregates = [m for m in messages if hasattr(m, "kind")]
    assert [m.kind for m in aggregates] == list(AGGREGATE_KINDS)  # the one, partial, bucket
    assert 100 <= aggregates[-1].frames_read < 795
    assert 0 < aggregates[0].covered_s < 60
    live = [m for m in messages if isinstance(m, LiveMessage)]
    assert live and all(m.cameras == ["view001"] for m in live)
    assert all(json.loads(m.to_json())["store"] == "pets09" for m in live)


def test_a_frame_size_learned_while_ownership_is_built_is_not_lost(monkeypatch):
    """The supervisor's thread hands over the first camera's frame size while the frame loop is
    building ownership from the sizes it knew before (the race a loaded CI machine hit): the
    next frame rebuilds ownership, and the second camera stops counting the floor the first
    one owns."""
    config = example("pets09", "view001")
    view = config.cameras[0]
    config = config.model_copy(
        update={
            "cameras": [view.model_copy(update={"name": "first"}), view.model_copy(update={"name": "second"})]
        }
    )
    pipeline = CameraPipeline(config, "second")
    build = Ownership.build

    def build_while_the_first_size_arrives(*args, **kwargs):
        ownership = build(*args, **kwargs)
        if "first" not in pipeline.floor.frame_sizes:
            pipeline.update_frame_sizes({"first": (768, 576)})
        return ownership

    monkeypatch.setattr(Ownership, "build", build_while_the_first_size_arrives)
    person = Tracks(Detections([[370, 250, 410, 400]], [0.9]), [1])  # feet at (390, 400) px
    kept = []
    for index in range(2):
        frame = Frame("second", index, 1000.0 + index, np.zeros((576, 768, 3), np.uint8))
        kept.append(len(pipeline._to_floor(person, frame)))
    assert kept == [1, 0]


@pytest.mark.slow
def test_frames_the_rate_gate_skips_are_read_and_dropped_in_health():
    """PETS09 (7 fps) analysed at 5 fps: the gate runs in the feed's reader thread, and every
    frame it skips still shows in the health aggregates as read and dropped."""
    run = run_example("pets09", "view001", fps=5)
    health = [m for m in run.messages if isinstance(m, HealthAggregate)]
    assert run.frames_read == sum(h.frames_read for h in health) == 795
    assert run.frames_analysed == sum(h.frames_analysed for h in health) == 568
    assert sum(h.frames_dropped for h in health) == 795 - 568


def test_a_box_between_the_track_score_and_a_high_score_threshold_starts_no_track():
    """With `detector.score_threshold` above the score the tracker starts tracks from, a box
    scored between the two is only there to continue a track: one person scored so on every
    frame is never followed, so never counted."""
    config = example("pets09", "view001")
    detector = config.detector.model_copy(update={"score_threshold": 0.8, "track_score_threshold": 0.2})
    pipeline = CameraPipeline(config.model_copy(update={"detector": detector}), "view001")
    followed = []
    pipeline._with_hidden = lambda tracks: followed.append(len(tracks)) or tracks  # type: ignore[method-assign]
    for index in range(10):
        box = Detections([[370 + 4 * index, 250, 410 + 4 * index, 400]], [0.6])
        pipeline.gate = lambda frame, box=box: Gated(box, 0.0)  # type: ignore[method-assign, assignment]
        frame = Frame("view001", index, 1000.0 + index / 7, np.zeros((576, 768, 3), np.uint8))
        list(pipeline._analyse(frame))
    assert followed == [0] * 10
