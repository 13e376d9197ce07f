"""Runs every camera of a store, one child process per camera, and restarts the ones that die.

Process model (docs/edge.md): the parent opens no model and no capture; each camera's
`CameraPipeline` runs in its own process (its own onnxruntime session and OpenCV capture), so a
crash or a hung driver in one camera cannot take the others down. Camera processes are forked
from multiprocessing's fork server, a clean process started once that has imported the
pipeline's libraries (`edge.preload`) but holds no model, capture, thread or state of the
parent: the cameras share those libraries' memory (about 120 → 50 MB private per camera,
docs/performance.md) and a restarted camera does not import them again. Children put every
message (aggregates, live, heartbeats, and a final `_Done`) on one multiprocessing queue; the
parent hands aggregates and live messages to a `Sink` and notes each camera's last heartbeat.
Heartbeats also carry the camera's frame size: floor ownership (which camera counts which floor
cell) needs every camera's, so the parent
passes the sizes it knows to each child it starts and sends newly learned ones to the running
children. Cameras in a fusion group (`fusion` in the store config) send their people's floor
measurements instead of floor aggregates; the parent fuses each group's (`edge.fusion_stage`,
imported only for a store that has a group) and hands the group's aggregates and live
snapshots to the sink. A child that exits without saying it is done (crash, kill, exception)
is started again after a backoff of 1 s doubling to 60 s (reset after 60 s of good running).
`stop()` asks every child to stop via a shared event; each flushes its open bucket before it
exits, and the parent keeps draining the queue until they have, then flushes the groups.
"""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.logs import setup_logging
from edge.sinks import Sink
from edge.types import FloorMeasurements, Heartbeat
from footfall_core.contract import LiveMessage
from footfall_core.store import StoreConfig
from footfall_core.watchdog import Notifier

if TYPE_CHECKING:
    from edge.fusion_stage import FusionStage, StageOutput

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0
STOP_TIMEOUT_S = 20.0  # time children get to flush before they are terminated


@dataclass(frozen=True)
class _Done:
    """A child's last message: its pipeline ended (recording over, or asked to stop)."""

    camera: str


def _watch_parent(stop: mp.Event, control: mp.Queue, pipeline, orphaned: threading.Event) -> None:
    """Pass on the other cameras' frame sizes (for floor ownership) as the parent learns them,
    and stop the pipeline once the parent sets `stop`. Polls `is_set()` rather than `wait()`:
    a process that exits while waiting on a multiprocessing Event makes the parent's `set()` hang.

    Also stops, setting `orphaned`, when nobody watches this camera any more: the supervisor is
    gone (killed), or the fork server that forked it is, in which case the supervisor sees this
    camera as dead and starts another, which must not run beside it."""
    forked_by, supervisor = os.getppid(), mp.parent_process()
    while not stop.is_set():
        if os.getppid() != forked_by or not supervisor.is_alive():
            log.warning("supervisor or fork server gone: stopping")
            orphaned.set()
            break
        try:
            pipeline.update_frame_sizes(control.get(timeout=0.2))
        except queue.Empty:
            pass
    pipeline.stop()


def _child(
    config: StoreConfig,
    camera: str,
    out: mp.Queue,
    stop: mp.Event,
    control: mp.Queue,
    frame_sizes: dict[str, tuple[int, int]],
    log_level: str,
    fused: bool,
) -> None:
    """Entry point of a camera process; `fused`: it is run in its store's fusion group."""
    from edge.model import use_threads  # not at the top: the parent never loads the detector's stack
    from edge.pipeline import CameraPipeline

    faulthandler.enable()
    setup_logging(log_level, store=config.store.id, camera=camera)
    use_threads(config.detector_for(config.camera(camera)).threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which asks us to stop
    pipeline = CameraPipeline(config, camera, frame_sizes=frame_sizes, fused=fused)
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    orphaned = threading.Event()
    threading.Thread(
        target=_watch_parent, args=(stop, control, pipeline, orphaned), daemon=True, name="parent-watch"
    ).start()
    log.info("camera process started")
    for message in pipeline.run():
        out.put(message)
    if not orphaned.is_set():
        out.put(_Done(camera))
    elif not mp.parent_process().is_alive():
        out.cancel_join_thread()  # nobody reads the queue any more: do not wait on it at exit
    log.info(
        "camera process done: %d frames read, %d analysed", pipeline.frames_read, pipeline.frames_analysed
    )


@dataclass
class _Child:
    process: mp.Process | None = None
    control: mp.Queue | None = None  # parent → child: other cameras' frame sizes
    started_s: float = 0.0
    backoff_s: float = BACKOFF_INITIAL_S
    restart_at_s: float | None = None
    done: bool = False
    restarts: int = 0


class Supervisor:
    """Parent side. `start()`, then `poll()` and `watch()` in a loop (or `run(stop_flag)`), then
    `stop()`. `last_heartbeat_s` maps camera → monotonic time of its last heartbeat (or start).

    A camera loop silent for `stall_after_s` is stalled (hung, not dead): it is logged, reported
    through `on_camera_state(camera, "stalled")` (and its source's status once it reports again;
    every change of a source's status, "reconnecting" or "error" say, is reported too), and systemd's
    watchdog (`notifier`) gets no keep-alive until every camera reports in, so that systemd
    restarts the service."""

    def __init__(
        self,
        config: StoreConfig,
        sink: Sink,
        *,
        log_level: str = "INFO",
        clock: Callable[[], float] = time.monotonic,
        stall_after_s: float = 10.0,
        notifier: Notifier | None = None,
        on_camera_state: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.log_level = log_level
        self.clock = clock
        self.stall_after_s = stall_after_s
        self.notifier = notifier or Notifier(environ={})
        self.on_camera_state = on_camera_state
        self._stalled: set[str] = set()
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(["edge.preload"])  # started (once) by the first camera
        self._queue: mp.Queue = self._ctx.Queue()
        self._stop = self._ctx.Event()
        self.children = {camera.name: _Child() for camera in config.cameras}
        self.last_heartbeat_s: dict[str, float] = {}
        self.frame_sizes: dict[str, tuple[int, int]] = {}  # (width, height) px, as children report them
        self.source_status: dict[str, str] = {}  # camera → the status its last heartbeat gave
        self.fusion: dict[str, FusionStage] = {}  # fusion group name → its stage
        self._group_of = {camera: group.name for group in config.fusion for camera in group.cameras}
        if config.fusion:
            from edge.fusion_stage import FusionStage  # a store without overlapping cameras never needs it

            self.fusion = {group.name: FusionStage(config, group) for group in config.fusion}

    def start(self) -> None:
        for name in self.children:
            self._spawn(name)

    def _spawn(self, camera: str) -> None:
        child = self.children[camera]
        child.control = self._ctx.Queue()
        child.process = self._ctx.Process(
            target=_child,
            name=f"footfall-{camera}",
            daemon=True,
            args=(
                self.config,
                camera,
                self._queue,
                self._stop,
                child.control,
                dict(self.frame_sizes),
                self.log_level,
                camera in self._group_of,
            ),
        )
        child.process.start()
        child.started_s = self.last_heartbeat_s[camera] = self.clock()
        child.restart_at_s = None
        log.info("started camera %s (pid %s)", camera, child.process.pid, extra={"camera": camera})

    @property
    def finished(self) -> bool:
        """Every camera's pipeline has ended on its own (recordings without `loop`)."""
        return all(child.done for child in self.children.values())

    def all_alive(self, max_age_s: float) -> bool:
        """Every camera that should run sent a heartbeat within `max_age_s` (for the watchdog)."""
        return not self.stalled(max_age_s)

    def poll(self, timeout_s: float = 0.5) -> None:
        """Hand over queued messages (waiting up to `timeout_s` for the first), then restart
        children that died."""
        deadline = self.clock() + timeout_s
        while True:
            try:
                message = self._queue.get(timeout=max(0.0, deadline - self.clock()))
            except queue.Empty:
                break
            except Exception:  # a child killed mid-write leaves a torn message: skip it
                log.exception("unreadable message from a camera process")
                continue
            self._route(message)
            if self.clock() >= deadline:
                break
        if not self._stop.is_set():
            self._restart_dead()

    def _route(self, message: object) -> None:
        if isinstance(message, Heartbeat):
            self.last_heartbeat_s[message.camera] = self.clock()
            if message.frame_size_px and self.frame_sizes.get(message.camera) != message.frame_size_px:
                self._share_frame_size(message.camera, message.frame_size_px)
            self._source_status_is(message.camera, message.source_status)
        elif isinstance(message, FloorMeasurements):
            self._fused(self.fusion[self._group_of[message.camera]].observe(message))
        elif isinstance(message, _Done):
            self.children[message.camera].done = True
            self._camera_stopped(message.camera)
        elif isinstance(message, LiveMessage):
            self.sink.live(message)
        else:
            self.sink.aggregate(message)
            self.last_heartbeat_s[message.camera] = self.clock()

    def _source_status_is(self, camera: str, status: str) -> None:
        """Report a camera's source status (ok, reconnecting, error, ...) when it changes."""
        if self.source_status.get(camera) == status:
            return
        self.source_status[camera] = status
        if self.on_camera_state is not None and camera not in self._stalled:
            self.on_camera_state(camera, status)

    def _fused(self, out: StageOutput) -> None:
        """Hand a fusion stage's output (`edge.fusion_stage.StageOutput`) to the sink."""
        for message in out.messages:
            if isinstance(message, LiveMessage):
                self.sink.live(message)
            else:
                self.sink.aggregate(message)

    def _camera_stopped(self, camera: str) -> None:
        """A camera's process ended: its group, if any, stops waiting for its measurements."""
        if camera in self._group_of:
            self._fused(self.fusion[self._group_of[camera]].camera_stopped(camera))

    def _share_frame_size(self, camera: str, size_px: tuple[int, int]) -> None:
        """A camera's frame size is new: tell the other cameras, whose floor ownership needs it."""
        self.frame_sizes[camera] = tuple(size_px)
        for stage in self.fusion.values():
            stage.update_frame_sizes(self.frame_sizes)
        for name, child in self.children.items():
            if (
                name != camera
                and child.control is not None
                and child.process is not None
                and child.process.is_alive()
            ):
                child.control.put(dict(self.frame_sizes))

    def _restart_dead(self) -> None:
        now = self.clock()
        for name, child in self.children.items():
            process = child.process
            if child.done or process is None or process.is_alive():
                continue
            if child.restart_at_s is None:
                if now - child.started_s > BACKOFF_MAX_S:
                    child.backoff_s = BACKOFF_INITIAL_S  # it ran well for a while: start over
                child.restart_at_s = now + child.backoff_s
                log.error(
                    "camera %s process died (exit code %s); restarting in %.0f s",
                    name,
                    process.exitcode,
                    child.backoff_s,
                    extra={"camera": name},
                )
                child.backoff_s = min(child.backoff_s * 2, BACKOFF_MAX_S)
                self._camera_stopped(name)
            elif now >= child.restart_at_s:
                child.restarts += 1
                self._spawn(name)

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Supervise until `should_stop()` or every camera has finished; then stop cleanly.
        Tells systemd when the cameras start and stop, and watches for stalls after every poll
        (at least every 0.5 s)."""
        self.notifier.ready(f"{len(self.children)} camera(s) starting")
        self.start()
        try:
            while not should_stop() and not self.finished:
                self.poll(0.5)
                self.watch()
        finally:
            self.notifier.stopping()
            self.stop()

    def watch(self) -> None:
        """Note stalled camera loops (see the class doc); keep systemd's watchdog fed while none is."""
        stalled = set(self.stalled(self.stall_after_s))
        for camera in sorted(stalled - self._stalled):
            log.error(
                "camera loop stalled: no heartbeat for %.0f s", self.stall_after_s, extra={"camera": camera}
            )
        if self.on_camera_state is not None:
            for camera in sorted(stalled ^ self._stalled):
                back = self.source_status.get(camera, "ok")
                self.on_camera_state(camera, "stalled" if camera in stalled else back)
        self._stalled = stalled
        running = len(self.children) - len(stalled)
        self.notifier.keepalive(not stalled, status=f"{running} camera(s) running")

    def stalled(self, max_age_s: float) -> list[str]:
        """Cameras that should run but sent no heartbeat within `max_age_s` (a hung loop)."""
        now = self.clock()
        return [
            name
            for name, child in self.children.items()
            if not child.done and now - self.last_heartbeat_s.get(name, -1e18) > max_age_s
        ]

    def stop(self) -> None:
        """Ask every child to stop, hand over their final (flushed) buckets, reap them."""
        self._stop.set()
        deadline = self.clock() + STOP_TIMEOUT_S

        def alive() -> list:
            return [
                c.process for c in self.children.values() if c.process is not None and c.process.is_alive()
            ]

        while alive() and self.clock() < deadline:
            self.poll(0.2)  # keep draining: a child exits only once its queued messages are out
        for process in alive():
            log.warning("camera process %s did not stop in time; terminating", process.name)
            process.terminate()
        for child in self.children.values():
            if child.process is not None:
                child.process.join(timeout=5)
        while True:
            try:
                self._route(self._queue.get_nowait())
            except queue.Empty:
                break
        for stage in self.fusion.values():
            self._fused(stage.flush())
        self.sink.close()
