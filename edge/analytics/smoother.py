"""Fixed-lag smoothing of the floor filter's positions for the counting lines.

Why: the floor filter (`edge.floor_tracks`) places a person at time t from what was measured
up to t; where they were at t is also told by where they are a moment later. A
Rauch-Tung-Striebel pass backwards over the filter's own states and covariances (the same
walker model, `edge.floor_tracks.transition`) gives each position with what followed it, and a
smaller covariance, so that a line's margin (`line_hysteresis_sigmas`) shrinks with it. A
line's count need not be known at once (counts are published per bucket), so the lines may
take each position `lag_s` late.

How: every observation's followed people are kept, with the step back to each person's
previous frame (the smoother's gain) worked out once, for all frames come since the last pass
at once (numpy's calls cost by the call, not by the row). Once the oldest
kept frame is 2 × lag_s old, one backward pass runs from the newest frame and hands out,
smoothed and oldest first, every frame at least lag_s old: each position is smoothed with
lag_s to 2 × lag_s of what followed it, and each frame costs two backward steps on average,
not a window's worth (a few hundredths of a millisecond a frame for a handful of people).
A person's steps are their own frames: across frames they are missing from (not detected, or
on floor another camera owns) the pass predicts as the filter did. A track that ends needs
nothing: its frames are handed out as they grow old. `release(now_s)` hands out what is lag_s
old by `now_s` (a bucket closes, also when frames stopped coming), `flush` everything left (the
end of a recording, or the source's clock stepping back).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.floor_tracks import transition
from edge.types import FloorObservation


@dataclass(frozen=True, eq=False)
class LinePositions:
    """Followed people at one instant, as the counting lines take them: `timestamp_s` (UTC epoch
    seconds, the instant the positions are of), `track_id` (K,) int64 (all ≥ 0), `xy` (K, 2) m
    and `cov_m2` (K, 2, 2) m² (None: positions taken as exact)."""

    timestamp_s: float
    track_id: np.ndarray
    xy: np.ndarray
    cov_m2: np.ndarray | None

    @classmethod
    def of(cls, obs: FloorObservation) -> LinePositions:
        """The observation's followed rows, at the filter's positions when it carries them."""
        tracked = np.flatnonzero(obs.track_id >= 0)
        xy = obs.floor_xy if obs.track_xy is None else obs.track_xy
        cov_m2 = None if obs.track_cov_m2 is None else obs.track_cov_m2[tracked]
        return cls(obs.timestamp_s, obs.track_id[tracked], xy[tracked], cov_m2)


@dataclass(frozen=True, eq=False)
class _Link:
    """How the rows of a frame whose person was in an earlier frame kept smooth that earlier
    position: x_s = gain x_s' + offset and P_s = gain P_s' gainᵀ + rest, from the row's own
    smoothed state x_s' and covariance P_s' (Rauch-Tung-Striebel, worked out once when the
    frame comes)."""

    rows: np.ndarray | slice  # (M,) rows of this frame, or all of them
    back: np.ndarray  # (M,) frames back to the person's earlier frame
    earlier_row: np.ndarray  # (M,) their row there
    gain: np.ndarray  # (M, 4, 4)
    gain_t: np.ndarray  # (M, 4, 4), transposed
    offset: np.ndarray  # (M, 4)
    rest: np.ndarray  # (M, 4, 4)
    one_frame: bool  # every row's earlier frame is the same

    def by_frame(self) -> list[tuple[int, np.ndarray]]:
        """(frames back, which rows) for each earlier frame."""
        return [(back, self.back == back) for back in np.unique(self.back).tolist()]


@dataclass(frozen=True, eq=False)
class _Pending:
    """The rows of a frame whose person is in an earlier frame kept, before their `_Link` is
    worked out (`LineSmoother._link_all`)."""

    rows: np.ndarray | slice  # (M,) rows of this frame, or all of them
    back: np.ndarray  # (M,) frames back to the person's earlier frame
    earlier_row: np.ndarray  # (M,) their row there
    one_frame: bool  # every row's earlier frame is the same


@dataclass(frozen=True, eq=False)
class _Frame:
    timestamp_s: float
    track_id: np.ndarray  # (K,) int64, distinct
    state: np.ndarray  # (K, 4) x, y m, vx, vy m/s, filtered
    cov: np.ndarray  # (K, 4, 4)
    link: _Link | _Pending | None  # the rows whose person is in an earlier frame kept


class LineSmoother:
    """`add(obs) -> [LinePositions, ...]` (the frames now `lag_s` old or more, smoothed, oldest
    first), `release(now_s) -> [...]` (those `lag_s` old by then) and `flush() -> [...]` (every
    frame left).

    Args:
        lag_s: least time (s) of what follows a position that smooths it; positions reach the
            lines between lag_s and 2 × lag_s late.
        accel_m_s2: the floor filter's white-noise acceleration (`analysis.walk_accel_m_s2`).
    """

    def __init__(self, lag_s: float, accel_m_s2: float) -> None:
        if lag_s <= 0 or accel_m_s2 <= 0:
            raise ValueError(f"LineSmoother: lag_s and accel_m_s2 must be > 0, got {lag_s} and {accel_m_s2}")
        self.lag_s, self.accel_m_s2 = lag_s, accel_m_s2
        self._frames: list[_Frame] = []
        self._first = 0  # number of the oldest frame kept (frames are numbered as they come)
        self._latest: dict[int, tuple[int, int]] = {}  # person -> (frame number, row) last seen

    def __len__(self) -> int:
        """Frames kept, not yet handed out."""
        return len(self._frames)

    def add(self, obs: FloorObservation) -> list[LinePositions]:
        """Keep one observation's followed people; an observation without the filter's states
        has nothing to smooth and is handed out at once, after every frame kept."""
        if obs.track_state is None or obs.track_state_cov is None:
            return [*self.flush(), LinePositions.of(obs)]
        out = self.flush() if self._frames and obs.timestamp_s < self._frames[-1].timestamp_s else []
        frame = _Frame(obs.timestamp_s, obs.track_id, obs.track_state, obs.track_state_cov, None)
        if (obs.track_id < 0).any():
            tracked = np.flatnonzero(obs.track_id >= 0)
            frame = _Frame(
                obs.timestamp_s,
                obs.track_id[tracked],
                obs.track_state[tracked],
                obs.track_state_cov[tracked],
                None,
            )
        number = self._first + len(self._frames)
        ids = frame.track_id.tolist()
        earlier = [self._latest.get(person, (-1, 0)) for person in ids]
        rows = [k for k, (seen, _) in enumerate(earlier) if seen >= self._first]
        if rows:
            back = [number - earlier[k][0] for k in rows]
            pending = _Pending(
                slice(None) if len(rows) == len(ids) else np.array(rows),
                np.array(back),
                np.array([earlier[k][1] for k in rows]),
                back.count(back[0]) == len(back),
            )
            frame = _Frame(frame.timestamp_s, frame.track_id, frame.state, frame.cov, pending)
        self._latest.update((person, (number, row)) for row, person in enumerate(ids))
        self._frames.append(frame)
        if obs.timestamp_s - self._frames[0].timestamp_s >= 2 * self.lag_s:
            out += self._smooth(obs.timestamp_s - self.lag_s)
        return out

    def release(self, now_s: float) -> list[LinePositions]:
        """Every frame kept that is at least lag_s older than `now_s`, smoothed with what there
        is after it: a bucket closes, and what is that old belongs in it (also when frames
        stopped coming)."""
        if not self._frames or self._frames[0].timestamp_s > now_s - self.lag_s:
            return []
        return self._smooth(now_s - self.lag_s)

    def flush(self) -> list[LinePositions]:
        """Every frame kept, smoothed with what there is after it."""
        return self._smooth(np.inf) if self._frames else []

    def _link_all(self) -> None:
        """Work out the smoothing step back of every frame's pending rows to their people's
        earlier frames, all frames in one batch: with the filter's prediction x_p = F x_f,
        P_p = F P_f Fᵀ + Q of the later frame from the earlier state, C = P_f Fᵀ P_p⁻¹, and
        x_s = x_f + C (x_s' − x_p), P_s = P_f + C (P_s' − P_p) Cᵀ."""
        todo = [k for k, frame in enumerate(self._frames) if isinstance(frame.link, _Pending)]
        if not todo:
            return
        filtered, spread, dt_s = [], [], []
        for k in todo:
            frame, pending = self._frames[k], self._frames[k].link
            assert isinstance(pending, _Pending)
            if pending.one_frame:  # the usual case
                source = self._frames[k - int(pending.back[0])]
                filtered.append(source.state[pending.earlier_row])
                spread.append(source.cov[pending.earlier_row])
                dt_s.append([frame.timestamp_s - source.timestamp_s] * len(pending.back))
            else:
                sources = [self._frames[k - back] for back in pending.back.tolist()]
                rows = pending.earlier_row.tolist()
                filtered.append(np.array([s.state[r] for s, r in zip(sources, rows)]))
                spread.append(np.array([s.cov[r] for s, r in zip(sources, rows)]))
                dt_s.append([frame.timestamp_s - s.timestamp_s for s in sources])
        x_f, p_f = np.concatenate(filtered), np.concatenate(spread)
        f, noise = self._steps(np.array([dt for frame_dt_s in dt_s for dt in frame_dt_s]))
        cross = p_f @ np.swapaxes(f, -1, -2)  # P_f Fᵀ
        gain = cross @ np.linalg.inv(f @ cross + noise)
        offset = x_f - ((gain @ f) @ x_f[:, :, None])[:, :, 0]
        gain_t = gain.transpose(0, 2, 1)
        rest = p_f - cross @ gain_t  # P_f − C P_p Cᵀ, as C P_p = P_f Fᵀ
        start = 0
        for k in todo:
            frame, pending = self._frames[k], self._frames[k].link
            assert isinstance(pending, _Pending)
            end = start + len(pending.back)
            link = _Link(
                pending.rows,
                pending.back,
                pending.earlier_row,
                gain[start:end],
                gain_t[start:end],
                offset[start:end],
                rest[start:end],
                pending.one_frame,
            )
            self._frames[k] = _Frame(frame.timestamp_s, frame.track_id, frame.state, frame.cov, link)
            start = end

    def _steps(self, dt_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F and Q (N, 4, 4) of steps of `dt_s` (N,) s, one pair per distinct step: frames mostly
        come at one rate (within a microsecond: timestamps' differences are not exactly 1 / fps)."""
        _, first, which = np.unique(np.round(dt_s * 1e6), return_index=True, return_inverse=True)
        pairs = [transition(float(dt_s[i]), self.accel_m_s2) for i in first.tolist()]
        return np.array([f for f, _ in pairs])[which], np.array([q for _, q in pairs])[which]

    def _smooth(self, until_s: float) -> list[LinePositions]:
        """One pass back over the frames kept, each row's smoothed state handed to its person's
        earlier frame; hands out (and forgets) the frames up to `until_s`."""
        self._link_all()
        frames = self._frames
        emit = sum(1 for frame in frames if frame.timestamp_s <= until_s)
        states = [frame.state for frame in frames]  # smoothed, once written (copies then)
        covs = [frame.cov for frame in frames]
        written = [False] * len(frames)
        out: list[LinePositions] = []
        for k in range(len(frames) - 1, -1, -1):
            link = frames[k].link
            if isinstance(link, _Link):  # all are, or None, after _link_all
                later, later_cov = states[k][link.rows], covs[k][link.rows]
                state = (link.gain @ later[:, :, None])[:, :, 0] + link.offset
                cov = link.gain @ later_cov @ link.gain_t + link.rest
                # the usual case, everyone in the same earlier frame, without masks
                for back, to in [(int(link.back[0]), slice(None))] if link.one_frame else link.by_frame():
                    j = k - back
                    if j < 0:  # handed out already
                        continue
                    if not written[j]:
                        states[j], covs[j], written[j] = states[j].copy(), covs[j].copy(), True
                    states[j][link.earlier_row[to]], covs[j][link.earlier_row[to]] = state[to], cov[to]
            if k < emit:
                out.append(
                    LinePositions(
                        frames[k].timestamp_s, frames[k].track_id, states[k][:, :2], covs[k][:, :2, :2]
                    )
                )
        del frames[:emit]
        self._first += emit
        if emit:
            self._latest = {p: seen for p, seen in self._latest.items() if seen[0] >= self._first}
        return out[::-1]
