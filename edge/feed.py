"""Reads a FrameSource on its own thread, so that the frame loop wakes at least every `tick_s`
(to send heartbeats and close buckets) even while a live source waits to reconnect.

Live sources (and recordings paced in real time) must not queue up stale frames when analysis
is slower than the camera: the feed keeps only the newest `depth` frames and counts the ones it
discards in `dropped`. Recordings replayed as fast as possible lose nothing: the reader waits
for the loop instead.

The source's rate gate (`FrameSource(admit=...)`) runs in the reader thread, so that only
frames to analyse are decoded and queued (a 25 fps camera analysed at 5 fps buffers 5 frames a
second, not 25). With `burst_s`, a live feed hands its frames over in bursts: once
the loop has drained the queue it waits until `burst_s` after the previous burst began, then
gets what gathered meanwhile back to back. A frame analysed alone after a sleep finds the CPU
caches cold and costs up to 1.5 times as much (docs/performance.md); the aggregates
are per bucket and the live map updates every few seconds, so a burst's latency costs nothing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from edge.source import FrameSource
from edge.types import Frame

_END = object()


class FrameFeed:
    """Iterate to get `Frame`s, or `None` when no frame came within `tick_s` seconds. Ends when
    the source ends; an exception raised by the source is raised again in the iterating thread."""

    def __init__(
        self,
        source: FrameSource,
        *,
        drop_stale: bool,
        burst_s: float = 0.0,
        tick_s: float = 1.0,
        depth: int = 2,
    ) -> None:
        if burst_s > tick_s:
            raise ValueError(
                f"burst_s ({burst_s}) must not exceed tick_s ({tick_s}): the loop must wake every tick"
            )
        self.source = source
        self.drop_stale = drop_stale
        self.burst_s = (
            burst_s if drop_stale else 0.0
        )  # a recording replayed flat out comes back to back anyway
        self.tick_s = tick_s
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        # the reader, with an item that must not be dropped (a recording's frame, the end, an
        # error) and the queue full, waits until the loop has drained it to half, so that a
        # recording's reader wakes once per few frames: waking it is a context switch, which
        # every frame took 4 % of the 192 px model's PETS09 replay
        self._room = threading.Event()
        self._low = depth // 2
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"feed-{source.camera}", daemon=True)

    def _put(self, item: object) -> None:
        droppable = self.drop_stale and isinstance(item, Frame)
        while not self._stop.is_set():
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                if not droppable:
                    self._room.clear()  # then look: a drain to half after this sets it again
                    if self._queue.qsize() > self._low:
                        self._room.wait(self.tick_s)  # a tick at most, to see a stop
                    continue
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _read(self) -> None:
        try:
            for frame in self.source:
                self._put(frame)
                if self._stop.is_set():
                    break
        except Exception as exc:  # handed to the frame loop, which owns error handling
            self._put(exc)
        self._put(_END)

    def __iter__(self) -> Iterator[Frame | None]:
        self._thread.start()
        burst_until = 0.0
        while True:
            if self.burst_s and self._queue.empty():  # drained: let the next burst gather
                self._stop.wait(max(0.0, burst_until - time.monotonic()))
                burst_until = time.monotonic() + self.burst_s
            try:
                item = self._queue.get(timeout=self.tick_s)
            except queue.Empty:
                if self._stop.is_set():
                    return
                yield None
                continue
            if not self._room.is_set() and self._queue.qsize() <= self._low:
                self._room.set()  # the reader may be waiting for room (any item but a live frame)
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the source and the reader thread (safe from any thread, and more than once)."""
        self._stop.set()
        self.source.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
