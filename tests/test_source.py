"""Frame sources on the real footage, plus failure paths: missing files, unreachable streams,
frames vanishing mid-stream, live streams dropping and coming back."""

from __future__ import annotations

import http.server
import logging
import re
import shutil
import socketserver
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from edge.source import FrameSource, RateGate, SourceError, open_source
from footfall_core.store import StoreConfig, parse_config
from tests.brokers import free_port

PETS = "${FOOTFALL_ASSETS}/datasets/pets09_s2l1/vtest.avi"
CALIBRATION = {
    "image_points_px": [[0, 0], [10, 0], [10, 10], [0, 10]],
    "floor_points_m": [[0, 0], [1, 0], [1, 1], [0, 1]],
}


def store(tmp_path, **camera) -> StoreConfig:
    data = {
        "store": {"id": "s1"},
        "floor_plan": {"width_m": 20, "height_m": 10},
        "cameras": [{"name": "cam1", "calibration": CALIBRATION, **camera}],
    }
    return parse_config(data, tmp_path / "store.yaml")


def source_for(tmp_path, **camera) -> FrameSource:
    config = store(tmp_path, **camera)
    return open_source(config.cameras[0], config, backoff_initial_s=0.05, backoff_max_s=0.2)


def test_pets_video_frames_and_timestamps(tmp_path):
    start = "2024-05-01T09:00:00+02:00"
    source = source_for(tmp_path, source=PETS, start_time=start)
    assert source.fps == 10.0  # the container's rate, since the config gives none
    t0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC).timestamp()
    count = 0
    for frame in source:
        assert frame.index == count and frame.camera == "cam1"
        assert frame.timestamp_s == pytest.approx(t0 + count / 10.0, abs=1e-6)
        assert frame.image.shape == (576, 768, 3) and frame.image.dtype == np.uint8
        count += 1
    assert count == 795
    assert (source.status, source.frames_read, source.reconnects) == ("ended", 795, 0)


def test_config_fps_overrides_container(tmp_path):
    source = source_for(tmp_path, source=PETS, fps=7, start_time="2024-05-01T07:00:00")
    frames = [frame for frame, _ in zip(source, range(15))]
    source.close()
    t0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC).timestamp()  # no zone: UTC
    assert [f.timestamp_s for f in frames] == pytest.approx([t0 + i / 7 for i in range(15)])
    assert source.status == "ended"


def test_mall_pattern_yields_800_frames(assets, tmp_path):
    source = source_for(tmp_path, source=str(assets / "datasets/mall_dev/frames/seq_%06d.jpg"), fps=2)
    before = time.time()
    frames = list(source)
    assert len(frames) == 800 and source.status == "ended"
    assert frames[0].image.shape == (480, 640, 3)
    assert before - 5 <= frames[0].timestamp_s <= time.time()  # default start: when opened
    assert frames[-1].timestamp_s - frames[0].timestamp_s == pytest.approx(799 / 2)


def test_pattern_start_index_and_loop(assets, tmp_path):
    source = source_for(
        tmp_path,
        source=str(assets / "datasets/mall_dev/frames/seq_%06d.jpg"),
        fps=2,
        start_index=797,
        loop=True,
    )
    frames = [frame for frame, _ in zip(source, range(10))]
    source.close()
    assert [f.index for f in frames] == list(range(10))
    assert np.array_equal(frames[0].image, frames[4].image)  # 797..800 then 797 again
    assert not np.array_equal(frames[0].image, frames[1].image)
    assert np.all(np.diff([f.timestamp_s for f in frames]) == pytest.approx(0.5))


@pytest.mark.parametrize(
    "camera, message",
    [
        ({"source": "nothere.avi"}, r"camera cam1: source .*nothere\.avi: no such file"),
        ({"source": "frames/seq_%06d.jpg", "fps": 2}, r"camera cam1: source .*seq_%06d\.jpg: no first image"),
        ({"source": "frames/seq_%06d.jpg"}, r"camera cam1: .*needs fps"),
        ({"source": "notvideo.avi"}, r"camera cam1: source .*notvideo\.avi: cannot open"),
        ({"source": PETS, "start_time": "9am"}, r"cam1: start_time"),
    ],
)
def test_bad_sources_name_camera_and_source(tmp_path, camera, message):
    (tmp_path / "notvideo.avi").write_text("this is not a video")
    with pytest.raises(SourceError, match=message):
        source_for(tmp_path, **camera)


def test_unreachable_stream_reconnects_with_backoff_and_stops(tmp_path, caplog):
    url = f"rtsp://127.0.0.1:{free_port()}/x"
    source = source_for(tmp_path, source=url)
    frames = []
    caplog.set_level(logging.WARNING, logger="edge.source")
    thread = threading.Thread(target=lambda: frames.extend(source), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while source.reconnects < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert source.status == "reconnecting" and source.reconnects >= 5
    source.close()
    thread.join(5)
    assert not thread.is_alive() and frames == [] and source.status == "ended"
    delays = [float(m) for m in re.findall(r"reconnecting in ([\d.]+) s", caplog.text)]
    assert delays[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert url in caplog.text and "cam1" in caplog.text


def test_pattern_frame_vanishing_mid_stream_is_an_error(assets, tmp_path):
    for i in range(1, 11):
        name = f"seq_{i:06d}.jpg"
        shutil.copyfile(assets / "datasets/mall_dev/frames" / name, tmp_path / name)
    source = source_for(tmp_path, source="seq_%06d.jpg", fps=2)
    seen = []
    with pytest.raises(SourceError, match=r"camera cam1: .*seq_000006\.jpg vanished"):
        for frame in source:
            seen.append(frame.index)
            if frame.index == 2:
                (tmp_path / "seq_000006.jpg").unlink()
    assert seen == [0, 1, 2, 3, 4] and source.status == "error"


def test_frames_the_gate_skips_are_never_decoded(assets, tmp_path):
    """A skipped image of a sequence is not even read: breaking it costs nothing; breaking one
    the gate admits is an error naming it. Skipped frames count as read, timestamps go on."""
    for i in range(1, 11):
        name = f"seq_{i:06d}.jpg"
        shutil.copyfile(assets / "datasets/mall_dev/frames" / name, tmp_path / name)
    (tmp_path / "seq_000002.jpg").write_bytes(b"not a jpeg")  # frame 1, skipped at 2 of 4 fps
    config = store(tmp_path, source="seq_%06d.jpg", fps=4, start_time="2024-05-01T07:00:00")
    source = open_source(config.cameras[0], config, admit=RateGate(2).admit)
    frames = list(source)
    t0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC).timestamp()
    assert [f.index for f in frames] == [0, 2, 4, 6, 8]
    assert [f.timestamp_s - t0 for f in frames] == pytest.approx([0, 0.5, 1, 1.5, 2])
    assert (source.frames_read, source.skipped, source.status) == (10, 5, "ended")
    (tmp_path / "seq_000005.jpg").write_bytes(b"not a jpeg")  # frame 4, admitted
    source = open_source(config.cameras[0], config, admit=RateGate(2).admit)
    with pytest.raises(SourceError, match=r"camera cam1: .*seq_000005\.jpg vanished or cannot be decoded"):
        list(source)


@pytest.fixture
def mjpeg_url(assets):
    """A local HTTP MJPEG camera that sends 5 Mall frames per connection, then hangs up."""
    jpegs = [(assets / f"datasets/mall_dev/frames/seq_{i:06d}.jpg").read_bytes() for i in range(1, 6)]

    class Camera(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for jpeg in jpegs:
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                    % (len(jpeg), jpeg)
                )
                self.wfile.flush()

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_http_stream_that_hangs_up_is_reconnected(tmp_path, mjpeg_url):
    source = source_for(tmp_path, source=mjpeg_url)
    assert source.live
    before = time.time()
    frames = [frame for frame, _ in zip(source, range(12))]
    source.close()
    assert len(frames) == 12 and frames[0].image.shape == (480, 640, 3)
    assert source.reconnects >= 2 and source.last_error == "stream stopped delivering frames"
    stamps = [f.timestamp_s for f in frames]
    assert before <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= time.time()
    assert source.status == "ended"


class DroppingReader:
    """A live stream that delivers `per_connection` frames, then drops; the first reopen fails."""

    fps = None

    def __init__(self, per_connection: int):
        self.per_connection = per_connection
        self.opens = 0
        self.left = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == 2:
            raise OSError("connection refused")
        self.left = self.per_connection

    def grab(self) -> bool:
        if self.left == 0:
            return False
        self.left -= 1
        return True

    def retrieve(self) -> np.ndarray:
        return np.full((4, 4, 3), self.opens, np.uint8)

    def release(self) -> None:
        self.left = 0


def test_live_stream_that_drops_is_reopened(tmp_path):
    reader = DroppingReader(per_connection=3)
    clock = iter(range(1000, 2000)).__next__
    source = FrameSource(
        "cam1",
        "rtsp://camera/x",
        reader,
        live=True,
        backoff_initial_s=0.01,
        backoff_max_s=0.04,
        clock=lambda: float(clock()),
    )
    statuses, frames = [], []
    for frame in source:
        frames.append(frame)
        statuses.append(source.status)
        if len(frames) == 6:
            break
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 1, 1, 3, 3, 3]  # second open failed
    assert [f.index for f in frames] == list(range(6))
    assert source.reconnects == 2 and reader.opens == 3 and source.last_error == "connection refused"
    assert set(statuses) == {"ok"}
    assert np.all(np.diff([f.timestamp_s for f in frames]) > 0)  # wall clock stamps


def test_realtime_recording_uses_clock(assets, tmp_path):
    ticks = iter(np.arange(50.0, 60.0, 0.5))
    config = store(
        tmp_path,
        source=str(assets / "datasets/mall_dev/frames/seq_%06d.jpg"),
        fps=50,
        realtime=True,
        start_index=796,
    )
    source = open_source(config.cameras[0], config, clock=lambda: float(next(ticks)))
    stamps = [frame.timestamp_s for frame in source]
    assert stamps == [50.5, 51.0, 51.5, 52.0, 52.5]  # first tick was taken as start time


@pytest.mark.parametrize(
    "fps_in, fps_gate, admitted",
    [
        (10, 5, [0, 2, 4, 6, 8]),
        (5, 5, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        (7, 5, [0, 2, 3, 5, 6, 7, 9]),  # 7 frames in 10/7 s: 5 a second
        (20, 2, [0]),
    ],
)
def test_rate_gate(fps_in, fps_gate, admitted):
    gate = RateGate(fps_gate)
    result = [i for i in range(10) if gate.admit(1000.0 + i / fps_in)]
    assert result == admitted
    assert (gate.admitted, gate.skipped) == (len(admitted), 10 - len(admitted))


def test_rate_gate_is_not_fooled_by_timestamp_rounding():
    """Epoch timestamps of a 7 fps recording gated at 7 fps: every frame is analysed."""
    gate = RateGate(7)
    start = 1_793_000_000.123
    assert all(gate.admit(start + i / 7) for i in range(700))


def test_rate_gate_restarts_when_clock_steps_back():
    gate = RateGate(5)
    assert [gate.admit(t) for t in (10.0, 10.1, 9.0, 9.1, 9.2)] == [True, False, True, False, True]
    with pytest.raises(ValueError):
        RateGate(0)
