"""Overlapping cameras fused: one person seen by several cameras is one person on the floor.

Each camera measures where its people stand (`measure`): the feet (bottom centre of the box)
projected to floor metres, with a covariance that says how far off that can be. The detector's
box edges wobble by about `feet_sigma` of the box's size; through the calibration (the
Jacobian of the image → floor map at the feet, m per px) that becomes a floor ellipse, long
along the camera's line of sight and growing with distance: a few pixels near the horizon are
metres on the floor. `floor_sigma_m` is added in every direction (a person's feet are not a
point, and the calibration is not exact). A box cut by the frame's edge does not end at the
feet: its feet are known only to be beyond that edge, so it gets another half of its size of
doubt across it, and a box cut by the bottom edge has its feet put half its height below it.

`fuse` then groups the measurements of one instant into people, at most one measurement per
camera each: cameras in turn (the one with the most people first), each one's measurements
assigned to the people found so far by the Hungarian method on the Mahalanobis distance
d² = (z − μ)ᵀ (R + P)⁻¹ (z − μ) (measurement z with covariance R, person μ with P), or
starting a new person at cost `gate`; pairs beyond `gate` never join. Then every camera's
measurements are taken out and assigned again against the others', twice over, which undoes
choices the order forced. Then people are taken apart where that lowers the same cost
(`_Grouping.take_apart`): a person whose every measurement fits someone else who lacks that
camera is given away. That undoes what moving one camera at a time cannot: two far cameras
whose long ellipses cross beside the people they belong to, making a person that nobody is.
Last, people of a few measurements are dissolved and their cameras assigned again as a whole
where that lowers the cost (`_Grouping.regroup`): a measurement may then take its camera's
place in someone else, who gives up the measurement that belonged to a neighbour. A person's
position is the covariance-weighted mean of their measurements (P = (Σ R⁻¹)⁻¹,
μ = P Σ R⁻¹ z): the camera that sees them best counts most.

Why this shape (docs/calibration.md): a person whom the camera that sees their floor best
missed is still counted by any other camera that sees them, and a person seen by several is
counted once as long as their measurements agree within the uncertainty the calibrations
predict. `gate` is a chi-square quantile with 2 degrees of freedom (13.8: 99.9 % of a
person's own measurements pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.types import Detections, FloorMeasurements
from footfall_core.geometry import CameraGeometry

EDGE_PX = 1.0  # a box side this close to the frame's side is cut by it
# How far beyond the frame's bottom edge the feet of a box it cuts are, as a share of the box's
# (visible) height: a detector finds a person once about half of them is in view, so between
# none and the visible height is missing, half of it on average. On WILDTRACK's even frames
# 0.25, 0.35, 0.5 and 0.75 each left one person counted twice where 0 (the edge) left two.
CUT_FEET_SHARE = 0.5
REFINE_PASSES = 2  # rounds of taking each camera out and assigning it again
TAKE_APART_PASSES = 2  # rounds of taking people apart (`_Grouping.take_apart`)
# people of at most this many measurements are tried dissolved (`_Grouping.regroup`); on WILDTRACK's even
# frames 2 left one more person counted twice, and trying everyone took twice the time for the same counts
REGROUP_MEASUREMENTS = 3
REGROUP_PASSES = 2  # rounds of dissolving people (`_Grouping.regroup`)
_NEVER = 1e12  # cost of a pair beyond the gate: the solver never picks it when it has another choice
_ADJUGATE_SIGNS = np.array([[1.0, -1.0], [-1.0, 1.0]])


def feet_covariance(
    geometry: CameraGeometry,
    detections: Detections,
    frame_size_px: tuple[int, int],
    feet_sigma: float,
    floor_sigma_m: float,
) -> np.ndarray:
    """(N, 2, 2) m² covariance of each person's floor position, from the boxes (image px).

    Feet in image px: σx = feet_sigma × box width, σy = feet_sigma × box height; half the box's
    width (height) more where it is cut by the left or right (bottom) edge of the frame. Mapped
    to the floor by the Jacobian at the feet, plus floor_sigma_m² in every direction. NaN rows
    for feet at or above the horizon."""
    width, height = frame_size_px
    xyxy = detections.xyxy.astype(np.float64)
    size_px = xyxy[:, 2:] - xyxy[:, :2]  # (N, 2) box width, height
    cut = xyxy[:, 2:] >= (width - EDGE_PX, height - EDGE_PX)  # (N, 2) cut across x, y: right, bottom
    cut[:, 0] |= xyxy[:, 0] <= EDGE_PX  # or left
    # the feet's variance (px²) along x and y, both axes in each call (a frame's few boxes: numpy's
    # calls cost more than their arithmetic)
    variance_px2 = (feet_sigma * size_px) ** 2 + np.where(cut, size_px / 2, 0.0) ** 2
    jacobian = geometry.image_to_floor_jacobian(detections.feet_xy)  # (N, 2, 2) m per px
    # J diag(variance) Jᵀ: J with its columns scaled, times Jᵀ
    cov_m2 = (jacobian * variance_px2[:, None, :]) @ jacobian.transpose(0, 2, 1)
    return cov_m2 + floor_sigma_m**2 * np.eye(2)


def measure(
    camera: str,
    timestamp_s: float,
    geometry: CameraGeometry,
    detections: Detections,
    track_id: np.ndarray,
    frame_size_px: tuple[int, int],
    feet_sigma: float,
    floor_sigma_m: float,
) -> FloorMeasurements:
    """One camera's people at one instant on the floor, each with its covariance, row for row
    as `detections` (NaN rows for feet at or above the horizon: `fuse` leaves them out). The
    feet of a box cut by the frame's bottom edge are beyond it: CUT_FEET_SHARE of the box's
    height below it (`feet_covariance` gives them half the height of doubt), moved on the floor
    by the calibration's Jacobian at the edge (no lens model is to be trusted outside the
    frame)."""
    floor_xy = geometry.image_to_floor(detections.feet_xy)
    cut = np.flatnonzero(detections.xyxy[:, 3] >= frame_size_px[1] - EDGE_PX)
    if len(cut):
        below_px = CUT_FEET_SHARE * (detections.xyxy[cut, 3] - detections.xyxy[cut, 1])
        floor_xy[cut] += (
            geometry.image_to_floor_jacobian(detections.feet_xy[cut])[:, :, 1] * below_px[:, None]
        )
    cov_m2 = feet_covariance(geometry, detections, frame_size_px, feet_sigma, floor_sigma_m)
    return FloorMeasurements(camera, timestamp_s, floor_xy, cov_m2, track_id)


@dataclass(frozen=True, eq=False)
class Fused:
    """The people of one instant. `floor_xy` (M, 2) m and `cov_m2` (M, 2, 2) m² per person;
    `person[c]` (N_c,) int: the person each measurement of the c-th input camera joined (-1 for
    a measurement with no position, NaN)."""

    floor_xy: np.ndarray
    cov_m2: np.ndarray
    person: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.floor_xy)


def inverse_2x2(m: np.ndarray) -> np.ndarray:
    """Inverses of (..., 2, 2) matrices, in closed form (numpy's general inverse costs more than
    the rest of the fusion on a store's few dozen people, and more than a floor filter step)."""
    # the adjugate [[d, -b], [-c, a]]: the matrix turned half round ([[d, c], [b, a]]) and
    # transposed ([[d, b], [c, a]]), both views, times signs: one product, not eight assignments
    adjugate = m[..., ::-1, ::-1].swapaxes(-1, -2) * _ADJUGATE_SIGNS
    return adjugate / (m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0])[..., None, None]


def _estimates(
    z: np.ndarray, info: np.ndarray, person: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Covariance-weighted mean (P, 2) and covariance (P, 2, 2) of each of `count` people, from
    the measurements `z` (K, 2) with inverse covariances `info` (K, 2, 2) that `person` (K,)
    gives to them (-1: to nobody). Every person has at least one measurement."""
    mine = person >= 0
    who, info, z = person[mine], info[mine], z[mine]
    weighted = np.einsum("kij,kj->ki", info, z)
    info_sum = np.empty((count, 2, 2))
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
        info_sum[:, i, j] = np.bincount(who, info[:, i, j], count)
    mean_info = np.stack([np.bincount(who, weighted[:, i], count) for i in (0, 1)], axis=1)
    cov = inverse_2x2(info_sum)
    return np.einsum("pij,pj->pi", cov, mean_info), cov


def _chi2(z: np.ndarray, info: np.ndarray, rows: np.ndarray) -> float:
    """Σ (z − μ)ᵀ R⁻¹ (z − μ) of the measurements `rows` about their weighted mean μ: how badly
    they disagree for one person (0 for one measurement)."""
    if len(rows) < 2:
        return 0.0
    info_sum = info[rows].sum(axis=0)
    mean = inverse_2x2(info_sum) @ np.einsum("kij,kj->i", info[rows], z[rows])
    r = z[rows] - mean
    return float(np.einsum("ki,kij,kj->", r, info[rows], r))


class _Grouping:
    """One instant's measurements and the cost J of grouping them into people, which `fuse`
    lowers step by step: J = gate × people + Σ over people of `_chi2` (how badly each one's
    measurements disagree). `assign` minimises J over one camera's measurements exactly, the
    others held; `take_apart` and `regroup` make the moves it cannot reach."""

    def __init__(self, measurements: Sequence[FloorMeasurements], gate: float) -> None:
        self.z = np.concatenate([m.floor_xy for m in measurements]).reshape(-1, 2)
        self.cov = np.concatenate([m.cov_m2 for m in measurements]).reshape(-1, 2, 2)
        self.camera = np.repeat(np.arange(len(measurements)), [len(m) for m in measurements])
        self.valid = np.isfinite(self.z).all(axis=1) & np.isfinite(self.cov).all(axis=(1, 2))
        self.info = np.zeros_like(self.cov)
        self.info[self.valid] = inverse_2x2(self.cov[self.valid])
        self.gate = gate

    def rows(self, camera: int) -> np.ndarray:
        """Camera `camera`'s measurements that have a position."""
        return np.flatnonzero(self.valid & (self.camera == camera))

    def total(self, person: np.ndarray) -> float:
        """J of the grouping `person` (K,)."""
        mine = np.flatnonzero(person >= 0)
        ids, numbered = np.unique(person[mine], return_inverse=True)
        numbered_all = np.full(len(person), -1, np.int64)
        numbered_all[mine] = numbered
        mean, _ = _estimates(self.z, self.info, numbered_all, len(ids))
        r = self.z[mine] - mean[numbered]
        return self.gate * len(ids) + float(np.einsum("ki,kij,kj->", r, self.info[mine], r))

    def assign(self, person: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """`person` (K,) with one camera's measurements `rows` (unassigned on entry) joined to the
        people others' measurements make, or made new people, by the least total d² (Hungarian
        method; a new person costs `gate`, pairs beyond `gate` never join). d² is what joining
        adds to J. People left without a measurement are dropped and the rest renumbered."""
        person = person.copy()
        _, person[person >= 0] = np.unique(person[person >= 0], return_inverse=True)
        count = int(person.max()) + 1 if (person >= 0).any() else 0
        costs = np.full((count + len(rows), len(rows)), _NEVER)
        if count and len(rows):
            mean, spread = _estimates(self.z, self.info, person, count)
            dx, dy = (self.z[rows][None, :, :] - mean[:, None, :]).transpose(2, 0, 1)  # (P, R) each
            s = spread[:, None] + self.cov[rows][None, :]  # (P, R, 2, 2), symmetric
            sxx, sxy, syy = s[..., 0, 0], s[..., 0, 1], s[..., 1, 1]
            d2 = (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / (sxx * syy - sxy * sxy)
            costs[:count] = np.where(d2 <= self.gate, d2, _NEVER)
        costs[count + np.arange(len(rows)), np.arange(len(rows))] = self.gate
        chosen, row = linear_sum_assignment(costs)
        new = chosen >= count
        chosen[new] = count + np.arange(new.sum())
        person[rows[row]] = chosen
        return person

    def people(self, person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The people `person` (K,) makes: their ids (P,), estimates (P, 2) and (P, 2, 2), and
        which cameras each has a measurement from (P, cameras) bool."""
        mine = person >= 0
        ids, numbered = np.unique(person[mine], return_inverse=True)
        numbered_all = np.full(len(person), -1, np.int64)
        numbered_all[mine] = numbered
        mean, spread = _estimates(self.z, self.info, numbered_all, len(ids))
        seen = np.zeros((len(ids), int(self.camera.max(initial=0)) + 1), bool)
        seen[numbered, self.camera[mine]] = True
        return ids, mean, spread, seen

    def take_apart(self, person: np.ndarray) -> np.ndarray:
        """`person` after taking people apart where that lowers J. Each person in turn, fewest
        measurements first, has each of their measurements given to the person it fits best
        among those without a measurement from its camera (within `gate`), if every
        measurement has such a person and that lowers J (all to the same one: two halves of
        one person joined). Moving one camera's measurements at a time (`assign`) cannot undo
        two far cameras' long ellipses that crossed beside the people they belong to and made
        a person of their own: each measurement alone is closer to the other than to its own
        person."""
        person = person.copy()
        z, cov, info, camera = self.z, self.cov, self.info, self.camera
        for _ in range(TAKE_APART_PASSES):
            changed = False
            ids, mean, spread, seen = self.people(person)
            for p in ids[np.argsort(np.bincount(person[person >= 0])[ids], kind="stable")].tolist():
                mine = np.flatnonzero(person == p)
                if not len(mine):
                    continue  # given away earlier in this round
                me = int(np.searchsorted(ids, p))
                # each measurement to the person it fits best among those without its camera
                dz = z[mine][:, None, :] - mean[None, :, :]  # (K, P, 2)
                d2 = np.einsum("kpi,kpij,kpj->kp", dz, inverse_2x2(cov[mine][:, None] + spread[None, :]), dz)
                d2[~(d2 <= self.gate) | seen[:, camera[mine]].T] = np.inf
                d2[:, me] = np.inf
                if not np.isfinite(d2).any(axis=1).all():
                    continue  # a measurement with nowhere else to go: the person stays
                to = ids[np.argmin(d2, axis=1)]
                cost = sum(
                    _chi2(z, info, np.r_[np.flatnonzero(person == q), mine[to == q]])
                    - _chi2(z, info, np.flatnonzero(person == q))
                    for q in np.unique(to).tolist()
                )
                if cost < self.gate + _chi2(z, info, mine):
                    person[mine] = to
                    ids, mean, spread, seen = self.people(person)
                    changed = True
            if not changed:
                break
        _, person[person >= 0] = np.unique(person[person >= 0], return_inverse=True)
        return person

    def regroup(self, person: np.ndarray) -> np.ndarray:
        """`person` after dissolving people where that lowers J. Each person of at most
        REGROUP_MEASUREMENTS measurements in turn, fewest first (one round after another while
        one changes something): their measurements are taken
        out and all the measurements of each of their cameras assigned again as a whole. That
        lets a measurement take its place back from a neighbour's of the same camera, which
        `take_apart` cannot (it gives only to people who lack the camera). Two people A and B
        stand close on a camera's line of sight: its box of A joined B, and its box of B, left
        over, made a person with another camera's leftover; dissolving that person gives B
        its box back and A theirs."""
        person = person.copy()
        best = self.total(person)
        for _ in range(REGROUP_PASSES):
            changed = False
            ids, first = np.unique(person, return_index=True)  # each person by one measurement of theirs
            first = first[ids >= 0][np.argsort(np.bincount(person[person >= 0]), kind="stable")]
            for k in first.tolist():
                mine = np.flatnonzero(person == person[k])  # (an earlier change renumbers people)
                if len(mine) > REGROUP_MEASUREMENTS:
                    continue
                trial = person.copy()
                trial[mine] = -1
                for c in np.unique(self.camera[mine]).tolist():
                    rows = self.rows(c)
                    trial[rows] = -1
                    trial = self.assign(trial, rows)
                if (cost := self.total(trial)) < best - 1e-9:
                    person, best, changed = trial, cost, True
            if not changed:
                break
        _, person[person >= 0] = np.unique(person[person >= 0], return_inverse=True)
        return person


def fuse(measurements: Sequence[FloorMeasurements], gate: float) -> Fused:
    """Group one instant's measurements (one `FloorMeasurements` per camera) into people."""
    sizes = [len(m) for m in measurements]
    if not measurements:
        return Fused(np.zeros((0, 2)), np.zeros((0, 2, 2)), [])
    g = _Grouping(measurements, gate)
    counts = np.bincount(g.camera[g.valid], minlength=len(measurements))
    order = [c for c in np.argsort(-counts, kind="stable") if counts[c]]
    person = np.full(len(g.z), -1, np.int64)
    for c in order:
        person = g.assign(person, g.rows(c))
    for _ in range(REFINE_PASSES):
        for c in order:
            rows = g.rows(c)
            person[rows] = -1
            person = g.assign(person, rows)
    person = g.regroup(g.take_apart(person))
    mean, spread = _estimates(g.z, g.info, person, int(person.max(initial=-1)) + 1)
    return Fused(mean, spread, np.split(person, np.cumsum(sizes)[:-1]))
