"""The frame feed between a source and the frame loop: nothing lost from a recording, stale
frames dropped (and counted) from a live camera the analysis cannot keep up with."""
from __future__ import annotations

import time

import cv2
import numpy as np

from edge.feed import FrameFeed
from edge.source import FrameSource


class VideoReader:
    """The first `limit` frames of a real recording, as a FrameSource reader."""

    def __init__(self, path: str, limit: int) -> None:
        self.path, self.limit, self.fps = path, limit, 7.0
        self._capture = None
        self._left = limit

    def open(self) -> None:
        self._capture = cv2.VideoCapture(self.path)
        if not self._capture.isOpened():
            raise OSError(f"cannot open {self.path}")

    def read(self) -> np.ndarray | None:
        if self._left <= 0:
            return None
        self._left -= 1
        ok, image = self._capture.read()
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
