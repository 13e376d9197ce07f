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

from edge.supervisor import Supervisor
from footfall_core.assets import REPO_ROOT
from footfall_core.contract import AGGREGATE_KINDS, LiveMessage, parse_aggregate
from tests.edge_process import edge_run
from tests.pipeline_runs import example
from tests.procfs import descendants, memory_mb, running, state_and_parent

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


def _wait_until(condition, timeout_s: float = 90.0, step=lambda: time.sleep(0.2)) -> bool:
    """Run `step` until `condition()` holds (True) or `timeout_s` has passed (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        step()
        if condition():
            return True
    return False


def _poll_until(supervisor: Supervisor, condition, timeout_s: float = 90.0) -> bool:
    return _wait_until(condition, timeout_s, step=lambda: supervisor.poll(0.2))


def _written(*paths) -> bool:
    return all(p.exists() and p.stat().st_size > 0 for p in paths)


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
    config = config.model_copy(
        update={
            "cameras": [view.model_copy(update={"name": "first"}), view.model_copy(update={"name": "second"})]
        }
    )
    sink = ListSink()
    supervisor = Supervisor(config, sink, log_level="ERROR")
    supervisor.start()
    try:
        assert _poll_until(supervisor, lambda: len(supervisor.frame_sizes) == 2)
        shared = len(sink.aggregates)

        def grids(camera: str) -> list:
            return [m for m in sink.aggregates[shared:] if m.kind == "grid" and m.camera == camera]

        # Grids the second camera closed before its process heard of the first's size (still
        # on their way, or the bucket open then; more of them on a loaded machine) may hold
        # cells. From two empty grids in a row on, every one of its grids must be empty.
        assert _poll_until(supervisor, lambda: [m.cells for m in grids("second")[-2:]] == [[], []]), (
            "the second camera never stopped counting the floor the first one owns"
        )
        settled = len(grids("second")) - 2
        assert _poll_until(
            supervisor, lambda: len(grids("first")) >= 3 and len(grids("second")) >= settled + 4
        )
    finally:
        supervisor.stop()
    assert supervisor.frame_sizes == {"first": (768, 576), "second": (768, 576)}
    assert sum(s for m in grids("first")[1:] for _, _, s in m.cells) > 0
    assert [m.cells for m in grids("second")[settled:]] == [[]] * (len(grids("second")) - settled)


def _looping_pets09(*names: str):
    """The PETS09 example with its camera, paced in real time and looped, once under each name."""
    config = example("pets09", "view001", bucket_s=2)
    view = config.cameras[0].model_copy(update={"realtime": True, "loop": True})
    return config.model_copy(update={"cameras": [view.model_copy(update={"name": n}) for n in names]})


# the PETS09 camera in a fresh interpreter, as a spawned camera process was: 60 frames, then idle
FRESH_CAMERA = """
import sys
from edge.pipeline import CameraPipeline
from tests.pipeline_runs import example
pipeline = CameraPipeline(example("pets09", "view001"), "view001")
messages = pipeline.run()
while pipeline.frames_read < 60:
    next(messages)
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_camera_shares_the_libraries_it_was_forked_with():
    """A camera forked by the supervisor holds far less memory of its own than the same camera
    in a fresh interpreter (what a spawned camera was): it shares the pipeline's libraries with
    the fork server instead of importing a private copy."""
    fresh = subprocess.Popen(
        [sys.executable, "-c", FRESH_CAMERA],
        cwd=REPO_ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    sink = ListSink()
    supervisor = Supervisor(_looping_pets09("view001"), sink, log_level="WARNING")
    supervisor.start()
    try:
        assert fresh.stdout.readline() == "ready\n"
        assert _poll_until(supervisor, lambda: len(sink.aggregates) >= 5), "camera never reported"
        camera_pid = supervisor.children["view001"].process.pid
        assert state_and_parent(camera_pid)[1] != os.getpid(), (
            "forked by the fork server, not by the supervisor"
        )
        forked_mb, fresh_mb = memory_mb(camera_pid)["private"], memory_mb(fresh.pid)["private"]
    finally:
        supervisor.stop()
        fresh.communicate("")
    print(f"camera's own memory: forked {forked_mb:.0f} MB, fresh interpreter {fresh_mb:.0f} MB")
    assert forked_mb < 0.75 * fresh_mb


# a process forked from one that imported edge.preload (as the fork server does) runs a full
# garbage collection; prints the private MB before and after. One pipe each way: the parent
# says "collect" then "exit", the child answers "collected" (a byte the parent cannot have
# written itself) and waits to be measured.
COLLECT_IN_FORK = """
import gc, os
import edge.preload
from tests.procfs import memory_mb
to_child, from_parent = os.pipe()
from_child, to_parent = os.pipe()
pid = os.fork()
if pid == 0:
    os.read(to_child, 1)
    gc.collect()
    os.write(to_parent, b"c")
    os.read(to_child, 1)
    os._exit(0)
before = memory_mb(pid)["private"]
os.write(from_parent, b"x")
assert os.read(from_child, 1) == b"c", "the camera never collected"
after = memory_mb(pid)["private"]
os.write(from_parent, b"x")
os.waitpid(pid, 0)
print(before, after)
"""


def test_a_full_collection_in_a_camera_copies_no_library_pages():
    """The fork server's objects are frozen out of the garbage collector: a full collection in a
    camera does not write into them (it would copy about 28 MB of shared pages per camera)."""
    out = subprocess.run(
        [sys.executable, "-c", COLLECT_IN_FORK], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    before_mb, after_mb = map(float, out.split())
    assert after_mb - before_mb < 5, (before_mb, after_mb)


def test_a_killed_fork_server_leaves_one_process_per_camera():
    """The fork server dies (OOM killer, an operator's kill): its camera can no longer be watched,
    so it stops on its own and the supervisor starts a new one; the camera goes on reporting and
    never runs twice."""
    sink = ListSink()
    supervisor = Supervisor(_looping_pets09("view001"), sink, log_level="ERROR")
    supervisor.start()
    try:
        child = supervisor.children["view001"]
        assert _poll_until(supervisor, lambda: len(sink.aggregates) >= 5), "camera never reported"
        first_pid = child.process.pid
        os.kill(state_and_parent(first_pid)[1], signal.SIGKILL)
        assert _poll_until(supervisor, lambda: child.restarts == 1, timeout_s=30)
        assert _poll_until(supervisor, lambda: not running(first_pid), timeout_s=10), "the orphan stopped"
        before = len(sink.aggregates)
        assert _poll_until(supervisor, lambda: len(sink.aggregates) > before + 5)
        assert child.process.pid != first_pid and child.process.is_alive()
        assert not child.done
    finally:
        supervisor.stop()
    assert not child.process.is_alive()


@pytest.mark.parametrize("to_group", [False, True], ids=["parent", "whole group"])
def test_run_command_stops_on_sigterm_and_flushes(tmp_path, to_group):
    """`python -m edge run` on a looping, real-time camera: SIGTERM ends it with status 0 and the
    open bucket written out, whether the signal reaches the edge process alone or every process
    of its group at once (how systemd stops a service: the fork server and the camera get it too)."""
    data = yaml.safe_load((REPO_ROOT / "examples/pets09.yaml").read_text())
    data["cameras"][0].update(realtime=True, loop=True)
    config = tmp_path / "store.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    with edge_run(config, "--out", str(out), stderr=subprocess.PIPE, text=True) as process:
        live = out / "view001.live.jsonl"
        assert _wait_until(lambda: _written(live) or process.poll() is not None), "never went live"
        assert process.poll() is None, process.stderr.read()[-2000:]
        if to_group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-2000:]
    assert "store=pets09 camera=view001" in stderr, "log lines carry the store and the camera"
    lines = (out / "view001.agg.jsonl").read_bytes().splitlines()
    kinds = [parse_aggregate(line).kind for line in lines]
    assert kinds[-5:] == list(AGGREGATE_KINDS)
    assert parse_aggregate(lines[-1]).frames_read > 0


def test_cameras_stop_when_the_edge_process_is_killed(tmp_path):
    """`python -m edge run` killed outright (SIGKILL, no chance to stop its children): the camera
    processes notice nobody supervises them and exit, and so does the fork server, instead of
    running on unwatched (a restarted edge service would run every camera twice)."""
    data = yaml.safe_load((REPO_ROOT / "examples/pets09.yaml").read_text())
    camera = dict(data["cameras"][0], realtime=True, loop=True)
    data["cameras"] = [dict(camera, name="first"), dict(camera, name="second")]
    config = tmp_path / "store.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    with edge_run(config, "--out", str(out), stderr=subprocess.DEVNULL) as process:
        assert _wait_until(lambda: _written(out / "first.live.jsonl", out / "second.live.jsonl")), "not live"
        tree = descendants(process.pid)
        assert len(tree) >= 4, "resource tracker, fork server and two cameras"
        process.kill()
        process.wait()
        assert _wait_until(lambda: not any(map(running, tree)), timeout_s=15), [p for p in tree if running(p)]
