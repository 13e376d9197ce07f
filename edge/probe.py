"""Checking a camera before it goes into a store's config: `python -m edge probe URL`.

Opens the stream with FFmpeg (PyAV), reports its codec, resolution and frame rate, decodes
`frames` frames and reports the CPU a decoded frame costs (all of FFmpeg's decoding threads
counted), then opens it once more the way the edge reads it (`edge.rtsp_reader` for RTSP,
OpenCV's FFmpeg backend otherwise) and reads a frame. A failure is one of a few named causes,
for the installer to act on:
`refused` (nothing listens at the address), `timeout` (no answer, or no frame, in time),
`auth` (the camera wants other credentials), `not found` (no stream at that path),
`no video` (the address serves no video stream), `unreadable` (anything else FFmpeg refused).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

import av

from edge.source import stream_reader
from footfall_core.redact import redact_url

Cause = str  # one of CAUSES
CAUSES = ("refused", "timeout", "auth", "not found", "no video", "unreadable")


class ProbeError(RuntimeError):
    """The camera failed the probe; `cause` is one of CAUSES, the message says what happened."""

    def __init__(self, cause: Cause, message: str):
        super().__init__(f"{cause}: {message}")
        self.cause = cause


@dataclass(frozen=True)
class ProbeResult:
    url: str  # credentials removed
    codec: str  # FFmpeg's name: h264, hevc, mjpeg, ...
    profile: str | None
    width_px: int
    height_px: int
    fps: float | None  # the stream's declared average rate
    frames_decoded: int
    frames_corrupt: int  # decoded frames FFmpeg marked damaged: the edge drops these
    decode_cpu_ms: float  # CPU per decoded frame, every decoding thread included
    measured_fps: float | None  # a stream's frames / wall second over the later half (None: a file)
    edge_reader_ok: bool  # the edge's own reader for the URL (edge.source.stream_reader) read a frame

    def lines(self) -> list[str]:
        fps = f"{self.fps:.3g}" if self.fps else "unknown"
        measured = f", {self.measured_fps:.3g} measured" if self.measured_fps else ""
        return [
            f"url          {self.url}",
            f"codec        {self.codec}" + (f" ({self.profile})" if self.profile else ""),
            f"resolution   {self.width_px}x{self.height_px}",
            f"fps          {fps} declared{measured} (of {self.frames_decoded} frames decoded)",
            f"decode       {self.decode_cpu_ms:.2f} ms CPU per frame",
            f"damaged      {self.frames_corrupt} of {self.frames_decoded} frames (dropped by the edge)",
            f"edge reader  {'ok' if self.edge_reader_ok else 'FAILED (the edge could not read a frame)'}",
        ]


def _options(url: str, transport: str) -> dict[str, str]:
    return {"rtsp_transport": transport} if url.startswith(("rtsp://", "rtsps://")) else {}


def _cause(exc: BaseException, waited_s: float = 0.0, timeout_s: float = float("inf")) -> Cause:
    """FFmpeg's error → a named cause. An error after the whole time-out is the time-out (FFmpeg
    reports the interrupted read as whatever it was reading)."""
    text = str(exc).lower()
    if waited_s >= timeout_s * 0.95:
        return "timeout"
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in text:
        return "refused"
    if isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        return "timeout"
    if "401" in text or "unauthorized" in text or "403" in text or "forbidden" in text:
        return "auth"
    if "404" in text or "not found" in text:
        return "not found"
    return "unreadable"


def probe(url: str, *, frames: int = 100, timeout_s: float = 10.0, transport: str = "tcp") -> ProbeResult:
    """Probe `url` (or a file path): see the module's docstring. Raises ProbeError."""
    shown = redact_url(url)
    opening = time.monotonic()
    try:
        container = av.open(url, options=_options(url, transport), timeout=(timeout_s, timeout_s))
    except av.FFmpegError as exc:
        cause = _cause(exc, time.monotonic() - opening, timeout_s)
        raise ProbeError(cause, f"{shown}: {redact_url(str(exc))}") from None
    try:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            raise ProbeError("no video", f"{shown}: no video stream (streams: {kinds})")
        stream = container.streams.video[0]
        stream.thread_count = 1  # as the edge decodes: the CPU per frame is one camera's cost
        decoded, corrupt, cpu_s = 0, 0, 0.0
        arrived: list[float] = []  # when each frame was decoded (monotonic s)
        started = time.monotonic()
        try:
            for packet in container.demux(stream):
                before = time.process_time()
                got = packet.decode()
                cpu_s += time.process_time() - before
                for frame in got:
                    decoded += 1
                    corrupt += frame.is_corrupt
                    arrived.append(time.monotonic())
                if decoded >= frames or time.monotonic() - started > timeout_s * 3:
                    break
        except av.FFmpegError as exc:
            if decoded == 0:
                raise ProbeError(_cause(exc), f"{shown}: {redact_url(str(exc))}") from None
        if decoded == 0:
            raise ProbeError("timeout", f"{shown}: no frame decoded")
        # the rate over the second half: a server sends what it buffered before play at once
        later = arrived[len(arrived) // 2 :]
        wall_s = later[-1] - later[0]
        rate = stream.average_rate or stream.guessed_rate
        context = stream.codec_context
        result = dict(
            codec=context.name,
            profile=context.profile,
            width_px=context.width,
            height_px=context.height,
            fps=float(rate) if isinstance(rate, Fraction) and rate > 0 else None,
            frames_decoded=decoded,
            frames_corrupt=corrupt,
            decode_cpu_ms=cpu_s * 1000 / decoded,
            measured_fps=(len(later) - 1) / wall_s if wall_s > 0 and "://" in url else None,
        )
    finally:
        container.close()
    return ProbeResult(url=shown, edge_reader_ok=_edge_reads(url, timeout_s, transport), **result)


def _edge_reads(url: str, timeout_s: float, transport: str) -> bool:
    """The edge's own reader (edge.source's choice for the URL) opens it and reads a frame."""
    reader = stream_reader(url, timeout_s, transport)
    try:
        reader.open()
        return reader.grab() and reader.retrieve() is not None
    except OSError:
        return False
    finally:
        reader.release()
