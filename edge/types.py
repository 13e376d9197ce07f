"""Typed values that flow between the edge stages.

Coordinate frames: `*_xy` in image pixels unless named `floor_xy` (metres on the store's
floor plan, x to the right and y down the plan image, origin at the plan's `origin_m`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded camera frame; `timestamp_s` is UTC epoch seconds from the source's clock."""

    camera: str
    index: int
    timestamp_s: float
    image: np.ndarray  # (H, W, 3) uint8, BGR


def _as(array: npt.ArrayLike, shape_tail: tuple[int, ...], dtype: npt.DTypeLike, name: str) -> np.ndarray:
    out = np.asarray(array, dtype=dtype)
    if out.ndim != 1 + len(shape_tail) or out.shape[1:] != shape_tail:
        want = "(N" + "".join(f", {d}" for d in shape_tail) + ")"
        raise ValueError(f"{name}: expected shape {want}, got {out.shape}")
    return out


@dataclass(frozen=True, eq=False)
class Detections:
    """People found in one frame, in image pixels. One row per person."""

    xyxy: np.ndarray  # (N, 4) float32: x1, y1, x2, y2
    confidence: np.ndarray  # (N,) float32 in [0, 1]

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as(self.xyxy, (4,), np.float32, "xyxy"))
        object.__setattr__(self, "confidence", _as(self.confidence, (), np.float32, "confidence"))
        if len(self.xyxy) != len(self.confidence):
            raise ValueError(f"xyxy has {len(self.xyxy)} rows, confidence {len(self.confidence)}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | np.ndarray) -> Detections:
        return Detections(self.xyxy[index].reshape(-1, 4), self.confidence[index].reshape(-1))

    @cached_property
    def feet_xy(self) -> np.ndarray:
        """(N, 2) float32 bottom-centre of each box: where the person stands. Worked out once
        (the floor stage asks for it twice a frame), read-only."""
        feet = np.empty((len(self.xyxy), 2), np.float32)
        np.add(self.xyxy[:, 0], self.xyxy[:, 2], out=feet[:, 0])
        feet[:, 0] /= 2
        feet[:, 1] = self.xyxy[:, 3]
        feet.flags.writeable = False
        return feet


@dataclass(frozen=True, eq=False)
class Tracks:
    """Detections with tracker ids. `track_id` is -1 for a person not (yet) in a confirmed track,
    or held as hidden behind someone (`edge.hidden`): such people still count for occupancy and
    heat, but not for lines, dwell or flows."""

    detections: Detections
    track_id: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        object.__setattr__(self, "track_id", _as(self.track_id, (), np.int64, "track_id"))
        if len(self.track_id) != len(self.detections):
            raise ValueError(f"track_id has {len(self.track_id)} rows, detections {len(self.detections)}")

    def __len__(self) -> int:
        return len(self.track_id)


@dataclass(frozen=True, eq=False)
class FloorObservation:
    """Everyone one camera sees at one instant, on the floor plan. Input of every analytic.

    `dt_s` is the time this observation stands for (the interval since the previous analysed
    frame, capped), so that `person_seconds` = people × dt_s whatever the analysis rate.
    Rows are only the people on floor cells this camera owns. `track_state` and
    `track_state_cov`, when given, are the floor filter's state of each followed person
    (x, y m, vx, vy m/s) and its covariance (`edge.floor_tracks`): counting lines use its
    position (`track_xy`, `track_cov_m2`: a line asks for that much more distance past it),
    smoothed over what follows when `analysis.line_smoothing_s` > 0, while occupancy and heat
    count the measured `floor_xy`, whose error averages out. Without them lines use `floor_xy`
    as exact.
    """

    timestamp_s: float
    dt_s: float
    floor_xy: np.ndarray  # (N, 2) float64 metres
    track_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))  # (N,) int64
    track_state: np.ndarray | None = None  # (N, 4) float64: x, y metres, vx, vy metres/second
    track_state_cov: np.ndarray | None = None  # (N, 4, 4) float64, of track_state

    def __post_init__(self) -> None:
        object.__setattr__(self, "floor_xy", _as(self.floor_xy, (2,), np.float64, "floor_xy"))
        object.__setattr__(self, "track_id", _as(self.track_id, (), np.int64, "track_id"))
        if len(self.track_id) != len(self.floor_xy):
            raise ValueError(f"track_id has {len(self.track_id)} rows, floor_xy {len(self.floor_xy)}")
        if (self.track_state is None) != (self.track_state_cov is None):
            raise ValueError("track_state and track_state_cov come together")
        if self.track_state is not None and self.track_state_cov is not None:
            state = _as(self.track_state, (4,), np.float64, "track_state")
            cov = _as(self.track_state_cov, (4, 4), np.float64, "track_state_cov")
            object.__setattr__(self, "track_state", state)
            object.__setattr__(self, "track_state_cov", cov)
            if not len(state) == len(cov) == len(self.floor_xy):
                raise ValueError(
                    f"track_state has {len(state)} rows, track_state_cov {len(cov)}, "
                    f"floor_xy {len(self.floor_xy)}"
                )

    def __len__(self) -> int:
        return len(self.floor_xy)

    @property
    def track_xy(self) -> np.ndarray | None:
        """(N, 2) float64 metres: the filter's position of each row, if given."""
        return None if self.track_state is None else self.track_state[:, :2]

    @property
    def track_cov_m2(self) -> np.ndarray | None:
        """(N, 2, 2) float64 square metres: that position's covariance, if given."""
        return None if self.track_state_cov is None else self.track_state_cov[:, :2, :2]


@dataclass(frozen=True, eq=False)
class FloorMeasurements:
    """Everyone one camera sees at one instant, on the floor plan, each with how far off their
    position may be: the input of the fusion of overlapping cameras (`edge.fusion`). Sent by a
    camera process to the supervisor; never leaves the device.

    `cov_m2` is each position's covariance in square metres (x, y of the floor plan);
    `track_id` the camera's own track ids (-1: not yet confirmed)."""

    camera: str
    timestamp_s: float
    floor_xy: np.ndarray  # (N, 2) float64 metres
    cov_m2: np.ndarray  # (N, 2, 2) float64 square metres
    track_id: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        object.__setattr__(self, "floor_xy", _as(self.floor_xy, (2,), np.float64, "floor_xy"))
        object.__setattr__(self, "cov_m2", _as(self.cov_m2, (2, 2), np.float64, "cov_m2"))
        object.__setattr__(self, "track_id", _as(self.track_id, (), np.int64, "track_id"))
        if not len(self.floor_xy) == len(self.cov_m2) == len(self.track_id):
            raise ValueError(
                f"floor_xy has {len(self.floor_xy)} rows, cov_m2 {len(self.cov_m2)}, "
                f"track_id {len(self.track_id)}"
            )

    def __len__(self) -> int:
        return len(self.floor_xy)


@dataclass(frozen=True)
class Heartbeat:
    """The frame loop is alive at `at_s` (UTC epoch seconds, wall clock); never leaves the device.
    Here rather than in `edge.pipeline` so that the supervisor, which only receives it, does not
    import the detector's stack."""

    camera: str
    at_s: float
    source_status: str
    frame_size_px: tuple[int, int] | None = None  # (width, height) of the latest frame, for ownership
