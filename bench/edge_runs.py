"""Timed runs for bench/edge_speed.py: the real `CameraPipeline.run()` loop over a fixed number
of frames, served from memory (decode excluded) or decoded by the project's own readers (decode
included), with the time spent in each stage; and the peer baseline a user would glue
together from the ecosystem (same detector, then `trackers.ByteTrackTracker`, supervision's
`HeatMapAnnotator` and `LineZone` on every frame).

Stage times are summed over the run; the rest of the loop (feed thread hand-off, rate gate,
bucket accounting, message building) is "other". Times are CPU seconds of this process
(process_time: onnxruntime does part of each call on a helper thread, about 4 % for YOLOX), so
that other work on a shared machine does not inflate them; wall time is kept alongside.
Nothing here changes what the pipeline computes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from unittest import mock

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

import edge.pipeline
from edge.detector import Detector
from edge.pipeline import CameraPipeline, Heartbeat
from edge.source import CaptureReader, FrameSource, PatternReader, Reader, parse_start_time
from edge.types import Detections, Tracks
from footfall_core.store import StoreConfig


class MemoryReader:
    """A `Reader` over frames decoded beforehand: the pipeline runs without decoding."""

    corrupt = 0  # frames decoded beforehand are whole

    def __init__(self, images: list[np.ndarray], fps: float):
        self.images, self.fps = images, fps
        self._next = 0

    def open(self) -> None:
        self._next = 0

    def grab(self) -> bool:
        if self._next >= len(self.images):
            return False
        self._next += 1
        return True

    def retrieve(self) -> np.ndarray:
        return self.images[self._next - 1]

    def release(self) -> None:
        self._next = len(self.images)


class FirstFrames:
    """A `Reader` that ends after the first `count` frames of another (decoding) reader."""

    def __init__(self, inner: Reader, count: int):
        self.inner, self.count = inner, count
        self.fps = None
        self._read = 0

    def open(self) -> None:
        self.inner.open()
        self.fps, self._read = self.inner.fps, 0

    def grab(self) -> bool:
        if self._read >= self.count:
            return False
        self._read += 1
        return self.inner.grab()

    @property
    def corrupt(self) -> int:
        return self.inner.corrupt

    def retrieve(self) -> np.ndarray | None:
        return self.inner.retrieve()

    def release(self) -> None:
        self.inner.release()


def decoding_reader(config: StoreConfig, camera: str, count: int) -> Reader:
    """The project's reader for the camera's recording (video file or image pattern), first
    `count` frames."""
    cam = config.camera(camera)
    target = config.resolve(cam.source)
    inner: Reader = PatternReader(target, cam.start_index) if "%" in target else CaptureReader(target)
    return FirstFrames(inner, count)


def decode(config: StoreConfig, camera: str, count: int) -> list[np.ndarray]:
    """The first `count` frames of the camera's recording, decoded."""
    reader = decoding_reader(config, camera, count)
    reader.open()
    images = []
    while reader.grab() and (image := reader.retrieve()) is not None:
        images.append(image)
    reader.release()
    return images


@dataclass
class StageClock:
    """CPU seconds of the process spent per stage, filled by `timed` wrappers."""

    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, call: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - started

        return wrapper


@dataclass(frozen=True)
class PipelineRun:
    frames: int
    detector_runs: int
    cpu_s: float  # whole process, every thread (the feed thread decodes)
    wall_s: float
    stage_s: dict[str, float]
    messages: tuple
    frame_size_px: tuple[int, int] | None  # (width, height) of the frames analysed

    @property
    def fps(self) -> float:
        """Frames per CPU second: what one core sustains."""
        return self.frames / self.cpu_s


def instrument(pipeline: CameraPipeline, clock: StageClock) -> None:
    """Wrap each stage of `pipeline` (instance attributes shadow the methods) with `clock`;
    "gate" is the levers' own decision (edge.gating), "detect" the detector runs."""
    gate = pipeline.gate
    gate.detector = _TimedDetector(gate.detector, clock)
    gate._plan = clock.timed("gate", gate._plan)
    pipeline.tracker.update = clock.timed("track", pipeline.tracker.update)
    pipeline._to_floor = clock.timed("floor", pipeline._to_floor)
    pipeline.aggregator.observe = clock.timed("analytics", pipeline.aggregator.observe)
    pipeline.live.observe = clock.timed("live", pipeline.live.observe)


class _TimedDetector:
    """The detector, timed; passes its other attributes (its passes, crops) through."""

    def __init__(self, detector: Detector, clock: StageClock):
        self._detector, self._call = detector, clock.timed("detect", detector.__call__)

    def __call__(self, image: np.ndarray, *args):
        return self._call(image, *args)

    def __getattr__(self, name: str):
        return getattr(self._detector, name)


@contextmanager
def _served_by(config: StoreConfig, camera: str, reader: Reader) -> Iterator[None]:
    """Make `CameraPipeline.run()` read from `reader` instead of opening the configured source."""
    cam = config.camera(camera)

    def open_source(_camera, _config, admit=None, **_):
        source = FrameSource(
            cam.name,
            cam.source,
            reader,
            live=False,
            fps=cam.fps or reader.fps,
            start_time_s=parse_start_time(cam.start_time, cam.name),
            admit=admit,
        )
        source.open()
        return source

    with mock.patch.object(edge.pipeline, "open_source", open_source):
        yield


class ImageTracker(Protocol):
    """What the pipeline asks of its image tracker (`edge.tracker.Tracker`)."""

    def update(self, detections: Detections, timestamp_s: float | None = None) -> Tracks: ...

    def lost(self, within_s: float) -> tuple[np.ndarray, np.ndarray]: ...


def run_pipeline(
    config: StoreConfig,
    camera: str,
    reader: Reader,
    detector: Detector,
    stages: bool = True,
    tracker: ImageTracker | None = None,
) -> PipelineRun:
    """Run the camera's pipeline to the end of `reader`, timing each stage when `stages`;
    `tracker` (anything with `Tracker.update`) replaces the pipeline's image tracker."""
    pipeline = CameraPipeline(config, camera, detector=detector)
    if tracker is not None:
        pipeline.tracker = tracker
    clock = StageClock()
    if stages:
        instrument(pipeline, clock)
    with _served_by(config, camera, reader):
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        messages = tuple(m for m in pipeline.run() if not isinstance(m, Heartbeat))
        cpu_s, wall_s = time.process_time() - started_cpu, time.perf_counter() - started_wall
    return PipelineRun(
        pipeline.frames_read,
        pipeline.gate.runs,
        cpu_s,
        wall_s,
        dict(clock.seconds),
        messages,
        pipeline.frame_size_px,
    )


def peer_line_px(config: StoreConfig, camera: str, image_shape: tuple[int, ...]) -> tuple[sv.Point, sv.Point]:
    """The counting line for the peer in image pixels: the store's first line projected from the
    floor with the camera's homography, else a horizontal line across the middle of the image."""
    if config.lines:
        from footfall_core.geometry import CameraGeometry

        geometry = CameraGeometry.from_config(config.camera(camera))
        ends = geometry.floor_to_image(np.array([config.lines[0].start_m, config.lines[0].end_m]))
        if np.isfinite(ends).all():
            return sv.Point(*ends[0]), sv.Point(*ends[1])
    height, width = image_shape[:2]
    return sv.Point(0, height / 2), sv.Point(width, height / 2)


def run_peer(
    config: StoreConfig, camera: str, images: list[np.ndarray], detector: Detector, fps: float
) -> tuple[float, dict[str, float], int]:
    """The peer over `images` (decode excluded): (frames per CPU second, CPU seconds per stage,
    line crossings)."""
    tracker = ByteTrackTracker(frame_rate=fps)
    heat = sv.HeatMapAnnotator()
    start, end = peer_line_px(config, camera, images[0].shape)
    line = sv.LineZone(start=start, end=end)
    clock = StageClock()
    detect = clock.timed("detect", detector)
    track = clock.timed("track", tracker.update)
    annotate = clock.timed("heatmap", heat.annotate)
    trigger = clock.timed("line", line.trigger)
    started = time.process_time()
    for image in images:
        found = detect(image).detections
        detections = sv.Detections(
            xyxy=found.xyxy, confidence=found.confidence, class_id=np.zeros(len(found), int)
        )
        detections = track(detections)
        annotate(image.copy(), detections)
        trigger(detections)
    return len(images) / (time.process_time() - started), clock.seconds, line.in_count + line.out_count


def detector_fps(detector: Detector, images: list[np.ndarray]) -> float:
    """Detector-only frames per CPU second over `images` (already decoded), after a warm-up call."""
    detector(images[0])
    started = time.process_time()
    for image in images:
        detector(image)
    return len(images) / (time.process_time() - started)
