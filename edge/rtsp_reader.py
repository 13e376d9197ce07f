"""Reading an RTSP camera with FFmpeg through PyAV, where OpenCV's capture hides what matters
for a network camera: OpenCV takes FFmpeg options only from one process-wide environment
variable, and it hands out a frame whose slices were damaged in transit (concealed with
smeared blocks) as if it were sound. Here the transport and the time-outs are options of each
open, and a frame FFmpeg marks corrupt is dropped and counted instead of being analysed.

What a skipped frame costs: an H.264 camera's P-frames each refer to the frame before, so every
frame must be decoded, analysed or not (OpenCV's `grab()` decodes too: it demuxes and decodes,
and only `retrieve()` converts to BGR). What the rate gate saves is the conversion to BGR and
the copy, about a third of the reading cost (bench/rtsp_camera.py). Decoding is single-threaded:
a store's cameras already fill the cores one process each, and frame threads would add a frame
of delay per thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np


class RtspReader:
    """A `edge.source.Reader` over an rtsp:// URL. `open` raises OSError (refused, time-out,
    401, 404, no video stream: FFmpeg's message); `grab` decodes the next sound frame and
    returns False when the stream ends, fails or sends nothing for `timeout_s` (the camera
    then is reopened by the source); `corrupt` counts the frames dropped as damaged."""

    def __init__(self, url: str, timeout_s: float = 10.0, rtsp_transport: str = "tcp"):
        self.url = url
        self.timeout_s = timeout_s
        self.rtsp_transport = rtsp_transport
        self.fps: float | None = None
        self.corrupt = 0
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._frame: av.VideoFrame | None = None

    def open(self) -> None:
        try:
            container = av.open(
                self.url,
                options={"rtsp_transport": self.rtsp_transport},
                timeout=(self.timeout_s, self.timeout_s),
            )
        except av.FFmpegError as exc:
            raise OSError(exc.strerror or str(exc)) from None
        if not container.streams.video:
            container.close()
            raise OSError("no video stream")
        stream = container.streams.video[0]
        stream.thread_count = 1
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate and 0 < rate < 1000 else None
        self._container = container
        self._frames = self._decoded(container, stream)

    @staticmethod
    def _decoded(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
        for packet in container.demux(stream):
            yield from packet.decode()

    def grab(self) -> bool:
        self._frame = None
        if self._frames is None:
            return False
        try:
            for frame in self._frames:
                if frame.is_corrupt:
                    self.corrupt += 1
                    continue
                self._frame = frame
                return True
        except (av.FFmpegError, OSError):
            pass
        return False

    def retrieve(self) -> np.ndarray | None:
        return None if self._frame is None else self._frame.to_ndarray(format="bgr24")

    def release(self) -> None:
        self._frames = self._frame = None
        if self._container is not None:
            self._container.close()
            self._container = None
