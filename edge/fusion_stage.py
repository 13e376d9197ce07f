"""The store side of a fusion group: its cameras' floor measurements in, one count of the floor out.

Runs in the supervisor, the parent of the camera processes, which receives every camera's
messages anyway (docs/edge.md); a store without a fusion group never imports it. Each camera
of a group sends, for every analysed frame, its people's floor positions with their
covariances and its own track ids (`edge.types.FloorMeasurements`, made by `edge.fusion.measure`)
and no floor aggregates of its own, only its health. Then, per group:

1. Time (`Slots`): measurements go into slots of 1 / analysis.fps by their timestamps (the
   cameras' own clocks, which must agree: live cameras share the device's clock). A slot is
   fused once every running camera of the group has sent a later measurement, or once any
   camera is `max_lag_s` ahead of it (a camera that lags, stalls or has died is left out of
   it; what it sends for a slot already fused is dropped and counted in `late`). A camera with
   nothing in a slot but something in the slot before it (its frames fall unevenly against
   the slots) is represented by that.
2. People (`edge.fusion.fuse`): the slot's measurements grouped into people.
3. Identity (`Identities`): a person keeps the group's track id of the person, one slot
   earlier, with whom they share the most of the cameras' own track ids (each camera's id
   votes; the Hungarian method gives each group id to one person at most). A vote weighs 1
   plus how long its track has been seen voting for that id, up to a lost track's time
   (`LOST_TRACK_S`): in a crowd, far cameras' trackers restart tracks and swap neighbours'
   between them from one instant to the next, and two such tracks must not outvote a camera
   that has followed the person all along. So a person walking from one camera's view into
   another's keeps their id wherever both see them on the way. A camera's track votes only
   where the person could be the one it voted for, by where both were (a walking pace since):
   a camera's tracker that swapped two people, or moved a track from someone who left onto a
   newcomer, does not hand one person's id to another metres away. A person with no such vote
   gets a new id; one seen only by tracks that are not confirmed yet gets -1 (counted in
   occupancy and heat, not in lines, dwell or flows, as with one camera).
4. Following (`edge.floor_tracks`): the fused people go through the same floor filter as one
   camera's, with the fused covariance as their measurement noise: a group id that is new
   where a person was lost a moment ago continues that person, and lines count on the
   filtered positions. "A moment" is as long as a camera's tracker keeps a lost track
   (`LOST_TRACK_S`), not the analytics' `track_timeout_s` as with one camera: a person whom
   every camera lost for longer has left the group's floor or is hidden from all of it, and
   whoever comes next near there is someone else (on WILDTRACK's square, such joins were
   nine in ten wrong, and with them the group counted lines hardly better than one camera a
   line: bench/line_fusion.py, docs/accuracy.md).
5. Counting: people off the plan, or on floor cells owned by a camera outside the group
   (`footfall_core.ownership`), are left out; the others go through the same analytics and
   buckets as one camera's (`edge.aggregator`, `edge.analytics.Live`) under the group's name.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.aggregator import FLOOR_KINDS, AggregateMessage, Aggregator
from edge.analytics import Live
from edge.floor import CameraView
from edge.floor_tracks import JOIN_GATE, LOST_TRACK_S, WALK_SPEED_M_S, FloorTracks
from edge.fusion import Fused, fuse, inverse_2x2
from edge.types import FloorMeasurements, FloorObservation
from footfall_core.contract import LiveMessage
from footfall_core.floor import cell_indices
from footfall_core.geometry import CameraGeometry
from footfall_core.ownership import Ownership
from footfall_core.store import Fusion, StoreConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Slot:
    """One instant of a group: `timestamp_s` is the latest time (UTC epoch seconds) of the
    measurements made in it; `measurements` at most one per camera, in the group's camera order."""

    timestamp_s: float
    measurements: list[FloorMeasurements]


class Slots:
    """Time-aligns a group's measurements (see the module docstring, step 1)."""

    def __init__(self, cameras: list[str], period_s: float, max_lag_s: float) -> None:
        self.cameras = list(cameras)
        self.period_s = period_s
        self.lag_slots = max(1, math.ceil(max_lag_s / period_s))
        self.late = 0  # measurements dropped because their slot was already fused
        self._pending: dict[int, dict[str, FloorMeasurements]] = {}
        self._newest: dict[str, int] = {}  # each camera's latest slot
        self._held: dict[str, tuple[int, FloorMeasurements]] = {}  # each camera's last fused measurement
        self._running = set(self.cameras)  # cameras the slots wait for
        self._fused_up_to: int | None = None

    def add(self, measurements: FloorMeasurements) -> list[Slot]:
        """Take one camera's measurements; returns the slots this completes, oldest first."""
        if measurements.camera not in self.cameras:
            raise ValueError(
                f"camera {measurements.camera!r} is not in this group ({', '.join(self.cameras)})"
            )
        k = round(measurements.timestamp_s / self.period_s)
        self._running.add(measurements.camera)
        if self._fused_up_to is not None and k <= self._fused_up_to:
            self.late += 1
            if self.late == 1 or self.late % 100 == 0:
                log.warning(
                    "camera %s: %d measurement(s) came after their slot was fused",
                    measurements.camera,
                    self.late,
                )
            return []
        self._pending.setdefault(k, {})[measurements.camera] = measurements  # a camera's latest in a slot
        self._newest[measurements.camera] = max(k, self._newest.get(measurements.camera, k))
        return self._ready()

    def stopped(self, camera: str) -> list[Slot]:
        """`camera` stopped (done, died): stop waiting for it until it sends again."""
        self._running.discard(camera)
        return self._ready()

    def flush(self) -> list[Slot]:
        """Every slot still open, oldest first (the end of a run)."""
        return [self._fuse(k) for k in sorted(self._pending)]

    def _ready(self) -> list[Slot]:
        out = []
        while self._pending:
            k = min(self._pending)
            everyone_later = all(self._newest.get(c, k) > k for c in self._running)
            if not everyone_later and max(self._newest.values()) - k < self.lag_slots:
                break
            out.append(self._fuse(k))
        return out

    def _fuse(self, k: int) -> Slot:
        here = self._pending.pop(k)
        measurements = []
        for camera in self.cameras:
            mine = here.get(camera)
            if mine is not None:
                self._held[camera] = (k, mine)
            elif (held := self._held.get(camera)) is not None and held[0] == k - 1:
                mine = held[1]
            if mine is not None:
                measurements.append(mine)
        self._fused_up_to = k
        return Slot(max(m.timestamp_s for m in here.values()), measurements)


class Identities:
    """Group-wide track ids for fused people (see the module docstring, step 3). A camera's
    track votes for the group id it had only where the person it now belongs to could be that
    group person: within `gate` (Mahalanobis distance², both positions' covariances and
    `speed_m_s` of walking in every direction for each second since the group person was last
    seen). A camera's tracker that swapped two people, or that moved a track from someone who
    left onto someone who just came in, would otherwise hand one person's id, and their side
    of every line, to another metres away. A vote weighs 1 plus how long (s) the track has
    been seen voting for the same id, up to LOST_TRACK_S: a track that has followed one person
    counts more than one just started, or just moved from a neighbour. A camera's track unseen
    for `timeout_s` is forgotten, so memory is bounded by the people in view."""

    def __init__(self, timeout_s: float, speed_m_s: float = WALK_SPEED_M_S, gate: float = JOIN_GATE) -> None:
        self.timeout_s, self.speed_m_s, self.gate = timeout_s, speed_m_s, gate
        # (camera, its track id) → (group id, seen, with that group id since)
        self._ids: dict[tuple[str, int], tuple[int, float, float]] = {}
        self._where: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}  # group id → (xy, cov, seen)
        self._next_id = 0

    def update(self, slot: Slot, fused: Fused) -> np.ndarray:
        """(M,) int64 group track id of each fused person of `slot` (-1: no confirmed track)."""
        now_s = slot.timestamp_s
        self._ids = {k: v for k, v in self._ids.items() if now_s - v[1] <= self.timeout_s}
        self._where = {k: v for k, v in self._where.items() if now_s - v[2] <= self.timeout_s}
        links: list[list[tuple[str, int]]] = [[] for _ in range(len(fused))]
        for measurements, person in zip(slot.measurements, fused.person):
            for p, track in zip(person.tolist(), measurements.track_id.tolist()):
                if p >= 0 and track >= 0:  # a measurement with no position joined nobody
                    links[p].append((measurements.camera, track))
        known = sorted({self._ids[link][0] for person in links for link in person if link in self._ids})
        votes = np.zeros((len(fused), len(known)))
        column = {group_id: j for j, group_id in enumerate(known)}
        for p, person in enumerate(links):
            for link in person:
                if link in self._ids:
                    group_id, seen_s, since_s = self._ids[link]
                    votes[p, column[group_id]] += 1.0 + min(seen_s - since_s, LOST_TRACK_S)
        if votes.any():
            votes[~self._could_be(fused, known, now_s)] = 0
        track_id = np.full(len(fused), -1, np.int64)
        rows, cols = linear_sum_assignment(-votes)
        for p, j in zip(rows.tolist(), cols.tolist()):
            if votes[p, j] > 0:
                track_id[p] = known[j]
        for p, person in enumerate(links):
            if person and track_id[p] < 0:
                track_id[p], self._next_id = self._next_id, self._next_id + 1
            for link in person:
                group_id, _, since_s = self._ids.get(link, (-1, now_s, now_s))
                self._ids[link] = (int(track_id[p]), now_s, since_s if group_id == track_id[p] else now_s)
            if person:
                self._where[int(track_id[p])] = (fused.floor_xy[p], fused.cov_m2[p], now_s)
        return track_id

    def _could_be(self, fused: Fused, known: list[int], now_s: float) -> np.ndarray:
        """(M, len(known)) bool: fused person m may be group person `known[j]`, by where both are."""
        where = [self._where[group_id] for group_id in known]  # kept as long as the id's links
        xy, cov = np.array([w[0] for w in where]), np.array([w[1] for w in where])
        walked_m = self.speed_m_s * np.maximum(now_s - np.array([w[2] for w in where]), 0.0)
        d = fused.floor_xy[:, None, :] - xy[None, :, :]  # (M, J, 2)
        s = fused.cov_m2[:, None] + cov[None, :] + (walked_m**2)[None, :, None, None] * np.eye(2)
        d2 = np.einsum("mji,mjik,mjk->mj", d, inverse_2x2(s), d)
        return d2 <= self.gate


@dataclass(frozen=True, eq=False)
class FusedSlot:
    """What the group saw at one instant: the people (`fused`), their group track ids, which of
    them it counts (`counted` (M,) bool: on the plan and on the group's floor) and the
    observation the analytics got (the counted ones, with the floor filter's person ids and
    filtered positions)."""

    slot: Slot
    fused: Fused
    track_id: np.ndarray
    counted: np.ndarray
    observation: FloorObservation


@dataclass
class StageOutput:
    """The slots fused by one call, and the messages (the group's aggregates of the buckets they
    closed, its live snapshots) to hand to the sink."""

    slots: list[FusedSlot] = field(default_factory=list)
    messages: list[AggregateMessage | LiveMessage] = field(default_factory=list)


class FusionStage:
    """One fusion group of a store: `observe` each `FloorMeasurements` of its cameras, tell it
    when a camera stopped (`camera_stopped`) and the cameras' frame sizes
    (`update_frame_sizes`, for ownership against cameras outside the group), `flush` at the end."""

    def __init__(
        self, config: StoreConfig, group: Fusion, frame_sizes: dict[str, tuple[int, int]] | None = None
    ) -> None:
        a = config.analysis
        self.config, self.group = config, group
        self.slots = Slots(group.cameras, 1.0 / a.fps, group.max_lag_s)
        self.identities = Identities(a.track_timeout_s)
        # A person whom every camera of the group has lost for longer than a camera's tracker
        # keeps a lost track has left, or is hidden from every camera: on the floor of several
        # cameras, not an occlusion to bridge. The next newcomer near where they were predicted
        # is someone else, who must not inherit their side of every line.
        self.floor_tracks = FloorTracks(
            a.walk_accel_m_s2,
            a.track_timeout_s,
            in_view=self._in_view,
            rejoin_s=min(a.track_timeout_s, LOST_TRACK_S),
        )
        self._views: dict[str, CameraView] = {}  # the group's cameras whose frame size is known
        self.aggregator = Aggregator(config, group.name, FLOOR_KINDS)
        self.live = Live(
            config.store.id, group.name, config.floor_plan, config.zones, a.live_cell_m, a.live_interval_s
        )
        self._outside = [c.name for c in config.cameras if c.name not in group.cameras]
        self._ownership: Ownership | None = None
        self._last_s: float | None = None
        self.update_frame_sizes(frame_sizes or {})

    def update_frame_sizes(self, frame_sizes: dict[str, tuple[int, int]]) -> None:
        """Every camera's (width, height) px: what the group's cameras see (the floor filter
        joins only people still in some camera's view), and, once all are known, people on
        floor cells that a camera outside the group owns are left to it. Until then (and in a
        store whose cameras are all in the group) the group counts everyone on the plan."""
        for name in self.group.cameras:
            size = frame_sizes.get(name)
            if size is not None and (
                name not in self._views or self._views[name].frame_size_px != tuple(size)
            ):
                camera = self.config.camera(name)
                self._views[name] = CameraView(camera, CameraGeometry.from_config(camera, size), size)
        if not self._outside or self._ownership is not None:
            return
        if all(c.name in frame_sizes for c in self.config.cameras):
            geometries = {
                c.name: CameraGeometry.from_config(c, frame_sizes[c.name]) for c in self.config.cameras
            }
            self._ownership = Ownership.build(self.config, frame_sizes, geometries)

    def _in_view(self, floor_xy: np.ndarray) -> np.ndarray:
        """(K,) bool: which floor points (K, 2) m some camera of the group sees; every point
        until a camera's frame size is known."""
        if not self._views:
            return np.ones(len(floor_xy), bool)
        return np.any([view.sees(floor_xy) for view in self._views.values()], axis=0)

    def observe(self, measurements: FloorMeasurements) -> StageOutput:
        return self._count(self.slots.add(measurements))

    def camera_stopped(self, camera: str) -> StageOutput:
        return self._count(self.slots.stopped(camera))

    def flush(self) -> StageOutput:
        """Fuse every open slot and close the open bucket (the end of a run or a stop)."""
        out = self._count(self.slots.flush())
        if self._last_s is not None:
            out.messages.extend(self.aggregator.flush(self._last_s))
        return out

    def _count(self, slots: list[Slot]) -> StageOutput:
        out = StageOutput()
        a = self.config.analysis
        for slot in slots:
            fused = fuse(slot.measurements, self.group.gate)
            track_id = self.identities.update(slot, fused)
            _, counted = cell_indices(fused.floor_xy, self.config.floor_plan, a.cell_m)
            if self._ownership is not None and counted.any():
                counted[counted] = self._ownership.keep_for(self.group.cameras, fused.floor_xy[counted])
            dt_s = 1.0 / a.fps if self._last_s is None else slot.timestamp_s - self._last_s
            self._last_s = slot.timestamp_s
            people = self.floor_tracks.update(slot.timestamp_s, track_id, fused.floor_xy, fused.cov_m2)
            obs = FloorObservation(
                slot.timestamp_s,
                min(max(dt_s, 0.0), a.max_dt_s),
                fused.floor_xy[counted],
                people.person_id[counted],
                people.state[counted],
                people.state_cov[counted],
            )
            out.messages.extend(self.aggregator.observe(obs))
            if (
                live := self.live.observe(obs, self.aggregator.zones.leaving_per_min(obs.timestamp_s))
            ) is not None:
                out.messages.append(live)
            out.slots.append(FusedSlot(slot, fused, track_id, counted, obs))
        return out
