"""Adaptive rate: run the detector less often while the scene is empty.

An empty shop at opening time, at lunch or at night costs as much to analyse as a busy one,
for nothing. Once nobody has been detected for `empty_after_s`, the detector runs at most
`empty_fps` times a second; the first run that finds someone brings back the full analysis
rate. The price: a person who walks in is seen up to 1 / empty_fps seconds late. Times are the
frames' own timestamps (seconds), so a replay behaves as the live camera would.
"""

from __future__ import annotations


class AdaptiveRate:
    """`due(timestamp_s)` says whether the detector must run on this frame; `ran(timestamp_s,
    people)` records a run and how many people it found."""

    def __init__(self, empty_after_s: float = 2.0, empty_fps: float = 1.0) -> None:
        if empty_after_s < 0:
            raise ValueError(f"empty_after_s must be >= 0 s, got {empty_after_s}")
        if empty_fps <= 0:
            raise ValueError(f"empty_fps must be > 0 per second, got {empty_fps}")
        self.empty_after_s = empty_after_s
        self.empty_period_s = 1.0 / empty_fps
        self._last_run_s: float | None = None
        self._last_seen_s: float | None = None  # last run that found somebody (or the first run)

    def empty(self, timestamp_s: float) -> bool:
        """Nobody seen for at least `empty_after_s` before `timestamp_s`."""
        return self._last_seen_s is not None and timestamp_s - self._last_seen_s >= self.empty_after_s

    def due(self, timestamp_s: float) -> bool:
        last = self._last_run_s
        if last is None or timestamp_s < last or not self.empty(timestamp_s):
            return True
        return timestamp_s - last >= self.empty_period_s - 1e-9

    def ran(self, timestamp_s: float, people: int) -> None:
        if people > 0 or self._last_seen_s is None or timestamp_s < self._last_seen_s:
            self._last_seen_s = timestamp_s
        self._last_run_s = timestamp_s
