"""Multi-person tracking in image pixels: a thin, order-preserving wrapper around the trackers
library's C-BIoU (default) or ByteTrack.

The analytics need, per analysed frame, every detected person (occupancy and heat count
everyone) plus a stable id for people followed over several frames (lines, dwell, flows).
`trackers.CBIoUTracker` and `trackers.ByteTrackTracker` give both but may return their rows in
another order than the input and may draw ids from a counter shared by all instances; this
wrapper puts the rows back in input order and makes ids unique per `Tracker` (ids start at 0
after `reset()`).

Why C-BIoU by default: against PETS09's annotated floor trajectories, over 180 random counting
lines (`bench/line_accuracy.py`, seeds 1-6), it swaps and breaks fewer tracks where walkers
pass each other than ByteTrack (line accuracy 91.7 % against 88.8 % on average, the floor
filter on both; OC-SORT 90.6 %, BoT-SORT without camera motion 91.7 %), at a little more time
a frame than ByteTrack (docs/performance.md, "Where the time goes"; `BoxKalman` below, the
library's box filter per coordinate, takes about a fifth off C-BIoU's time). It is
BoT-SORT's association (score-fused first stage, a step for unconfirmed tracks) on boxes
enlarged by a buffer, so a person who moved further than their box between two frames is
still matched.

Boxes are associated by IoU in image pixels. Under 6 analysed frames a second, with the
camera's calibration (`feet_on_floor`, as the pipeline gives it), C-BIoU also asks the floor
(`_FloorCBIoU`): a detection is matched by how near its feet are on the floor, and not at all
to a track whose person could not have walked there, however much the boxes overlap: at 2-5
frames a second people step farther than their box is wide, and box overlap alone breaks and
swaps them (docs/accuracy.md, "Seven other cameras"). The pipeline then projects `feet_xy`
(bottom centre of each box) to the floor, so positions are anchored at the feet.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker, CBIoUTracker
from trackers.core.botsort.tracklet import BoTSORTTracklet
from trackers.utils.converters import xyxy_to_xywh
from trackers.utils.iou import BIoU
from trackers.utils.motion_models import _NOMINAL_FRAME_STEP_TOLERANCE, _NOMINAL_FRAME_STEP_TOLERANCE_SECONDS
from trackers.utils.predict_timing import FIXED_RATE_TIMING, PredictTiming
from trackers.utils.state_representations import XCYCWHStateEstimator

from edge.floor_tracks import JOIN_GATE, WALK_SPEED_M_S
from edge.types import Detections, Tracks


class _BlockKalman:
    """What `AxisKalman` and `BoxKalman` share: a constant-velocity box filter whose four
    coordinates move independently under diagonal noise, so that its 8×8 covariance is one 2×2
    block per coordinate: `p_pp`, `p_pv`, `p_vv` (position, position-velocity and velocity
    variances), beside the measurement noise `r` and the one-frame process noise `q_p`, `q_v`.
    Each is a float where the four blocks are the same (`AxisKalman`, whose noise is isotropic)
    and a list of four floats, one a coordinate, otherwise (`BoxKalman`); the block arithmetic
    is `_predicted` and `_corrected`. A subclass reads a noise matrix the tracklet sets
    (`_parts`) and moves its own state in `predict` and `update`."""

    p_pp: Any
    p_pv: Any
    p_vv: Any
    r: Any
    q_p: Any
    q_v: Any

    @staticmethod
    def _parts(matrix: np.ndarray, name: str) -> tuple[Any, Any, Any]:
        """A noise matrix as its position, position-velocity and velocity parts (a 4×4
        measurement noise has only the first)."""
        raise NotImplementedError

    def set_kf_covariances(
        self,
        measurement_noise: np.ndarray | None = None,
        process_noise: np.ndarray | None = None,
        state_covariance: np.ndarray | None = None,
    ) -> None:
        if measurement_noise is not None:
            self.r = self._parts(measurement_noise, "measurement_noise")[0]
        if process_noise is not None:
            self.q_p, _, self.q_v = self._parts(process_noise, "process_noise")
        if state_covariance is not None:
            self.p_pp, self.p_pv, self.p_vv = self._parts(state_covariance, "state_covariance")


def _nominal(frame_step: float, frame_rate: float | None) -> bool:
    """Whether trackers counts a step of `frame_step` frames as one frame and applies the
    configured process noise as it is (`ScalableProcessNoise.build_Q`'s band: a time-based
    width with a frame rate, a fixed one without)."""
    if frame_rate is not None and frame_rate > 0:
        tolerance = _NOMINAL_FRAME_STEP_TOLERANCE_SECONDS * frame_rate
    else:
        tolerance = _NOMINAL_FRAME_STEP_TOLERANCE
    return abs(frame_step - 1.0) <= tolerance


def _predicted(
    a: float, b: float, c: float, q_p: float, q_v: float, frame_step: float, nominal: bool
) -> tuple[float, float, float]:
    """One coordinate's covariance block (a, b, c: position, position-velocity, velocity
    variances) `frame_step` frames on, with trackers' process noise for that step: the
    configured `q_p`, `q_v` on a nominal step, white-noise acceleration from `q_v` over a gap
    (`ScalableProcessNoise._dwna`, in its order of operations)."""
    if nominal:
        q_pp, q_pv, q_vv = q_p, 0.0, q_v
    else:
        dt2 = frame_step * frame_step
        q_pp, q_pv, q_vv = q_v * (dt2 * dt2) / 4.0, q_v * (dt2 * frame_step) / 2.0, q_v * dt2
    return (
        (a + frame_step * b) + (b + frame_step * c) * frame_step + q_pp,
        b + frame_step * c + q_pv,
        c + q_vv,
    )


def _corrected(a: float, b: float, c: float, r: float) -> tuple[float, float, float, float, float]:
    """One coordinate's position and velocity gains for a measurement of variance `r`, and its
    covariance block after it (Joseph form, as trackers' KalmanFilter)."""
    spread = a + r
    gain_p, gain_v = a / spread, b / spread
    keep = 1.0 - gain_p
    return (
        gain_p,
        gain_v,
        keep * keep * a + r * gain_p * gain_p,
        keep * (b - gain_v * a) + r * gain_p * gain_v,
        c - 2.0 * gain_v * b + gain_v * gain_v * a + r * gain_v * gain_v,
    )


class AxisKalman(_BlockKalman):
    """ByteTrack's box filter (trackers' `XYXYStateEstimator` with the noise its tracklet sets),
    computed for what it is: the four box coordinates move independently under the same noise,
    so its 8×8 covariance is four copies of one 2×2 block (position, velocity) and its gain one
    pair of numbers. Same predictions to float rounding (tests/test_tracker.py runs both side by
    side, gaps included) at a fraction of the cost: the 8×8 products and `np.linalg.inv` per
    track were half of ByteTrack's time (docs/performance.md).

    Plugged in through `ByteTrackTracker(state_estimator_class=...)`; implements what
    `ByteTrackTracklet` calls: `kf` (the unit noise it scales), `set_kf_covariances`,
    `predict`, `update` and `state_to_bbox`.
    """

    class _UnitNoise:
        measurement_noise = np.eye(4)
        process_noise = np.eye(8)

    kf = _UnitNoise()

    def __init__(self, bbox: np.ndarray) -> None:
        self.position = np.array(bbox, dtype=np.float64).reshape(4)  # x1, y1, x2, y2 (px)
        self.velocity = np.zeros(4)  # px per frame
        self.p_pp, self.p_pv, self.p_vv = 1.0, 0.0, 1.0  # the shared 2×2 covariance block
        self.r = self.q_p = self.q_v = 1.0  # measurement and one-frame process noise variances

    @staticmethod
    def _parts(matrix: np.ndarray, name: str) -> tuple[float, float, float]:
        """`variance × identity` is all it models: ValueError naming `name` for other noise."""
        variance = float(matrix[0, 0])
        if not np.array_equal(matrix, variance * np.eye(len(matrix))):
            raise ValueError(f"AxisKalman: {name} must be a multiple of the identity, got {matrix.tolist()}")
        return variance, 0.0, variance

    def predict(self, frame_step: float = 1.0, frame_rate: float | None = None) -> None:
        self.position = self.position + frame_step * self.velocity
        self.p_pp, self.p_pv, self.p_vv = _predicted(
            self.p_pp, self.p_pv, self.p_vv, self.q_p, self.q_v, frame_step, _nominal(frame_step, frame_rate)
        )

    def update(self, bbox: np.ndarray | None) -> None:
        if bbox is None:
            return
        gain_p, gain_v, self.p_pp, self.p_pv, self.p_vv = _corrected(self.p_pp, self.p_pv, self.p_vv, self.r)
        innovation = np.asarray(bbox, dtype=np.float64).reshape(4) - self.position
        self.position = self.position + gain_p * innovation
        self.velocity = self.velocity + gain_v * innovation

    def state_to_bbox(self) -> np.ndarray:
        return self.position


class BoxKalman(_BlockKalman, XCYCWHStateEstimator):
    """C-BIoU's box filter (trackers' `XCYCWHStateEstimator`: centre, width and height, each with
    its velocity) computed for what it is: the tracklet sets diagonal noise (scaled to the box's
    width and height), so the four coordinates move independently and the 8×8 covariance is
    four 2×2 blocks (position, velocity), kept as three lists of four floats. Same predictions
    to float rounding (tests/test_tracker.py runs both side by side, gaps included) without the
    8×8 products and `np.linalg.inv` per track: about a fifth less C-BIoU time over PETS09's
    annotated boxes, jittered (the rest is its association and per-track bookkeeping). The
    per-coordinate arithmetic is on Python floats, in the order numpy would do it on arrays of
    four (the same IEEE operations, so the same bits): a numpy call on four numbers costs
    about as much as twenty float operations, and these floats take about a sixth more off
    C-BIoU's time on PETS09 (the 192 px model's people).

    Plugged in through `CBIoUTracker(state_estimator_class=...)`; a subclass so that the
    tracklet's width/height clamps apply, on `kf.state` (8, 1) as in the library.
    """

    class _State:
        def __init__(self, xywh: np.ndarray) -> None:
            self.state = np.zeros((8, 1))
            self.state[:4, 0] = xywh

    def __init__(self, bbox: np.ndarray) -> None:  # no library filter to build
        self.kf = self._State(xyxy_to_xywh(np.asarray(bbox, dtype=np.float64).reshape(4)))  # type: ignore[assignment]
        # per coordinate (centre x, centre y, width, height): the 2×2 block and the diagonal noises
        self.p_pp, self.p_pv, self.p_vv = [1.0] * 4, [0.0] * 4, [1.0] * 4
        self.r, self.q_p, self.q_v = [1.0] * 4, [1.0] * 4, [1.0] * 4

    @staticmethod
    def _parts(matrix: np.ndarray, name: str) -> tuple[list[float], list[float], list[float]]:
        """The diagonal (the tracklet builds new matrices for every call and keeps none)."""
        diagonal = matrix.diagonal().tolist()
        return diagonal[:4], [0.0] * 4, diagonal[4:]

    def state_to_bbox(self) -> np.ndarray:
        """trackers' `xywh_to_xyxy` of the state, on floats (the tracklet asks for it four times
        a frame per track)."""
        return _xyxy(self.kf.state[:4, 0].tolist())

    def predict(self, frame_step: float = 1.0, frame_rate: float | None = None) -> None:
        column = self.kf.state[:, 0]
        column[:] = self.stepped(column.tolist(), frame_step, frame_rate)

    def update(self, bbox: np.ndarray | None) -> None:
        if bbox is not None:
            column = self.kf.state[:, 0]
            column[:] = self.corrected(column.tolist(), bbox)

    def stepped(self, x: list[float], frame_step: float, frame_rate: float | None) -> list[float]:
        """`predict` on the state's 8 floats `x`: returns them `frame_step` frames on (the
        covariance blocks move in place)."""
        nominal = _nominal(frame_step, frame_rate)
        a, b, c, q_p, q_v = self.p_pp, self.p_pv, self.p_vv, self.q_p, self.q_v
        p_pp, p_pv, p_vv = [0.0] * 4, [0.0] * 4, [0.0] * 4
        for i in range(4):
            p_pp[i], p_pv[i], p_vv[i] = _predicted(a[i], b[i], c[i], q_p[i], q_v[i], frame_step, nominal)
        self.p_pp, self.p_pv, self.p_vv = p_pp, p_pv, p_vv
        return [x[i] + frame_step * x[i + 4] for i in range(4)] + x[4:]

    def corrected(self, x: list[float], bbox: np.ndarray) -> list[float]:
        """`update` on the state's 8 floats `x`: returns them after the measurement `bbox`
        (x1, y1, x2, y2 px; the covariance blocks move in place)."""
        a, b, c, r = self.p_pp, self.p_pv, self.p_vv, self.r
        x1, y1, x2, y2 = np.asarray(bbox, dtype=np.float64).reshape(4).tolist()
        w, h = x2 - x1, y2 - y1  # trackers' xyxy_to_xywh, on floats
        measured = (x1 + w * 0.5, y1 + h * 0.5, w, h)
        p_pp, p_pv, p_vv = [0.0] * 4, [0.0] * 4, [0.0] * 4
        for i in range(4):
            gain_p, gain_v, p_pp[i], p_pv[i], p_vv[i] = _corrected(a[i], b[i], c[i], r[i])
            innovation = measured[i] - x[i]
            x[i], x[i + 4] = x[i] + gain_p * innovation, x[i + 4] + gain_v * innovation
        self.p_pp, self.p_pv, self.p_vv = p_pp, p_pv, p_vv
        return x


class _BoxTracklet(BoTSORTTracklet):
    """C-BIoU's tracklet over a `BoxKalman`, its `predict` and `update` on the filter's floats
    with one read and one write of the state each: the library's (noise from the box's size,
    the filter's step, the width/height clamp, the miss clocks and counters) builds an 8×8 and
    a 4×4 diagonal matrix a frame per track for the filter to read their diagonals, and reads
    and writes the state array in each of its four calls. The same values (the library's
    expressions, on the same floats; tests/test_tracker.py); each call costs about 4.6 µs a
    track, against 5.6 µs when the noise refresh, the step and the clamp were separate calls
    on the same floats. The wrapper gives a tracklet this class once the library has made it
    (its first noise is set as the library sets it)."""

    state_estimator: BoxKalman

    def predict(self, timing: PredictTiming = FIXED_RATE_TIMING) -> np.ndarray:
        estimator = self.state_estimator
        x = estimator.kf.state[:, 0].tolist()
        w, h = _sides(x)
        sp, sv = self._SIGMA_P, self._SIGMA_V
        estimator.q_p = [(sp * w) ** 2, (sp * h) ** 2, (sp * w) ** 2, (sp * h) ** 2]
        estimator.q_v = [(sv * w) ** 2, (sv * h) ** 2, (sv * w) ** 2, (sv * h) ** 2]
        x = _clamped(estimator.stepped(x, timing.frame_step, timing.frame_rate))
        estimator.kf.state[:, 0] = x
        self._advance_miss_clocks(timing)
        return _xyxy(x)

    def update(self, bbox: np.ndarray) -> None:
        estimator = self.state_estimator
        x = estimator.kf.state[:, 0].tolist()
        w, h = _sides(x)
        sm = self._SIGMA_M
        estimator.r = [(sm * w) ** 2, (sm * h) ** 2, (sm * w) ** 2, (sm * h) ** 2]
        estimator.kf.state[:, 0] = _clamped(x if bbox is None else estimator.corrected(x, bbox))
        self.time_since_update = 0
        self.time_since_update_seconds = 0.0
        self.number_of_successful_updates += 1


def _xyxy(x: list[float]) -> np.ndarray:
    """trackers' `xywh_to_xyxy` of a `BoxKalman` state's floats."""
    half_w, half_h = x[2] * 0.5, x[3] * 0.5
    return np.array([x[0] - half_w, x[1] - half_h, x[0] + half_w, x[1] + half_h])


def _sides(x: list[float]) -> tuple[float, float]:
    """The box's width and height as the library's tracklet takes them for its noise: from the
    box `_xyxy` gives, at least 1e-3 px."""
    half_w, half_h = x[2] * 0.5, x[3] * 0.5
    return max((x[0] + half_w) - (x[0] - half_w), 1e-3), max((x[1] + half_h) - (x[1] - half_h), 1e-3)


def _clamped(x: list[float]) -> list[float]:
    """The library tracklet's `_clamp_xcycwh_state`: width and height at least 1e-3 px."""
    x[2], x[3] = max(x[2], 1e-3), max(x[3], 1e-3)
    return x


class _LeanBIoU(BIoU):
    """trackers' `BIoU` (boxes grown by `buffer_ratio` of their width and height, then
    supervision's `box_iou_batch`) with the same float64 operations in the same order, on both
    coordinates of a corner at once: about half the numpy calls, which are what a frame's few
    boxes cost (the library's took about a sixth of C-BIoU's time over Mall's people). Same
    matrices to the bit (tests/test_tracker.py)."""

    def _compute(self, boxes_1: np.ndarray, boxes_2: np.ndarray) -> np.ndarray:
        low_1, high_1 = self._grown(boxes_1)
        low_2, high_2 = self._grown(boxes_2)
        # intersection's width and height, (N, M, 2), clipped at 0 as `np.clip(..., 0.0, None)`
        inter = np.minimum(high_1[:, None], high_2[None]) - np.maximum(low_1[:, None], low_2[None])
        np.maximum(inter, 0.0, out=inter)
        area_inter = inter[..., 0] * inter[..., 1]
        size_1, size_2 = high_1 - low_1, high_2 - low_2
        area_norm = (size_1[:, 0] * size_1[:, 1])[:, None] + (size_2[:, 0] * size_2[:, 1])[None] - area_inter
        out = np.zeros(area_inter.shape, np.float32)
        np.divide(area_inter, area_norm, out=out, where=area_norm > 0)
        return out

    def _grown(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) top-left and (N, 2) bottom-right corners, float64, grown by the buffer."""
        xyxy = np.asarray(boxes, np.float64)
        margin = self.buffer_ratio * (xyxy[:, 2:] - xyxy[:, :2])
        return xyxy[:, :2] - margin, xyxy[:, 2:] + margin


ACTIVATION_CONFIDENCE = 0.4  # least detector score that starts a track, by default
FLOOR_MATCH_BELOW_FPS = 6.0
"""Analysed frame rates (Hz) under which C-BIoU also matches on the floor (`_FloorCBIoU`). From 6
frames a second a walker's step between frames is within their box: forced on there, the floor
match moved line accuracy by -0.4 to +1.8 points over all views (WILDTRACK's views at 6 and 10
fps, PETS09 at 7; docs/accuracy.md) and cost a worst view 4.3 points once. The floor gate alone
at 10 a second took 1.1-1.7 points off the views' errors, but the tracker's floor work doubles
its time a frame (about 0.2 ms on PETS09), which takes the 192 px model's pipeline under 0.9 x
its detector alone (`bench/edge_speed.py`)."""

FLOOR_GATE = JOIN_GATE
"""Largest Mahalanobis distance² on the floor at which C-BIoU may give a detection to a track
(`_FloorCBIoU`): the chi-square 99.9 % quantile with 2 degrees of freedom, as the floor filter's
join."""

FeetOnFloor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Boxes (N, 4) image px → their feet on the floor (N, 2) m (NaN above the horizon) and each
position's covariance (N, 2, 2) m² (`edge.fusion.feet_covariance`)."""


@dataclass(frozen=True)
class _FrameFloor:
    """What the floor says of one update's pairs (`_FloorCBIoU._floor_of`), every track by every
    detection: `near` (T, D), exp(-d²/2) for a track matched in the previous frame, NaN for
    others (box overlap alone) and where feet are above the horizon; `beyond` (T, D), d² over
    `FLOOR_GATE`; the row of each track (by `id` of its tracklet) and the column of each
    detection (by its box's xyxy)."""

    near: np.ndarray
    beyond: np.ndarray
    track_rows: dict[int, int]
    detection_columns: dict[tuple[float, ...], int]


class _FloorCBIoU(CBIoUTracker):
    """C-BIoU that asks the floor whether a detection can be a track's person: d² is the
    Mahalanobis distance² between the detection's feet and those of the track's predicted box,
    on the floor, under both positions' covariances from the calibration plus a walker's speed
    doubt over the time since the track was last matched (`speed_m_s` × those seconds, per axis).

    - **Gate:** a pair with d² above `FLOOR_GATE` (99.9 %) is not matched, however much their
      boxes overlap. In a crowd seen from a low camera, people a metre or two apart on the floor
      overlap in the image, and a jittered or missed box lets box overlap hand one person's
      track to the other; on the floor the one is where the track could have walked and the
      other is not. Near the camera, where the feet are placed to a few centimetres, that tells
      them apart; far away, where the calibration's doubt is metres along the line of sight, the
      gate lets box overlap decide, as without it.
    - **Match:** the similarity between a track matched in the
      previous frame and a detection is the larger of their buffered IoU and exp(-d²/2), a
      Gaussian's height at d relative to its peak, on IoU's 0-1 scale, so the library's
      thresholds and score fusion apply unchanged. Between two frames at 2 a second a walker
      moves about 0.7 m, more than a body's width; a new track has no velocity yet and an
      established one turns, so the boxes stop overlapping and the tracker breaks the track or
      gives it to a neighbour. On the floor the step is a length in metres that a walking pace
      bounds, whatever the camera's angle or the person's distance. A track lost for more than
      one frame keeps box overlap alone: the speed doubt grows with the gap, and in a crowd a
      lost track's floor gate holds other people, whose detections it would take. The floor
      filter joins such a person again when the tracker gives them a new id
      (`edge.floor_tracks`), and only while they can still be in view.
    """

    # not a tracker of the library's registry (it would replace C-BIoU there) nor of its tuner
    tracker_id = None
    search_space: ClassVar[dict[str, dict]] = {}

    def __init__(
        self, feet_on_floor: FeetOnFloor, speed_m_s: float, frame_rate: float, **settings: Any
    ) -> None:
        super().__init__(frame_rate=frame_rate, **settings)
        self.feet_on_floor, self.speed_m_s, self.frame_period_s = feet_on_floor, speed_m_s, 1.0 / frame_rate
        self._frame_xyxy = np.zeros((0, 4), np.float32)  # the detections of the update under way
        self._floor: _FrameFloor | None = None  # its pairs on the floor, once that update asks

    def update(
        self, detections: sv.Detections, frame: np.ndarray | None = None, timestamp: float | None = None
    ) -> sv.Detections:
        self._frame_xyxy, self._floor = detections.xyxy, None
        return super().update(detections, frame=frame, timestamp=timestamp)

    def _floor_of(self, tracks_by_id: dict[int, np.ndarray]) -> _FrameFloor:
        """The floor's say on every pair of the update's tracks (`tracks_by_id`: the library's
        predicted box of each, by `id` of its tracklet) and detections. The library's
        association stages each ask about some of a frame's tracks and detections; the first
        works it out for all of them at once: a numpy call costs about as much on a frame's few
        dozen people as on a handful, and `feet_on_floor` about 60 µs a call whatever the
        number."""
        if self._floor is not None:
            return self._floor
        tracks = [t for t in self.tracks if id(t) in tracks_by_id]
        predicted = np.array([tracks_by_id[id(t)] for t in tracks], np.float64).reshape(-1, 4)
        xy, cov = self.feet_on_floor(np.concatenate([predicted, self._frame_xyxy]))
        n = len(tracks)
        track_xy, track_cov, found_xy, found_cov = xy[:n], cov[:n], xy[n:], cov[n:]
        gap_s = np.array([seconds_unmatched(t, self.frame_period_s) for t in tracks])
        walked_m2 = ((self.speed_m_s * gap_s) ** 2)[:, None]
        # the (T, D) pairs' summed covariance a, b (= its other off-diagonal), c (m²) and their
        # feet's distance dx, dy (m), each term on its own: no (T, D, 2, 2) array to build
        a = track_cov[:, None, 0, 0] + found_cov[None, :, 0, 0] + walked_m2
        b = track_cov[:, None, 0, 1] + found_cov[None, :, 0, 1]
        c = track_cov[:, None, 1, 1] + found_cov[None, :, 1, 1] + walked_m2
        dx = found_xy[None, :, 0] - track_xy[:, None, 0]
        dy = found_xy[None, :, 1] - track_xy[:, None, 1]
        with np.errstate(invalid="ignore"):  # NaN: feet above the horizon, neither matched nor gated
            d2 = (c * dx**2 - 2 * b * dx * dy + a * dy**2) / (a * c - b * b)
            beyond = d2 > FLOOR_GATE
        followed = np.array([t.time_since_update <= 1 for t in tracks], bool)
        near = np.where(followed[:, None], np.exp(-0.5 * d2), np.nan)
        self._floor = _FrameFloor(
            near,
            beyond,
            {id(t): row for row, t in enumerate(tracks)},
            {tuple(box): column for column, box in enumerate(self._frame_xyxy.tolist())},
        )
        return self._floor

    def _biou_matrix(
        self,
        tracklets: list[BoTSORTTracklet],
        boxes: np.ndarray,
        iou: BIoU,
        tracklet_boxes_by_id: dict[int, np.ndarray],
    ) -> np.ndarray:
        overlap = super()._biou_matrix(tracklets, boxes, iou, tracklet_boxes_by_id)
        if not len(tracklets) or not len(boxes):
            return overlap
        floor = self._floor_of(tracklet_boxes_by_id)
        pairs = np.ix_(
            [floor.track_rows[id(t)] for t in tracklets],
            [floor.detection_columns[tuple(box)] for box in boxes.tolist()],
        )
        np.fmax(overlap, floor.near[pairs], out=overlap)  # fmax: NaN gives way
        overlap[floor.beyond[pairs]] = 0.0
        return overlap


def seconds_unmatched(tracklet: BoTSORTTracklet, frame_period_s: float) -> float:
    """Seconds since a library tracklet was last matched: the library's clock with timestamps,
    its frames × `frame_period_s` without (the clock reads 0 then)."""
    return tracklet.time_since_update_seconds or tracklet.time_since_update * frame_period_s


def lost_boxes(tracklets: list, within_s: float, frame_period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Of a library tracker's `tracklets` after an update, the people it followed (a confirmed
    id) and did not find in that frame, lost at most `within_s` s: the boxes it predicts for
    them in that frame (K, 4) xyxy px and the seconds since each was last found (K,): the
    library's clock with timestamps, frames × `frame_period_s` without."""
    boxes, lost_s = [], []
    for tracklet in tracklets:
        if tracklet.time_since_update and tracklet.tracker_id >= 0:
            seconds = seconds_unmatched(tracklet, frame_period_s)
            if seconds <= within_s:
                boxes.append(tracklet.get_state_bbox())
                lost_s.append(seconds)
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(lost_s, np.float64)


def joined(tracks: Tracks, score_threshold: float) -> Tracks:
    """`tracks` less the boxes scored under `score_threshold` that continued no track. A
    detector may pass on boxes under its person threshold (`detector.track_score_threshold`)
    for the tracker's low stage alone (ByteTrack's idea): the library only gives them to a
    confirmed track that found no confident box, and never starts one from them, so the
    frames a person scores low in do not break their track. One that joined a track is that
    person and counts as any other (occupancy, heat, lines: leaving it out of occupancy and heat
    was measured no better, docs/accuracy.md); one that joined none is as likely a shadow or a
    poster and is dropped here, before the floor."""
    keep = (tracks.detections.confidence >= score_threshold) | (tracks.track_id >= 0)
    if keep.all():
        return tracks
    return Tracks(tracks.detections[keep], tracks.track_id[keep])


class _Rows:
    """What the library tracker returns when given `_Indexed`: the input rows it selected, in its
    output order, and the `tracker_id` it assigns to them."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.tracker_id: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)


class _Indexed(sv.Detections):
    """The library tracker's input. C-BIoU and ByteTrack build their result by indexing their
    input (`detections[idx]`, or `[:]` when they skip a frame) and then set `tracker_id`;
    indexing this class returns the selected input rows alone, so the wrapper maps ids back to
    input order without a `data` column or a filtered copy of every field (supervision's
    `__getitem__` costs more than the rest of the wrapper)."""

    def __post_init__(self) -> None:
        """No field validation: built from an `edge.types.Detections`, consistent by construction
        (supervision's checks cost as much as the rest of the wrapper)."""

    def __getitem__(self, index) -> _Rows:  # type: ignore[override]
        return _Rows(np.arange(len(self.xyxy))[index])


class Tracker:
    """`update(detections, timestamp_s) -> Tracks` with one row per input detection, same order.

    Args:
        frame_rate: analysed frames per second (Hz); scales `lost_track_s` to frames.
        kind: "cbiou" or "bytetrack" (the library tracker behind it).
        lost_track_s: seconds a lost track is kept for re-association (default 1.5 s).
        activation_confidence: least detector score that starts a new track.
        min_consecutive_frames: frames a track must be matched before it gets an id (-1 before).
        min_iou: least IoU between a predicted box and a detection to associate them (ByteTrack;
            C-BIoU keeps the library's thresholds per stage).
        high_confidence: score splitting the first (high) and second (low) matching stage.
        feet_on_floor: the camera's calibration as `FeetOnFloor`; with it, under
            `FLOOR_MATCH_BELOW_FPS`, C-BIoU also matches a detection to a track whose feet it is
            near on the floor and gives no track a detection whose feet are beyond where its
            person could have walked (`_FloorCBIoU`), which keeps people followed at low frame
            rates.
            None: image overlap alone.
        speed_m_s: a walker's speed doubt (m/s, one sigma per axis) for that floor match.
    """

    def __init__(
        self,
        frame_rate: float,
        lost_track_s: float = 1.5,
        activation_confidence: float = ACTIVATION_CONFIDENCE,
        min_consecutive_frames: int = 2,
        min_iou: float = 0.1,
        high_confidence: float = 0.5,
        kind: str = "cbiou",
        feet_on_floor: FeetOnFloor | None = None,
        speed_m_s: float = WALK_SPEED_M_S,
    ) -> None:
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be > 0 Hz, got {frame_rate}")
        # the library counts its buffer in "30 FPS frames" and rescales by frame_rate itself
        buffer = max(1, round(lost_track_s * 30))
        common = dict(  # the settings both library trackers take
            lost_track_buffer=buffer,
            frame_rate=frame_rate,
            track_activation_threshold=activation_confidence,
            minimum_consecutive_frames=min_consecutive_frames,
            high_conf_det_threshold=high_confidence,
        )
        self._tracker: CBIoUTracker | ByteTrackTracker
        if kind == "cbiou":
            cbiou = dict(
                instant_first_frame_activation=False,  # as every later frame: confirmed after a match
                state_estimator_class=BoxKalman,  # the same filter, cheaper
            )
            if feet_on_floor is None or frame_rate >= FLOOR_MATCH_BELOW_FPS:
                self._tracker = CBIoUTracker(**common, **cbiou)
            else:
                self._tracker = _FloorCBIoU(feet_on_floor, speed_m_s, **common, **cbiou)
            self._tracker.iou_first = _LeanBIoU(self._tracker.buffer_ratio_first)
            self._tracker.iou_second = _LeanBIoU(self._tracker.buffer_ratio_second)
        elif kind == "bytetrack":
            self._tracker = ByteTrackTracker(
                **common,
                minimum_iou_threshold=min_iou,
                state_estimator_class=AxisKalman,  # type: ignore[arg-type]  # the same filter, cheaper
            )
        else:
            raise ValueError(f"tracker kind must be 'cbiou' or 'bytetrack', got {kind!r}")
        self._lean = kind == "cbiou"  # its tracklets become `_BoxTracklet`s
        self._frame_period_s = 1.0 / frame_rate
        self._ids: dict[int, int] = {}  # library id -> this tracker's id
        self._next_id = 0
        self._latest_s: float | None = None  # the library tracker's latest timestamp, to foresee its warnings

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
        inputs = _Indexed(
            xyxy=detections.xyxy.astype(np.float32, copy=False),
            confidence=detections.confidence.astype(np.float32, copy=False),
        )
        if self._warns(timestamp_s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # repeated timestamps: skip predict, fine
                result = self._tracker.update(inputs, timestamp=timestamp_s)
        else:  # the usual case: no warnings context, which costs about as much as the rest here
            result = self._tracker.update(inputs, timestamp=timestamp_s)
        if self._lean:
            for tracklet in self._tracker.tracks:
                if type(tracklet) is BoTSORTTracklet:  # made by this update
                    tracklet.__class__ = _BoxTracklet
        track_id = np.full(len(detections), -1, dtype=np.int64)
        if len(result):
            track_id[result.rows] = [self._local_id(int(t)) for t in result.tracker_id]
        self._forget_dead()
        return Tracks(detections, track_id)

    def lost(self, within_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The people followed and not found in the latest frame, lost at most `within_s` s ago:
        their predicted boxes (K, 4) xyxy px and seconds lost (K,) (`lost_boxes`), for
        counting people hidden behind others (`edge.hidden`)."""
        return lost_boxes(self._tracker.tracks, within_s, self._frame_period_s)

    def _warns(self, timestamp_s: float | None) -> bool:
        """Whether the library tracker will warn about `timestamp_s` (not finite, repeated or
        earlier than its latest); follows its rule for the latest timestamp (it advances only forwards, and
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
        """Drop the id mapping of tracks the library tracker has closed, so the map cannot grow
        forever."""
        if len(self._ids) > 4 * max(1, len(self._tracker.tracks)) + 64:
            alive = {t.tracker_id for t in self._tracker.tracks}
            self._ids = {k: v for k, v in self._ids.items() if k in alive}
