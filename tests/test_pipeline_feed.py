"""The frame feed between a source and the frame loop: nothing lost from a recording, stale
frames dropped (and counted) from a live camera the analysis cannot keep up with."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edge.feed import FrameFeed
from edge.source import FrameSource, RateGate


class VideoReader:
    """The first `limit` frames of a real recording, as a FrameSource reader; counts the frames
    it decoded."""

    def __init__(self, path: str, limit: int) -> None:
        self.path, self.limit, self.fps = path, limit, 7.0
        self._capture = None
        self._left = limit
        self.decoded = 0

    def open(self) -> None:
        self._capture = cv2.VideoCapture(self.path)
        if not self._capture.isOpened():
            raise OSError(f"cannot open {self.path}")

    def grab(self) -> bool:
        if self._left <= 0:
            return False
        self._left -= 1
        return self._capture.grab()

    def retrieve(self) -> np.ndarray | None:
        self.decoded += 1
        ok, image = self._capture.retrieve()
        return image if ok else None

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()


def _consume(feed: FrameFeed, per_frame_s: float) -> list[int]:
    indices = []
    for frame in feed:
        if frame is not None:
            indices.append(frame.index)
            time.sleep(per_frame_s)  # a slow analysis
    return indices


def test_recording_loses_nothing_however_slow_the_loop(assets):
    reader = VideoReader(str(assets / "datasets/pets09_s2l1/vtest.avi"), limit=40)
    source = FrameSource("cam", "vtest.avi", reader, live=False)
    feed = FrameFeed(source, drop_stale=False, tick_s=0.2)
    assert _consume(feed, per_frame_s=0.01) == list(range(40))
    assert feed.dropped == 0


def test_live_source_drops_stale_frames_and_counts_them(assets):
    reader = VideoReader(str(assets / "datasets/pets09_s2l1/vtest.avi"), limit=60)
    source = FrameSource("cam", "rtsp://test", reader, live=True, backoff_initial_s=30)
    feed = FrameFeed(source, drop_stale=True, tick_s=0.2, depth=2)
    got = []
    for frame in feed:
        if frame is None:
            break  # the stream stopped delivering: the source waits to reconnect, the feed ticks
        got.append(frame.index)
        time.sleep(0.05)
    feed.close()
    assert got == sorted(got) and got[-1] == 59, "the newest frame always gets through"
    assert feed.dropped > 0 and len(got) + feed.dropped == 60


def test_the_rate_gate_runs_before_decoding(assets):
    """Frames the rate gate skips are grabbed and counted in the reader thread, never decoded
    nor queued, so a fast camera analysed at a low rate decodes and buffers only the frames to
    analyse."""
    reader = VideoReader(str(assets / "datasets/pets09_s2l1/vtest.avi"), limit=70)  # 10 s at 7 fps
    source = FrameSource("cam", "vtest.avi", reader, live=False, start_time_s=0.0, admit=RateGate(5).admit)
    feed = FrameFeed(source, drop_stale=False, tick_s=0.2)
    got = _consume(feed, per_frame_s=0.0)
    assert len(got) == 50 and source.skipped == 20 and feed.dropped == 0
    assert reader.decoded == 50 and source.frames_read == 70
    assert got[:8] == [0, 2, 3, 5, 6, 7, 9, 10]  # the first frame of each 0.2 s slot, frames 1/7 s apart


class PacedCamera:
    """A live camera that delivers `count` small frames, one every `period_s`, then stops."""

    fps = 20.0

    def __init__(self, count: int, period_s: float) -> None:
        self.left, self.period_s = count, period_s
        self.grabbed_s: list[float] = []  # when (monotonic s) each frame was grabbed

    def open(self) -> None:
        pass

    def grab(self) -> bool:
        if self.left <= 0:
            return False
        time.sleep(self.period_s)
        self.left -= 1
        self.grabbed_s.append(time.monotonic())
        return True

    def retrieve(self) -> np.ndarray:
        return np.zeros((8, 8, 3), np.uint8)

    def release(self) -> None:
        pass


def _waits_s(burst_s: float) -> np.ndarray:
    """How long (s) each of 30 frames of a live camera at 20 fps waited between its grab and the
    frame loop."""
    camera = PacedCamera(30, 0.05)
    source = FrameSource("cam", "rtsp://test", camera, live=True, backoff_initial_s=30)
    feed = FrameFeed(source, drop_stale=True, burst_s=burst_s, tick_s=1.0, depth=20)
    got_s = []
    for frame in feed:
        if frame is None:
            break  # the stream stopped
        got_s.append(time.monotonic())
    feed.close()
    assert feed.dropped == 0 and len(got_s) == len(camera.grabbed_s) == 30, "every frame, none dropped"
    return np.array(got_s) - np.array(camera.grabbed_s)


def test_a_live_feed_hands_over_bursts_and_loses_nothing():
    """With burst_s the loop gets a live camera's frames a burst at a time (warm caches): a frame
    waits for the rest of its burst, a quarter of burst_s on the median; without, each one is
    handed over as it comes. A busy machine only makes a burst's frames wait longer; the bound
    on the frames without bursts is 200 times their wait measured on a busy machine."""
    bursts, single = _waits_s(burst_s=0.5), _waits_s(burst_s=0.0)
    print(f"median wait: bursts of 0.5 s {np.median(bursts):.3f} s, one by one {np.median(single):.4f} s")
    assert np.median(bursts) >= 0.15, bursts.round(3)  # measured 0.238-0.253 s (load 8 on 2 cores)
    assert np.median(single) <= 0.02, single.round(3)  # measured 0.0001 s (load 8 on 2 cores)


def test_a_burst_may_not_outlast_a_tick():
    source = FrameSource("cam", "rtsp://test", PacedCamera(1, 0.0), live=True)
    with pytest.raises(ValueError, match="burst_s"):
        FrameFeed(source, drop_stale=True, burst_s=2.0, tick_s=1.0)
