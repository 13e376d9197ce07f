"""Multi-person tracking in image pixels: a thin, order-preserving wrapper around ByteTrack.

The analytics need, per analysed frame, every detected person (occupancy and heat count
everyone) plus a stable id for people followed over several frames (lines, dwell, flows).
`trackers.ByteTrackTracker` gives both but may return its rows in another order than the
input and may draw ids from a counter shared by all instances; this wrapper puts the rows back
in input order and makes ids unique per `Tracker` (ids start at 0 after `reset()`).

Boxes are associated by IoU in image pixels; the pipeline then projects `feet_xy` (bottom
centre of each box) to the floor, so positions are anchored at the feet.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from edge.types import Detections, Tracks


class _Rows:
    """What ByteTrack returns when given `_Indexed`: the input rows it selected, in its output
    order, and the `tracker_id` it assigns to them."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.tracker_id: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)


class _Indexed(sv.Detections):
    """ByteTrack's input. ByteTrack builds its result by indexing its input (`detections[idx]`,
    or `[:]` when it skips a frame) and then sets `tracker_id`; indexing this class returns the
    selected input rows alone, so the wrapper maps ids back to input order without a `data`
    column or a filtered copy of every field (supervision's `__getitem__` costs more than the
    rest of the wrapper)."""

    def __getitem__(self, index) -> _Rows:  # type: ignore[override]
        return _Rows(np.arange(len(self.xyxy))[index])


class Tracker:
    """`update(detections, timestamp_s) -> Tracks` with one row per input detection, same order.

    Args:
        frame_rate: analysed frames per second (Hz); scales `lost_track_s` to frames.
        lost_track_s: seconds a lost track is kept for re-association (default 1.5 s).
        activation_confidence: least detector score that starts a new track.
        min_consecutive_frames: frames a track must be matched before it gets an id (-1 before).
        min_iou: least IoU between a predicted box and a detection to associate them.
        high_confidence: score splitting ByteTrack's first (high) and second (low) matching stage.
    """

    def __init__(
        self,
        frame_rate: float,
        lost_track_s: float = 1.5,
        activation_confidence: float = 0.4,
        min_consecutive_frames: int = 2,
        min_iou: float = 0.1,
        high_confidence: float = 0.5,
    ) -> None:
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be > 0 Hz, got {frame_rate}")
        # ByteTrack counts its buffer in "30 FPS frames" and rescales by frame_rate itself.
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_track_s * 30)),
            frame_rate=frame_rate,
            track_activation_threshold=activation_confidence,
            minimum_consecutive_frames=min_consecutive_frames,
            minimum_iou_threshold=min_iou,
            high_conf_det_threshold=high_confidence,
        )
        self._ids: dict[int, int] = {}  # ByteTrack id -> this tracker's id
        self._next_id = 0
        self._latest_s: float | None = None  # ByteTrack's latest timestamp, to foresee its warnings

    def reset(self) -> None:
        """Forget every track (new scene, or a source that restarted); ids restart at 0."""
        self._tracker.reset()
        self._ids.clear()
        self._next_id = 0
        self._latest_s = None

    def update(self, detections: Detections, timestamp_s: float | None = None) -> Tracks:
        """Associate this frame's detections with the live tracks.

        `timestamp_s` (seconds, increasing) lets the motion model follow uneven frame gaps;
        without it every call is one frame period apart.
        """
        inputs = _Indexed(xyxy=detections.xyxy.astype(np.float32, copy=False),
                          confidence=detections.confidence.astype(np.float32, copy=False))
        if self._warns(timestamp_s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # repeated timestamps: skip predict, fine
                result = self._tracker.update(inputs, timestamp=timestamp_s)
        else:  # the usual case: no warnings context, which costs about as much as the rest here
            result = self._tracker.update(inputs, timestamp=timestamp_s)
        track_id = np.full(len(detections), -1, dtype=np.int64)
        if len(result):
            track_id[result.rows] = [self._local_id(int(t)) for t in result.tracker_id]
        self._forget_dead()
        return Tracks(detections, track_id)

    def _warns(self, timestamp_s: float | None) -> bool:
        """Whether ByteTrack will warn about `timestamp_s` (not finite, repeated or earlier than
        its latest); follows its rule for the latest timestamp (it advances only forwards, and
        None resets it)."""
        if timestamp_s is None:
            self._latest_s = None
            return False
        if not math.isfinite(timestamp_s) or (self._latest_s is not None and timestamp_s <= self._latest_s):
            return True
        self._latest_s = timestamp_s
        return False

    def _local_id(self, tracker_id: int) -> int:
        if tracker_id < 0:
            return -1
        if tracker_id not in self._ids:
            self._ids[tracker_id] = self._next_id
            self._next_id += 1
        return self._ids[tracker_id]

    def _forget_dead(self) -> None:
        """Drop the id mapping of tracks ByteTrack has closed, so the map cannot grow forever."""
        if len(self._ids) > 4 * max(1, len(self._tracker.tracks)) + 64:
            alive = {t.tracker_id for t in self._tracker.tracks}
            self._ids = {k: v for k, v in self._ids.items() if k in alive}
