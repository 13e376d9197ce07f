"""A simulated IP camera for tests and benchmarks: a recording encoded as a camera encodes it
(H.264, main profile, no B-frames, a key frame every 2 s) and served over RTSP by a real server
(scripts/rtsp_serve.py) on a free loopback port, which a test can kill, restart, freeze and thaw.

`encode_clip` writes the MP4 with PyAV's libx264 (nothing to install beyond the venv); the
server runs under the system Python with Debian's GStreamer (scripts/bootstrap.sh)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from models.footage import video_frames
from scripts.broker import ExitedError, free_port, wait_for_listener

SERVE = Path(__file__).with_name("rtsp_serve.py")
SYSTEM_PYTHON = "/usr/bin/python3"
BIND_ATTEMPTS = 5


def server_available() -> str | None:
    """None when the RTSP server can run here, else what is missing and how to get it."""
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst; "
        "Gst.init(None); "
        "assert all(Gst.ElementFactory.find(n) for n in ('qtdemux', 'h264parse', 'rtph264pay'))"
    )
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} missing"
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=60)
    if done.returncode != 0:
        return (
            "GStreamer's RTSP server missing (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 "
            "gstreamer1.0-rtsp gstreamer1.0-plugins-good gstreamer1.0-plugins-bad, "
            "as scripts/bootstrap.sh does)"
        )
    return None


def encode_clip(
    source: Path,
    out: Path,
    *,
    fps: int = 25,
    frames: int | None = None,
    size_px: tuple[int, int] | None = None,
    corrupt_every: int = 0,
    seed: int = 0,
    passes: int = 1,
    codec: str = "libx264",
) -> Path:
    """The frames of `source` (any video OpenCV reads) as H.264 at `fps` frames/s in `out`
    (MP4): the first `frames` (default all), resized to `size_px` (width, height) if given,
    `passes` times over (a longer stream for benchmarks); `codec` "libx265" for H.265 (main
    profile, the same key frame interval).
    `corrupt_every` > 0 overwrites 64 bytes in the middle of every `corrupt_every`-th
    non-key access unit with random ones (`seed`): slice data a decoder must reject or conceal,
    as after packet damage on a camera's link. Returns `out`."""
    import av  # test and bench tooling only

    tmp = out.with_suffix(".part.mp4")
    rng = random.Random(seed)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.pix_fmt = "yuv420p"
        params = f"keyint={2 * fps}:bframes=0"
        stream.options = {"preset": "veryfast", "profile": "main"}
        stream.options[codec.removeprefix("lib") + "-params"] = params + (
            ":log-level=error" if codec == "libx265" else ""
        )
        non_key = 0
        for count, image in enumerate(_frames(source, frames, passes)):
            if size_px is not None and (image.shape[1], image.shape[0]) != size_px:
                image = cv2.resize(image, size_px, interpolation=cv2.INTER_AREA)
            if count == 0:
                stream.width, stream.height = image.shape[1], image.shape[0]
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = count, Fraction(1, fps)
            packets = list(stream.encode(frame))
            for packet in packets:
                if corrupt_every and not packet.is_keyframe:
                    non_key += 1
                    if non_key % corrupt_every == 0 and packet.size > 200:
                        data = bytearray(bytes(packet))
                        middle = len(data) // 2
                        data[middle : middle + 64] = rng.randbytes(64)
                        packet = _copy_packet(av, packet, bytes(data))
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    tmp.replace(out)
    return out


def _frames(source: Path, frames: int | None, passes: int) -> Iterator[np.ndarray]:
    for _ in range(passes):
        yield from video_frames(source, frames)


def _copy_packet(av, packet, data: bytes):
    copy = av.Packet(data)
    copy.pts, copy.dts, copy.time_base, copy.stream = packet.pts, packet.dts, packet.time_base, packet.stream
    return copy


class RtspCamera:
    """`clip` served at rtsp://127.0.0.1:PORT/cam by a server process of its own. `stop()` kills
    it (SIGKILL: a camera losing power), `start(clip)` serves again on the same port (possibly
    another clip: a camera restarted at another resolution), `freeze()`/`thaw()` stop and
    continue the process (SIGSTOP/SIGCONT: a camera whose stream stalls, its connection open)."""

    def __init__(self, clip: Path, port: int | None = None, user: str | None = None, password: str = ""):
        self.clip = Path(clip)
        self.port = port or free_port()
        self._may_move = port is None
        self.user, self.password = user, password
        self.process: subprocess.Popen | None = None
        self.log = self.clip.with_name(f"rtsp-{self.port}.log")  # the server's stderr

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def url_with(self, user: str, password: str) -> str:
        return f"rtsp://{user}:{password}@127.0.0.1:{self.port}/cam"

    def start(self, clip: Path | None = None) -> RtspCamera:
        if clip is not None:
            self.clip = Path(clip)
        for attempt in range(1, BIND_ATTEMPTS + 1):
            command = [SYSTEM_PYTHON, str(SERVE), str(self.clip), "--port", str(self.port)]
            if self.user:
                command += ["--user", self.user, "--password", self.password]
            self.log = self.clip.with_name(f"rtsp-{self.port}.log")
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_for_listener(self.process, self.port, timeout_s=30)
                self._may_move = False
                return self
            except (ExitedError, TimeoutError) as failed:
                said = self._kill()
                if not self._may_move or attempt == BIND_ATTEMPTS:
                    raise RuntimeError(
                        f"RTSP server did not start on port {self.port}: {failed}; {said}"
                    ) from None
                self.port = free_port()
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self._kill()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _kill(self) -> str:
        process, self.process = self.process, None
        if process is None:
            return ""
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait()
        return self.log.read_text(errors="replace").strip()[-2000:] if self.log.exists() else ""

    def __enter__(self) -> RtspCamera:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    """Serve a recording as a camera until Ctrl-C: python -m scripts.rtsp_camera VIDEO [CLIP.mp4]."""
    source = Path(sys.argv[1])
    clip = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_suffix(".h264.mp4")
    if not clip.exists():
        encode_clip(source, clip)
    with RtspCamera(clip) as camera:
        print(camera.url, flush=True)
        try:
            assert camera.process is not None
            camera.process.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    if shutil.which(SYSTEM_PYTHON) is None:
        sys.exit(f"{SYSTEM_PYTHON} missing")
    main()
