"""Camera frame sources: video files, image sequences, rtsp/http streams and USB devices.

`open_source(camera, config)` turns a `Camera.source` string into a `FrameSource` that yields
`edge.types.Frame` (BGR uint8 images) with UTC epoch-second timestamps:

- live sources (rtsp/http URL, USB device index) are stamped with the wall clock; when they fail
  to open or deliver nothing for the camera's `read_timeout_s` (a stalled stream whose
  connection stays open included) they are reopened with exponential backoff (1 s doubling to
  30 s by default), and `status` says "reconnecting" meanwhile. rtsp:// cameras are read by
  `edge.rtsp_reader` (the camera's `rtsp_transport`, damaged frames dropped and counted), the
  others by OpenCV;
- recordings (video file, image pattern) are stamped `start_time + index / fps` (start_time from
  the config, else the time the source was opened; fps from the config, else the container),
  unless `realtime` paces them at their fps with wall-clock stamps. They end cleanly (status
  "ended") or restart with `loop`.

Which frames are analysed is the pipeline's choice (`RateGate`, passed as `admit`): a frame
it does not admit is only grabbed, never converted into a picture (`grab()` without
`retrieve()`: for H.264 every frame is still decoded, as the next one refers to it, but not
converted to BGR nor copied, bench/edge_source.py and bench/rtsp_camera.py; an image
sequence's file is not even read), and counted in `skipped`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Literal, Protocol

import cv2
import numpy as np

from edge.rtsp_reader import RtspReader
from edge.types import Frame
from footfall_core.redact import redact_url
from footfall_core.secrets import camera_source
from footfall_core.store import Camera, StoreConfig

log = logging.getLogger(__name__)

Status = Literal["ok", "reconnecting", "ended", "error"]


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message names the camera and the source."""


class Reader(Protocol):
    """What FrameSource needs from a capture backend. `grab` moves to the next frame and returns
    False at the end of a recording or when a live stream fails; `retrieve` decodes the frame
    grabbed last (None if it cannot); `open` raises OSError when the source cannot open."""

    fps: float | None
    corrupt: int  # frames dropped as damaged (a reader that cannot tell keeps 0)

    def open(self) -> None: ...

    def grab(self) -> bool: ...

    def retrieve(self) -> np.ndarray | None: ...

    def release(self) -> None: ...


class CaptureReader:
    """OpenCV VideoCapture over a file, URL (FFmpeg, with open/read time-outs) or device index."""

    def __init__(self, target: str | int, timeout_s: float = 10.0):
        self.target = target
        self.timeout_s = timeout_s
        self.fps: float | None = None
        self.corrupt = 0  # OpenCV hands out a damaged frame as it is
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        if isinstance(self.target, int):
            capture = cv2.VideoCapture(self.target)
        else:
            timeout_ms = int(self.timeout_s * 1000)
            capture = cv2.VideoCapture(
                self.target,
                cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms],
            )
        if not capture.isOpened():
            capture.release()
            raise OSError("cannot open (not a video, unreachable or refused)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        self._capture = capture

    def grab(self) -> bool:
        return self._capture is not None and self._capture.grab()

    def retrieve(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.retrieve()
        return image if ok and image is not None else None

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class PatternReader:
    """An image sequence `dir/seq_%06d.jpg` from `start_index`. The sequence's length is fixed
    when it opens (files counted up to the first gap), so a frame that disappears or cannot be
    decoded later is an error, not a silent early end."""

    fps: float | None = None
    corrupt = 0

    def __init__(self, pattern: str, start_index: int):
        self.pattern = pattern
        self.start_index = start_index
        self.length = 0
        self._next = start_index
        self._grabbed: int | None = None  # index of the image grabbed last

    def open(self) -> None:
        index = self.start_index
        while os.path.isfile(self.pattern % index):
            index += 1
        if index == self.start_index:
            raise OSError(f"no first image {self.pattern % self.start_index}")
        self.length = index - self.start_index
        self._next = self.start_index

    def grab(self) -> bool:
        if self._next >= self.start_index + self.length:
            return False
        self._grabbed, self._next = self._next, self._next + 1
        return True

    def retrieve(self) -> np.ndarray | None:
        path = self.pattern % self._grabbed
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(
                f"image {path} vanished or cannot be decoded "
                f"(frame {self._grabbed - self.start_index} of {self.length})"
            )
        return image

    def release(self) -> None:
        self._next = self.start_index + self.length


class FrameSource:
    """Iterate to get Frames; `close()` (from any thread) stops the iteration, even during a
    reconnect wait. `admit(timestamp_s)` chooses the frames to decode (default all); the others
    are skipped. `status`, `frames_read` (skipped ones included), `skipped`, `reconnects` and
    `last_error` are for health, and `corrupt`: frames the reader dropped as damaged."""

    def __init__(
        self,
        camera: str,
        source: str,
        reader: Reader,
        *,
        live: bool,
        fps: float | None = None,
        loop: bool = False,
        realtime: bool = False,
        start_time_s: float | None = None,
        admit: Callable[[float], bool] | None = None,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ):
        self.camera, self.live = camera, live
        self.source = redact_url(source)  # for messages and logs; the reader holds the real one
        self._reader = reader
        self._admit = admit
        self._fps = fps
        self._loop, self._realtime = loop, realtime
        self._clock = clock
        self._start_time_s = clock() if start_time_s is None else start_time_s
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self._stop = threading.Event()
        self._opened = False
        self._iterating = False
        self.status: Status = "ok"
        self.frames_read = 0
        self.skipped = 0
        self.reconnects = 0
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"FrameSource(camera={self.camera!r}, source={self.source!r}, status={self.status!r})"

    @property
    def corrupt(self) -> int:
        return self._reader.corrupt

    @property
    def fps(self) -> float | None:
        """Frames per second: the config's, else the container's or stream's; None if unknown."""
        return self._fps or self._reader.fps

    def open(self) -> None:
        """Open a recording now so a bad file fails at start-up, not at the first frame."""
        try:
            self._reader.open()
        except OSError as exc:
            self.status, self.last_error = "error", str(exc)
            raise SourceError(f"camera {self.camera}: source {self.source}: {exc}") from None
        self._opened = True
        if not self.live and self.fps is None:
            self.status = "error"
            raise SourceError(f"camera {self.camera}: source {self.source}: frame rate unknown, set fps")

    def close(self) -> None:
        """Stop iterating; the capture is released by the iterating thread (or here if none)."""
        self._stop.set()
        if not self._iterating:
            self._reader.release()
        if self.status != "error":
            self.status = "ended"

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        self._iterating = True
        try:
            yield from self._live_frames() if self.live else self._recorded_frames()
        finally:
            self._reader.release()
            self._opened = self._iterating = False

    def _live_frames(self) -> Iterator[Frame]:
        delay_s = self.backoff_initial_s
        while not self._stop.is_set():
            if not self._opened:
                try:
                    self._reader.open()
                    self._opened = True
                except OSError as exc:
                    delay_s = self._lost(str(exc), delay_s)
                    continue
            grabbed = self._reader.grab()
            if self._stop.is_set():
                break
            timestamp_s = self._clock()
            if grabbed and not self._admitted(timestamp_s):
                continue
            image = self._reader.retrieve() if grabbed else None
            if image is None:
                self._reader.release()
                self._opened = False
                delay_s = self._lost("stream stopped delivering frames", delay_s)
                continue
            delay_s = self.backoff_initial_s
            self.status = "ok"
            yield self._frame(image, timestamp_s)
        self.status = "ended"

    def _lost(self, reason: str, delay_s: float) -> float:
        """Record a failure and wait `delay_s` (interruptible); returns the next, doubled delay."""
        self.status, self.last_error = "reconnecting", reason
        self.reconnects += 1
        log.warning(
            "camera %s: source %s: %s; reconnecting in %.3g s",
            self.camera,
            self.source,
            reason,
            delay_s,
            extra={"camera": self.camera},
        )
        self._stop.wait(delay_s)
        return min(delay_s * 2, self.backoff_max_s)

    def _recorded_frames(self) -> Iterator[Frame]:
        if not self._opened:
            self.open()
        period_s = 1.0 / self.fps
        paced_from = time.monotonic()
        emitted_in_pass = 0
        while not self._stop.is_set():
            image = None
            try:
                if self._reader.grab():
                    timestamp_s = self._recorded_timestamp(paced_from, period_s)
                    if not self._admitted(timestamp_s):
                        continue
                    image = self._reader.retrieve()
            except SourceError as exc:
                self.status, self.last_error = "error", str(exc)
                raise SourceError(f"camera {self.camera}: source {self.source}: {exc}") from None
            if image is None:  # the end (or a video frame that cannot be decoded: the end too)
                if not self._loop or emitted_in_pass == 0 or self._stop.is_set():
                    break
                self._reader.release()
                self.open()
                emitted_in_pass = 0
                continue
            emitted_in_pass += 1
            yield self._frame(image, timestamp_s)
        self.status = "ended"

    def _recorded_timestamp(self, paced_from: float, period_s: float) -> float:
        """The time of the recorded frame just grabbed: the wall clock once it is due (realtime),
        else start_time + index / fps."""
        if self._realtime:
            self._stop.wait(max(0.0, paced_from + self.frames_read * period_s - time.monotonic()))
            return self._clock()
        return self._start_time_s + self.frames_read * period_s

    def _admitted(self, timestamp_s: float) -> bool:
        """Whether `admit` takes the frame grabbed at `timestamp_s`; a frame it does not take is
        counted (read and skipped) and never decoded."""
        if self._admit is None or self._admit(timestamp_s):
            return True
        self.frames_read += 1
        self.skipped += 1
        return False

    def _frame(self, image: np.ndarray, timestamp_s: float) -> Frame:
        frame = Frame(self.camera, self.frames_read, timestamp_s, image)
        self.frames_read += 1
        return frame


def parse_start_time(text: str | None, camera: str) -> float | None:
    """ISO 8601 time → UTC epoch seconds; a time without zone is taken as UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SourceError(
            f"camera {camera}: start_time {text!r} is not an ISO time (e.g. 2024-05-01T09:00:00+02:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def stream_reader(url: str, timeout_s: float, rtsp_transport: str) -> Reader:
    """The reader the edge reads a stream with: FFmpeg through PyAV for RTSP (the camera's
    transport and time-outs, edge.rtsp_reader), OpenCV's FFmpeg backend for anything else."""
    if url.startswith(("rtsp://", "rtsps://")):
        return RtspReader(url, timeout_s, rtsp_transport)
    return CaptureReader(url, timeout_s)


def open_source(
    camera: Camera,
    config: StoreConfig,
    *,
    admit: Callable[[float], bool] | None = None,
    backoff_initial_s: float = 1.0,
    backoff_max_s: float = 30.0,
    clock: Callable[[], float] = time.time,
) -> FrameSource:
    """A FrameSource for `camera`, decoding the frames `admit` takes; recordings are opened at
    once (SourceError if missing or unreadable), live sources on first iteration (and reopened
    with backoff after that)."""
    target = camera_source(config, camera)  # with its credentials: shown only through redact_url
    live = target.isdigit() or "://" in target
    reader: Reader
    if target.isdigit():
        reader = CaptureReader(int(target))
    elif live:
        reader = stream_reader(target, camera.read_timeout_s, camera.rtsp_transport)
    elif "%" in target:
        if camera.fps is None:
            raise SourceError(
                f"camera {camera.name}: source {target}: an image pattern needs fps in the config"
            )
        reader = PatternReader(target, camera.start_index)
    else:
        if not os.path.isfile(target):
            raise SourceError(f"camera {camera.name}: source {target}: no such file")
        reader = CaptureReader(target)
    source = FrameSource(
        camera.name,
        target,
        reader,
        live=live,
        fps=camera.fps,
        loop=camera.loop,
        realtime=camera.realtime,
        start_time_s=parse_start_time(camera.start_time, camera.name),
        admit=admit,
        backoff_initial_s=backoff_initial_s,
        backoff_max_s=backoff_max_s,
        clock=clock,
    )
    if not live:
        source.open()
    return source


class RateGate:
    """Keeps frames at `fps` per second on average: time is cut into slots of 1/fps seconds (by
    the frames' own timestamps) and the first frame of each slot is admitted, so a 7 fps source
    gated at 5 fps gives 5 frames a second, not 3.5. Timestamps are compared with a tolerance
    of 0.1 % of a slot, as epoch seconds carry rounding. A timestamp going backwards (clock
    step) or a gap longer than a slot restarts the slots. Pure: no clock of its own."""

    def __init__(self, fps: float):
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.period_s = 1.0 / fps
        self._tolerance_s = self.period_s * 1e-3
        self._last_s: float | None = None
        self._due_s = 0.0
        self.admitted = 0
        self.skipped = 0

    def admit(self, timestamp_s: float) -> bool:
        last = self._last_s
        if last is None or timestamp_s < last or timestamp_s >= self._due_s - self._tolerance_s:
            restart = last is None or timestamp_s < last or timestamp_s - self._due_s >= self.period_s
            self._due_s = (timestamp_s if restart else self._due_s) + self.period_s
            self._last_s = timestamp_s
            self.admitted += 1
            return True
        self.skipped += 1
        return False
