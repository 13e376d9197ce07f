"""People followed on the floor, in metres: one constant-velocity Kalman filter per person, and
tracks that the image tracker broke joined again where the floor says they are one person.

Why on the floor and not in the image: a detector's box bottom wanders by a few pixels from
frame to frame, and near the horizon a few pixels are metres on the floor. Fed straight to a
counting line, that wandering crosses the line and back (two false counts) far from the camera.
Each measurement carries its floor covariance, computed from the box and the calibration's
Jacobian (`edge.fusion.feet_covariance`: long along the camera's line of sight, growing with
distance, larger for a box cut by the frame's edge, whose bottom is not the feet), so the
filter trusts a near person's feet and smooths a far one's. Counting lines take the filtered
position and its covariance, and ask a person to be that much further past a line before a
crossing counts (`edge.analytics.lines`). Occupancy and heat keep the measured positions: they
average over time anyway, and in a crowd (Mall) filtered positions left the zone more often
than they entered it: 0.6 people fewer on average, against the annotation.

Joining: when the image tracker starts a new id, it is often a person it lost a moment ago
(occluded, or missed by the detector for a few frames), and a crossing made in that gap is
lost: the new id has no side of the line yet. A new id is given to the person who was lost
within `join_s`, is not seen in this frame, and whose predicted position is within the gate
(Mahalanobis distance² with the prediction's and the measurement's covariance; 13.8 is the
chi-square 99.9 % quantile with 2 degrees of freedom), the closest first (Hungarian method).
Only people predicted to be still in the camera's view (`in_view`) are joined: one who walked
out of the frame has left, and the stranger who walks in where they left must not inherit
their side of a line (on a busy square, WILDTRACK's views, that inheritance was a quarter of
all line errors: bench/line_views.py).

Motion model: white-noise acceleration of `accel_m_s2` (a walker's changes of pace and
direction, about 1 m/s²), a new person at rest with a speed doubt of `speed_m_s` (a walking
pace). Everything is per row and vectorised: a store's few dozen people cost well under a
millisecond a frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.fusion import inverse_2x2
from footfall_core.store import Fusion

# How far box edges wander and how large a person's footprint is: the fusion's defaults, one
# source for both uses of `edge.fusion.feet_covariance`.
FEET_SIGMA: float = Fusion.model_fields["feet_sigma"].default
FLOOR_SIGMA_M: float = Fusion.model_fields["floor_sigma_m"].default
WALK_SPEED_M_S = 1.5  # doubt about a walker's speed, one sigma per axis (a walking pace)
JOIN_GATE = 13.8  # chi-square, 2 degrees of freedom, 99.9 %
LOST_TRACK_S = 1.5  # longest a person may go undetected and keep their image tracker's id
_FAR = 1e12  # cost of a pair beyond the gate
# where white-noise acceleration adds to a (x, y, vx, vy) covariance, and what it adds there:
# accel² × dt^power × share (pos-pos dt⁴/4, pos-vel dt³/2 both ways, vel-vel dt²)
_NOISE_ROWS = np.array([0, 1, 0, 1, 2, 3, 2, 3])
_NOISE_COLS = np.array([0, 1, 2, 3, 0, 1, 2, 3])
_NOISE_POWERS = np.array([4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0])
_NOISE_SHARES = np.array([0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0])


def predict(
    state: np.ndarray, cov: np.ndarray, dt_s: np.ndarray, accel_m_s2: float
) -> tuple[np.ndarray, np.ndarray]:
    """The walker's motion model: states (M, 4) (x, y m, vx, vy m/s) and covariances (M, 4, 4)
    moved on by `dt_s` (M,) s at constant velocity, with white-noise acceleration of
    `accel_m_s2`, in place (callers pass copies: fancy indexing makes them anyway); returns
    them. The lines' smoother (`edge.analytics.smoother`) takes the same model as matrices
    (`transition`), so that both assume the same walker."""
    state[:, :2] += dt_s[:, None] * state[:, 2:]
    # F P Fᵀ with F = [[I, dt I], [0, I]], written out: position rows and columns take
    # dt × the velocity ones; no (M, 4, 4) transition matrices to build and multiply
    dt_ = dt_s[:, None, None]
    cov[:, :2] += dt_ * cov[:, 2:]
    cov[:, :, :2] += dt_ * cov[:, :, 2:]
    # the process noise, pos-pos, pos-vel (both ways) and vel-vel of each axis, in one add
    cov[:, _NOISE_ROWS, _NOISE_COLS] += dt_s[:, None] ** _NOISE_POWERS * (accel_m_s2**2 * _NOISE_SHARES)
    return state, cov


def transition(dt_s: float, accel_m_s2: float) -> tuple[np.ndarray, np.ndarray]:
    """`predict`'s model as matrices, for one step of `dt_s` s: the transition F (4, 4) and the
    process noise Q (4, 4), so that a state moves to F x and its covariance to F P Fᵀ + Q."""
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt_s
    noise = np.zeros((4, 4))
    noise[_NOISE_ROWS, _NOISE_COLS] = dt_s**_NOISE_POWERS * (accel_m_s2**2 * _NOISE_SHARES)
    return f, noise


@dataclass(frozen=True, eq=False)
class FloorPeople:
    """One frame's rows after the filter, row for row as the input: `person_id` (N,) int64
    (-1 where the input had no confirmed track or no floor position), `state` (N, 4) (x, y m,
    vx, vy m/s; filtered where followed, the measured position at rest otherwise) and
    `state_cov` (N, 4, 4) (the filter's covariance; the measured one and no doubt about the
    speed otherwise)."""

    person_id: np.ndarray
    state: np.ndarray
    state_cov: np.ndarray

    @property
    def floor_xy(self) -> np.ndarray:
        """(N, 2) m: where each row is."""
        return self.state[:, :2]

    @property
    def cov_m2(self) -> np.ndarray:
        """(N, 2, 2) m²: how far off that position may be."""
        return self.state_cov[:, :2, :2]


class FloorTracks:
    """`update(timestamp_s, track_id, floor_xy, cov_m2) -> FloorPeople`.

    Args:
        accel_m_s2: white-noise acceleration of a walker (m/s²).
        join_s: longest gap (s) across which a new tracker id may continue a lost person; also
            how long a lost person is kept.
        speed_m_s: doubt about a new person's speed (m/s, one sigma per axis).
        gate: largest Mahalanobis distance² at which a new id joins a lost person.
        in_view: (K, 2) floor m → (K,) bool, the points the camera sees; a lost person
            predicted outside it is not joined. None: everywhere.
        rejoin_s: longest gap (s) across which a new id may join a lost person, if shorter
            than `join_s` (a fusion group's, `edge.fusion_stage`). None: `join_s`.
    """

    def __init__(
        self,
        accel_m_s2: float,
        join_s: float,
        speed_m_s: float = WALK_SPEED_M_S,
        gate: float = JOIN_GATE,
        in_view: Callable[[np.ndarray], np.ndarray] | None = None,
        rejoin_s: float | None = None,
    ) -> None:
        if accel_m_s2 <= 0 or join_s < 0 or speed_m_s <= 0 or gate <= 0:
            raise ValueError(
                f"FloorTracks: accel_m_s2, speed_m_s and gate must be > 0 and join_s >= 0, got "
                f"{accel_m_s2}, {speed_m_s}, {gate} and {join_s}"
            )
        self.accel_m_s2, self.join_s, self.speed_m_s, self.gate = accel_m_s2, join_s, speed_m_s, gate
        self.in_view = in_view
        self.rejoin_s = join_s if rejoin_s is None else min(rejoin_s, join_s)
        self._state = np.zeros((0, 4))  # x, y (m), vx, vy (m/s) per person
        self._cov = np.zeros((0, 4, 4))
        self._seen_s = np.zeros(0)  # last update of each person, epoch s
        self._person = np.zeros(0, np.int64)  # each row's person id
        self._alias: dict[int, int] = {}  # tracker id -> person id
        self._next = 0

    def __len__(self) -> int:
        """People followed (seen within `join_s`)."""
        return len(self._person)

    def update(
        self, timestamp_s: float, track_id: np.ndarray, floor_xy: np.ndarray, cov_m2: np.ndarray
    ) -> FloorPeople:
        """Filter one frame: `track_id` (N,) from the image tracker (-1: not confirmed),
        `floor_xy` (N, 2) m (NaN: no floor position) and `cov_m2` (N, 2, 2) m² measured."""
        self._drop_lost(timestamp_s)
        person = np.full(len(track_id), -1, np.int64)
        out_state, out_cov = np.zeros((len(track_id), 4)), np.zeros((len(track_id), 4, 4))
        out_state[:, :2], out_cov[:, :2, :2] = floor_xy, cov_m2
        rows = np.flatnonzero(
            (track_id >= 0) & np.isfinite(out_state).all(axis=1) & np.isfinite(out_cov).all(axis=(1, 2))
        )
        if not len(rows):
            return FloorPeople(person, out_state, out_cov)
        out_xy, out_xy_cov = out_state[:, :2], out_cov[:, :2, :2]
        ids = track_id[rows].tolist()
        slot = self._slots(ids)
        new = np.flatnonzero(slot < 0)
        if len(new):
            slot[new] = self._join(timestamp_s, out_xy[rows[new]], out_xy_cov[rows[new]], slot)
        self._correct(timestamp_s, slot, out_xy[rows], out_xy_cov[rows])
        followed = self._person[slot]
        person[rows] = followed
        self._alias.update(zip(ids, followed.tolist()))
        out_state[rows], out_cov[rows] = self._state[slot], self._cov[slot]
        return FloorPeople(person, out_state, out_cov)

    # -- steps -----------------------------------------------------------------------------------

    def _drop_lost(self, now_s: float) -> None:
        """Forget people unseen for longer than join_s, and the tracker ids that led to them; also
        everyone seen after `now_s` (the source's clock stepped back): their states are of
        another time."""
        keep = (now_s - self._seen_s <= self.join_s) & (self._seen_s <= now_s)
        if keep.all():
            return
        gone = set(self._person[~keep].tolist())
        self._state, self._cov = self._state[keep], self._cov[keep]
        self._seen_s, self._person = self._seen_s[keep], self._person[keep]
        self._alias = {t: p for t, p in self._alias.items() if p not in gone}

    def _slots(self, track_ids: list[int]) -> np.ndarray:
        """Row in the state arrays of the person each tracker id continues (-1: nobody yet). A
        person claimed by two rows (an id the tracker had lost came back while its continuation
        is still seen) keeps the first; the others start anew. Dicts and a set: on a frame's
        few people, numpy's calls (a sorted search, a uniqueness test) cost more than this."""
        row_of = {person: row for row, person in enumerate(self._person.tolist())}
        slots, taken = [], set()
        for track_id in track_ids:
            row = row_of.get(self._alias.get(track_id, -1), -1)
            if row in taken:
                row = -1
            elif row >= 0:
                taken.add(row)
            slots.append(row)
        return np.array(slots, np.int64)

    def _predict(self, slots: np.ndarray, now_s: float) -> tuple[np.ndarray, np.ndarray]:
        """State (M, 4) and covariance (M, 4, 4) of the people `slots`, all seen before `now_s`,
        moved on to `now_s`."""
        return predict(self._state[slots], self._cov[slots], now_s - self._seen_s[slots], self.accel_m_s2)

    def _join(self, now_s: float, xy: np.ndarray, cov: np.ndarray, taken: np.ndarray) -> np.ndarray:
        """Slots for the rows of new tracker ids: a lost person within the gate, else a new one."""
        lost = np.flatnonzero((self._seen_s < now_s) & (now_s - self._seen_s <= self.rejoin_s))
        lost = np.setdiff1d(lost, taken[taken >= 0], assume_unique=False)
        chosen = np.full(len(xy), -1, np.int64)
        if len(lost):
            state, spread = self._predict(lost, now_s)
            if self.in_view is not None:
                seen = self.in_view(state[:, :2])
                lost, state, spread = lost[seen], state[seen], spread[seen]
        if len(lost):
            d = xy[:, None, :] - state[None, :, :2]  # (R, L, 2)
            s = cov[:, None] + spread[None, :, :2, :2]
            d2 = np.einsum("rli,rlij,rlj->rl", d, inverse_2x2(s), d)
            costs = np.where(d2 <= self.gate, d2, _FAR)
            rows, cols = linear_sum_assignment(costs)
            ok = costs[rows, cols] < _FAR
            chosen[rows[ok]] = lost[cols[ok]]
        fresh = np.flatnonzero(chosen < 0)
        if len(fresh):
            chosen[fresh] = len(self._person) + np.arange(len(fresh))
            state = np.zeros((len(fresh), 4))
            state[:, :2] = xy[fresh]
            start = np.zeros((len(fresh), 4, 4))
            start[:, :2, :2] = cov[fresh]
            start[:, 2, 2] = start[:, 3, 3] = self.speed_m_s**2
            self._state = np.concatenate([self._state, state])
            self._cov = np.concatenate([self._cov, start])
            self._seen_s = np.concatenate([self._seen_s, np.full(len(fresh), now_s)])
            self._person = np.concatenate([self._person, self._next + np.arange(len(fresh))])
            self._next += len(fresh)
        return chosen

    def _correct(self, now_s: float, slots: np.ndarray, xy: np.ndarray, cov: np.ndarray) -> None:
        """The Kalman update of the people `slots` with their measurements (new people, just
        started at their measurement, are left as they are)."""
        old = np.flatnonzero(self._seen_s[slots] < now_s)
        if not len(old):
            return
        if len(old) < len(slots):  # new people among them
            slots, xy, cov = slots[old], xy[old], cov[old]
        state, spread = self._predict(slots, now_s)
        gain = spread[:, :, :2] @ inverse_2x2(spread[:, :2, :2] + cov)  # (M, 4, 2)
        state = state + (gain @ (xy - state[:, :2])[:, :, None])[:, :, 0]
        self._state[slots] = state
        self._cov[slots] = spread - gain @ spread[:, :2, :]
        self._seen_s[slots] = now_s
