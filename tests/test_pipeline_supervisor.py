"""The per-camera process supervisor with a real camera process (PETS09 paced in real time,
looped): heartbeats, restart of a killed child, watchdog verdict, clean stop with flushed buckets."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from edge.assets import REPO_ROOT
from edge.contract import AGGREGATE_KINDS, LiveMessage, parse_aggregate
from edge.supervisor import Supervisor
from tests.pipeline_runs import example

pytestmark = pytest.mark.slow


class ListSink:
    def __init__(self) -> None:
        self.aggregates, self.lives, self.closed = [], [], False

    def aggregate(self, message) -> None:
        self.aggregates.append(message)

    def live(self, message: LiveMessage) -> None:
        self.lives.append(message)

    def close(self) -> None:
        self.closed = True


def _poll_until(supervisor: Supervisor, condition, timeout_s: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.poll(0.2)
        if condition():
            return True
    return False


def test_killed_camera_is_restarted_and_stop_flushes():
    config = example("pets09", "view001", bucket_s=2)
    camera = config.cameras[0].model_copy(update={"realtime": True, "loop": True})
    config = config.model_copy(update={"cameras": [camera]})
    sink = ListSink()
    supervisor = Supervisor(config, sink, log_level="WARNING")
    supervisor.start()
    try:
        child = supervisor.children["view001"]
        reported = _poll_until(supervisor, lambda: len(sink.aggregates) >= 5 and sink.lives)
        assert reported, "camera never reported"
        assert supervisor.all_alive(max_age_s=2.0)

        os.kill(child.process.pid, signal.SIGSTOP)  # a hung camera loop: no more heartbeats
        saw_stale = _poll_until(supervisor, lambda: not supervisor.all_alive(max_age_s=1.5), timeout_s=10)
        assert saw_stale, "the watchdog verdict turns false when heartbeats stop"
        assert supervisor.stalled(max_age_s=1.5) == ["view001"]
        os.kill(child.process.pid, signal.SIGKILL)  # then it dies: the supervisor restarts it
        before = len(sink.aggregates)
        assert _poll_until(supervisor, lambda: child.restarts == 1 and len(sink.aggregates) > before)
        assert supervisor.all_alive(max_age_s=2.0)
    finally:
        supervisor.stop()
    assert sink.closed
    assert not child.process.is_alive()
    kinds = [m.kind for m in sink.aggregates]
    assert kinds[-5:] == list(AGGREGATE_KINDS), "the open bucket was flushed whole on stop"
    assert sink.aggregates[-1].frames_read > 0
    assert all(m.cameras == ["view001"] for m in sink.lives)


def test_overlapping_cameras_learn_each_others_frame_size_and_count_once():
    """Two cameras with the same view and calibration: once each knows the other's frame size,
    floor ownership gives every cell to the first one, and the second counts nobody."""
    config = example("pets09", "view001", bucket_s=2)
    view = config.cameras[0].model_copy(update={"realtime": True, "loop": True})
    config = config.model_copy(update={"cameras": [view.model_copy(update={"name": "first"}),
                                                   view.model_copy(update={"name": "second"})]})
    sink = ListSink()
    supervisor = Supervisor(config, sink, log_level="ERROR")
    supervisor.start()
    try:
        assert _poll_until(supervisor, lambda: len(supervisor.frame_sizes) == 2)
        shared = len(sink.aggregates)
        grids = lambda camera: [m for m in sink.aggregates[shared:]  # noqa: E731
                                if m.kind == "grid" and m.camera == camera]
        assert _poll_until(supervisor, lambda: len(grids("first")) >= 3 and len(grids("second")) >= 3)
    finally:
        supervisor.stop()
    assert supervisor.frame_sizes == {"first": (768, 576), "second": (768, 576)}
    assert sum(s for m in grids("first")[1:] for _, _, s in m.cells) > 0
    assert [m.cells for m in grids("second")[1:]] == [[]] * (len(grids("second")) - 1)


def test_run_command_stops_on_sigterm_and_flushes(tmp_path):
    """`python -m edge run` on a looping, real-time camera: SIGTERM ends it with status 0 and the
    open bucket written out."""
    data = yaml.safe_load((REPO_ROOT / "examples/pets09.yaml").read_text())
    data["cameras"][0].update(realtime=True, loop=True)
    config = tmp_path / "store.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "edge", "run", "--config", str(config), "--out", str(out)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    live = out / "view001.live.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (live.exists() and live.stat().st_size > 0):
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-2000:]
    assert "store=pets09 camera=view001" in stderr, "log lines carry the store and the camera"
    lines = (out / "view001.agg.jsonl").read_bytes().splitlines()
    kinds = [parse_aggregate(line).kind for line in lines]
    assert kinds[-5:] == list(AGGREGATE_KINDS)
    assert parse_aggregate(lines[-1]).frames_read > 0
