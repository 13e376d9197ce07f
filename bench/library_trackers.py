"""The trackers library's other trackers behind `edge.tracker.Tracker`'s interface, for the line
benches' `--tracker` option: OC-SORT and BoT-SORT (without camera-motion compensation, which a
fixed camera does not need) beside the shipped C-BIoU and ByteTrack. Same settings as the
shipped wrapper where the library tracker takes them (lost-track time, activation and
high-confidence scores, two matches to confirm); the library's own defaults otherwise. Not
optimised: for accuracy runs, not timing."""

from __future__ import annotations

import numpy as np
import supervision as sv
from trackers import BoTSORTTracker, OCSORTTracker

from edge.tracker import Tracker, lost_boxes
from edge.types import Detections, Tracks

KINDS = ("cbiou", "cbiou-image", "bytetrack", "ocsort", "botsort")


class LibraryTracker:
    """`update(detections, timestamp_s) -> Tracks`, row for row, over a library tracker that
    keeps `sv.Detections.data` on the rows it returns."""

    def __init__(self, kind: str, frame_rate: float, lost_track_s: float = 1.5) -> None:
        buffer = max(1, round(lost_track_s * 30))  # the library's "frames at 30 fps"
        self._tracker: OCSORTTracker | BoTSORTTracker
        if kind == "ocsort":
            self._tracker = OCSORTTracker(
                lost_track_buffer=buffer,
                frame_rate=frame_rate,
                minimum_consecutive_frames=2,
                high_conf_det_threshold=0.5,
            )
        elif kind == "botsort":
            self._tracker = BoTSORTTracker(
                lost_track_buffer=buffer,
                frame_rate=frame_rate,
                track_activation_threshold=0.4,
                minimum_consecutive_frames=2,
                high_conf_det_threshold=0.5,
                enable_cmc=False,
                instant_first_frame_activation=False,
            )
        else:
            raise ValueError(f"tracker kind must be one of {KINDS[2:]}, got {kind!r}")
        self._ids: dict[int, int] = {}
        self._latest_s: float | None = None
        self._frame_period_s = 1.0 / frame_rate

    def update(self, detections: Detections, timestamp_s: float | None = None) -> Tracks:
        track_id = np.full(len(detections), -1, np.int64)
        if timestamp_s is not None and self._latest_s is not None and timestamp_s <= self._latest_s:
            return Tracks(detections, track_id)
        self._latest_s = timestamp_s
        inputs = sv.Detections(
            xyxy=detections.xyxy.astype(np.float32),
            confidence=detections.confidence.astype(np.float32),
            class_id=np.zeros(len(detections), int),
            data={"row": np.arange(len(detections))},
        )
        result = self._tracker.update(inputs, timestamp=timestamp_s)
        if len(result):
            for row, tid in zip(result.data["row"].tolist(), result.tracker_id.tolist(), strict=True):
                if tid >= 0:
                    track_id[row] = self._ids.setdefault(tid, len(self._ids))
        return Tracks(detections, track_id)

    def lost(self, within_s: float) -> tuple[np.ndarray, np.ndarray]:
        """As `Tracker.lost`: the people followed and lost at most `within_s` s ago."""
        return lost_boxes(self._tracker.tracks, within_s, self._frame_period_s)


def image_tracker(kind: str, frame_rate: float, lost_track_s: float) -> Tracker | LibraryTracker | None:
    """None for "cbiou" (the pipeline's own tracker, as shipped: C-BIoU matching and gated on the
    floor too under 6 fps); the shipped wrapper for "cbiou-image" (C-BIoU on image overlap
    alone) and "bytetrack";
    `LibraryTracker` for the others."""
    if kind == "cbiou":
        return None
    if kind in ("cbiou-image", "bytetrack"):
        return Tracker(frame_rate=frame_rate, lost_track_s=lost_track_s, kind=kind.removesuffix("-image"))
    return LibraryTracker(kind, frame_rate, lost_track_s)
