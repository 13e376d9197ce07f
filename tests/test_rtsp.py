"""IP cameras over RTSP, against a real server (GStreamer's, scripts/rtsp_camera.py) serving
PETS09 as H.264 at 25 frames/s: `python -m edge probe`, the edge's RTSP reader under the
rate gate, the transports, and the faults cameras have (killed and restarted, stalled with
the connection open, damaged packets)."""

from __future__ import annotations

import socket
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from edge.frame_size import FrameSizeGuard
from edge.probe import ProbeError, probe
from edge.rtsp_reader import RtspReader
from edge.source import FrameSource, RateGate
from footfall_core.store import ConfigError, load_config
from scripts.broker import free_port
from scripts.rtsp_camera import RtspCamera
from tests.rtsp_support import run_probe, store_yaml, wait_until


def _udp_sockets(pid: int) -> int:
    """UDP sockets process `pid` holds (Linux: /proc), RTP and RTCP ports when it streams over UDP."""
    inodes = set()
    for table in ("udp", "udp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            inodes.add(f"socket:[{row.split()[9]}]")
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += fd.readlink().as_posix() in inodes
        except OSError:
            continue
    return count


def _live(url: str, admit=None, timeout_s: float = 5.0, transport: str = "tcp", **kw) -> FrameSource:
    return FrameSource(
        "cam1",
        url,
        RtspReader(url, timeout_s, transport),
        live=True,
        admit=admit,
        backoff_initial_s=0.2,
        **kw,
    )


class Reading(threading.Thread):
    """Iterates a FrameSource on a thread, keeping every frame's (index, timestamp, shape)."""

    def __init__(self, source: FrameSource):
        super().__init__(daemon=True)
        self.source = source
        self.frames: list[tuple[int, float, tuple[int, ...]]] = []

    def run(self) -> None:
        for frame in self.source:
            self.frames.append((frame.index, frame.timestamp_s, frame.image.shape))

    def stop(self) -> None:
        self.source.close()
        self.join(30)
        assert not self.is_alive(), "the source did not stop"


# -- probe ------------------------------------------------------------------------------------


def test_probe_reports_codec_resolution_fps_and_decode_cost(rtsp_camera):
    done = run_probe(rtsp_camera.url, "--frames", "30")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert lines["codec"] == "h264 (Main)"
    assert lines["resolution"] == "768x576"
    assert lines["fps"].startswith("25 declared")
    assert lines["decode"].endswith("ms CPU per frame") and float(lines["decode"].split()[0]) > 0
    assert lines["damaged"].startswith("0 of ")
    assert lines["edge"] == "reader  ok"


def test_probe_refused_exits_2_with_the_cause():
    url = f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/cam"
    done = run_probe(url, "--timeout-s", "5")
    assert done.returncode == 2
    assert done.stderr.startswith("error: refused: rtsp://127.0.0.1:"), done.stderr
    assert "s3cret" not in done.stderr and "admin" not in done.stderr


def test_probe_names_auth_and_a_wrong_path(clips):
    with RtspCamera(clips("pets09_short"), user="viewer", password="s3cret") as camera:
        assert probe(camera.url_with("viewer", "s3cret"), frames=5).codec == "h264"
        for url in (camera.url, camera.url_with("viewer", "wrong")):
            with pytest.raises(ProbeError) as failed:
                probe(url, frames=5, timeout_s=5)
            assert failed.value.cause == "auth" and "wrong" not in str(failed.value)
        with pytest.raises(ProbeError) as failed:
            probe(camera.url.replace("/cam", "/nothing"), frames=5, timeout_s=5)
        assert failed.value.cause == "not found"


def test_probe_names_a_camera_that_never_answers():
    """A listener that accepts the connection and says nothing (a hung camera)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        with pytest.raises(ProbeError) as failed:
            probe(f"rtsp://127.0.0.1:{listener.getsockname()[1]}/cam", timeout_s=2)
        assert failed.value.cause == "timeout"
    finally:
        listener.close()
        for conn, _ in accepted:
            conn.close()


def test_probe_names_a_stream_without_video(tmp_path):
    path = tmp_path / "sound.wav"
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 8000)
    with pytest.raises(ProbeError) as failed:
        probe(str(path))
    assert failed.value.cause == "no video" and "audio" in str(failed.value)


# -- reading under the rate gate --------------------------------------------------------------


@pytest.mark.slow
def test_rtsp_frames_are_wall_clock_stamped_and_gated_to_5_per_s(rtsp_camera):
    gate = RateGate(5)
    before = time.time()
    reading = Reading(_live(rtsp_camera.url, admit=gate.admit))
    reading.start()
    wait_until(lambda: reading.source.frames_read >= 150, what="150 frames (6 s of the stream)")
    reading.stop()
    after = time.time()
    stamps = [stamp for _, stamp, _ in reading.frames]
    assert all(before <= stamp <= after for stamp in stamps) and stamps == sorted(stamps)
    assert {shape for *_, shape in reading.frames} == {(576, 768, 3)}
    # at most one frame in each 0.2 s slot of the frames' own time, whatever the load
    assert len(stamps) <= (stamps[-1] - stamps[0]) * 5 + 1
    assert reading.source.skipped == gate.skipped and gate.skipped >= 2 * len(stamps)
    assert reading.source.corrupt == 0 and reading.source.reconnects == 0


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_transport_is_the_cameras_choice(rtsp_camera, transport):
    reading = Reading(_live(rtsp_camera.url, transport=transport))
    reading.start()
    try:
        wait_until(lambda: len(reading.frames) >= 10, what="10 frames")
        udp = _udp_sockets(rtsp_camera.process.pid)
    finally:
        reading.stop()
    assert (udp > 0) == (transport == "udp"), f"{udp} UDP sockets on the server"


def test_rtsp_transport_is_validated(tmp_path):
    config = store_yaml(tmp_path, "rtsp://127.0.0.1:8554/cam", rtsp_transport="http")
    with pytest.raises(ConfigError, match=r"store.yaml: cameras.0.rtsp_transport"):
        load_config(config)
    assert load_config(store_yaml(tmp_path, "rtsp://x/cam")).cameras[0].rtsp_transport == "tcp"


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_camera_killed_and_restarted_is_reconnected(rtsp_camera):
    reading = Reading(_live(rtsp_camera.url))
    reading.start()
    try:
        wait_until(lambda: len(reading.frames) >= 25, what="frames before the kill")
        rtsp_camera.stop()
        wait_until(lambda: reading.source.status == "reconnecting", what="status reconnecting")
        had = len(reading.frames)
        wait_until(lambda: reading.source.reconnects >= 2, what="a second, refused, attempt")
        rtsp_camera.start()
        wait_until(lambda: len(reading.frames) >= had + 25, what="frames after the restart")
        assert reading.source.status == "ok"
    finally:
        reading.stop()
    indices = [index for index, *_ in reading.frames]
    assert indices == list(range(len(indices))), "frame numbers go on across the reconnect"


@pytest.mark.slow
def test_stalled_stream_is_cut_by_the_read_timeout(rtsp_camera):
    """The server freezes with the connection open: no frame, no close. The read times out and
    the camera reconnects (the process is not hung: the watchdog need not step in)."""
    reading = Reading(_live(rtsp_camera.url, timeout_s=2.0))
    reading.start()
    try:
        wait_until(lambda: len(reading.frames) >= 25, what="frames before the stall")
        rtsp_camera.freeze()
        wait_until(lambda: reading.source.status == "reconnecting", what="the read time-out")
        assert reading.source.last_error == "stream stopped delivering frames"
        had = len(reading.frames)
        rtsp_camera.thaw()
        wait_until(lambda: len(reading.frames) >= had + 10, what="frames after the thaw")
    finally:
        rtsp_camera.thaw()
        reading.stop()


@pytest.mark.slow
def test_damaged_frames_are_dropped_and_counted(clips):
    """A quarter of the P-frames carry 64 random bytes in their slice data: FFmpeg conceals the
    damage in those and in the frames that refer to them, marks them corrupt, and the reader
    drops them; the loop goes on to the next key frame's sound frames."""
    with RtspCamera(clips("pets09_corrupt")) as camera:
        reading = Reading(_live(camera.url))
        reading.start()
        try:
            wait_until(lambda: reading.source.frames_read + reading.source.corrupt >= 300, what="300 frames")
        finally:
            reading.stop()
    source = reading.source
    assert source.corrupt >= 50, f"only {source.corrupt} frames flagged"
    assert len(reading.frames) >= 100 and source.status == "ended"
    assert reading.frames[-1][0] == len(reading.frames) - 1


# -- the calibration's frame size -------------------------------------------------------------


def test_frame_size_guard_scales_same_aspect_and_refuses_another():
    guard = FrameSizeGuard("cam1", (768, 576))
    same = np.zeros((576, 768, 3), np.uint8)
    assert guard.fit(same) is same and guard.error is None
    assert guard.fit(np.zeros((480, 640, 3), np.uint8)).shape == (576, 768, 3)
    assert guard.fit(np.zeros((576, 1024, 3), np.uint8)) is None
    assert guard.error.startswith(
        "frame size 1024x576 (aspect 1.778) does not match the calibration's 768x576"
    )
    assert guard.fit(same) is same and guard.error is None
    assert (guard.resized, guard.refused) == (1, 1)
    first = FrameSizeGuard("cam1")
    first.fit(np.zeros((480, 640, 3), np.uint8))
    assert first.reference_px == (640, 480)
