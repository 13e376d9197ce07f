"""Where one camera's line errors come from, per view: `bench/line_views.py`'s replays (WILDTRACK's
seven views alone, the stand-in detector) with every crossing the pipeline counted and every
true crossing kept, matched and sorted by cause.

A counted crossing is right when the truth has one of the same line and direction by the
annotated person its track stood on then (the person whose box fed the track's nearest frame),
within `MATCH_S`; each true crossing is matched once. What is left:

- extra (over-counts):
  - `swap`: the track stood on more than one person within `WINDOW_S` before the crossing
    (or just after it): `swap-tracker` where the image tracker's id moved from one person to
    another, `swap-join` where the floor filter joined a new image id of another person to
    the track (`edge.floor_tracks`);
  - `back-and-forth`: the same track also made an extra crossing of the same line the other
    way within `WINDOW_S` (the position went over the line and back: noise or lag);
  - `other`: a single crossing by one person that the truth does not have (near the line's
    end, or within the truth's margin).
- missed (under-counts):
  - `brief`: the person's annotation in the view starts or ends within `BRIEF_S` of the
    crossing (they walk into or out of the annotated area, or the recording, there: no
    detector's track can be confirmed on both sides in that time);
  - `outside-frame`: the person's box was less than half inside the frame around the
    crossing (the stand-in, as a detector, does not see them);
  - `not-followed`: no track stood on the person around the crossing (missed, or not yet
    confirmed by the tracker);
  - `broken`: the person's track before the crossing is not the one after it;
  - `swap-tracker`, `swap-join`: the person's track had stood on someone else within
    `WINDOW_S` before (as for an extra: the track's side was another person's);
  - `margin`: one track throughout, but its positions never got past the line's margin on
    one side (`margin-sigma` where the fixed `line_hysteresis_m` alone would have confirmed
    it: the doubt's part of the margin);
  - `other`: one track that did get past the margin on both sides (its step across passed
    beyond the line's end, or the count came more than `MATCH_S` apart).

Each cause is also split by where it happened: `edge` (the person's box touched the frame's
edge within `WINDOW_S`) and `far` (the doubt across the line, one σ, above `FAR_SIGMA_M`).

    .venv/bin/python bench/line_errors.py [--seeds 1] [--views 0 1] [--fps 10] [--miss 0.1 --jitter 0.05]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.line_views as line_views  # noqa: E402
from bench.fusion_accuracy import DEFAULT_CONFIG, MIN_VISIBLE  # noqa: E402
from bench.wildtrack import DEFAULT_DATASET, FPS, FRAME_SIZE_PX, AnnotatedFrame, camera_name, read_frames  # noqa: E402
from edge.analytics.lines import Lines, _LineCounter  # noqa: E402
from edge.analytics.smoother import LinePositions  # noqa: E402
from edge.floor_tracks import FloorPeople, FloorTracks  # noqa: E402
from edge.types import Detections  # noqa: E402
from footfall_core.geometry import CameraGeometry  # noqa: E402
from footfall_core.store import Line, StoreConfig, load_config  # noqa: E402
from tests.scene_truth import truth_messages  # noqa: E402

MATCH_S = 3.0  # a counted crossing matches a true one this close in time
WINDOW_S = 3.0  # how far around a crossing its track's history is looked at
FAR_SIGMA_M = 0.3  # a position's doubt across a line above this is "far"
BRIEF_S = 1.0  # a person annotated in the view for less than this before or after a crossing
EDGE_PX = 2  # a box within this of the frame's border touches its edge
EXTRA = ("swap-tracker", "swap-join", "back-and-forth", "other")
MISSED = (
    "brief",
    "outside-frame",
    "not-followed",
    "broken",
    "swap-tracker",
    "swap-join",
    "margin-sigma",
    "margin",
    "other",
)


@dataclass
class Recording:
    """What one replay did: crossings (line, +1 in / -1 out, track, t), the positions handed to
    the lines per track (t, xy, σ² matrix), and per frame the rows the floor filter followed
    (t, image id, track, annotated person, box at the frame's edge)."""

    crossings: list[tuple[str, int, int, float]] = field(default_factory=list)
    positions: dict[int, list[tuple[float, np.ndarray, np.ndarray | None]]] = field(default_factory=dict)
    rows: list[tuple[float, int, int, int, bool]] = field(default_factory=list)
    detected: tuple[np.ndarray, np.ndarray] | None = None  # last stand-in frame: boxes, person ids


@contextmanager
def recording(record: Recording) -> Iterator[None]:
    """Record into `record` whatever replay or truth runs inside (class-level wrappers of the
    line counter, the lines and the floor filter, and the bench's stand-in detector)."""
    observe, count, update, detect = _LineCounter.observe, Lines._count, FloorTracks.update, line_views.detect

    def observe_each(self: _LineCounter, positions: LinePositions) -> None:
        for k, track in enumerate(positions.track_id.tolist()):
            before = self.in_count - self.out_count, self.in_count + self.out_count
            cov = None if positions.cov_m2 is None else positions.cov_m2[k : k + 1]
            observe(
                self,
                LinePositions(
                    positions.timestamp_s, positions.track_id[k : k + 1], positions.xy[k : k + 1], cov
                ),
            )
            if self.in_count + self.out_count != before[1]:
                way = 1 if self.in_count - self.out_count > before[0] else -1
                record.crossings.append((self.line.name, way, track, positions.timestamp_s))

    def count_kept(self: Lines, batches: list[LinePositions]) -> None:
        for positions in batches:
            for k, track in enumerate(positions.track_id.tolist()):
                cov = None if positions.cov_m2 is None else positions.cov_m2[k]
                record.positions.setdefault(track, []).append((positions.timestamp_s, positions.xy[k], cov))
        count(self, batches)

    def update_kept(
        self: FloorTracks, timestamp_s: float, track_id: np.ndarray, *args: np.ndarray
    ) -> FloorPeople:
        people = update(self, timestamp_s, track_id, *args)
        # the stand-in's boxes first, then any hidden people the pipeline holds (no track id)
        assert record.detected is not None and len(record.detected[1]) <= len(track_id)
        boxes, person = record.detected
        width, height = FRAME_SIZE_PX
        edge = (
            (boxes[:, :2] <= EDGE_PX).any(axis=1)
            | (boxes[:, 2] >= width - EDGE_PX)
            | (boxes[:, 3] >= height - EDGE_PX)
        )
        for image_id, track, who, cut in zip(
            track_id.tolist(), people.person_id.tolist(), person.tolist(), edge.tolist()
        ):
            if track >= 0:
                record.rows.append((timestamp_s, image_id, track, who, cut))
        return people

    def detect_kept(
        frame: AnnotatedFrame, view: int, rng: np.random.Generator, miss: float, jitter: float
    ) -> tuple[Detections, np.ndarray]:
        detections, person = detect(frame, view, rng, miss, jitter)
        record.detected = (detections.xyxy, frame.person_id[person])
        return detections, person

    with (
        mock.patch.object(_LineCounter, "observe", observe_each),
        mock.patch.object(Lines, "_count", count_kept),
        mock.patch.object(FloorTracks, "update", update_kept),
        mock.patch.object(line_views, "detect", detect_kept),
    ):
        yield


@dataclass
class Breakdown:
    truth: int = 0
    counted: int = 0
    right: int = 0
    extra: Counter = field(default_factory=Counter)  # cause -> crossings
    missed: Counter = field(default_factory=Counter)
    where: Counter = field(default_factory=Counter)  # (extra|missed, cause, edge|far) -> crossings

    def add(self, other: Breakdown) -> None:
        self.truth += other.truth
        self.counted += other.counted
        self.right += other.right
        self.extra.update(other.extra)
        self.missed.update(other.missed)
        self.where.update(other.where)


class Followed:
    """The replay's followed rows by track and by annotated person, sorted by time."""

    def __init__(self, rows: list[tuple[float, int, int, int, bool]]) -> None:
        table = np.array(
            rows, dtype=[("t", "f8"), ("image", "i8"), ("track", "i8"), ("who", "i8"), ("edge", "?")]
        )
        self.table = table[np.argsort(table["t"], kind="stable")]

    def of_track(self, track: int, t0: float, t1: float) -> np.ndarray:
        rows = self.table[self.table["track"] == track]
        return rows[(rows["t"] >= t0) & (rows["t"] <= t1)]

    def of_person(self, who: int, t0: float, t1: float) -> np.ndarray:
        rows = self.table[self.table["who"] == who]
        return rows[(rows["t"] >= t0) & (rows["t"] <= t1)]

    def who(self, track: int, t: float) -> int:
        rows = self.of_track(track, t - 1.0, t + 1.0)
        return -1 if not len(rows) else int(rows["who"][np.argmin(np.abs(rows["t"] - t))])


def side_m(line: Line, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance (K,) m of points (K, 2) from `line` (as `edge.analytics.lines`) and the
    line's unit normal."""
    start, end = np.asarray(line.start_m), np.asarray(line.end_m)
    unit = (end - start) / np.linalg.norm(end - start)
    rel = xy - start
    return unit[0] * rel[:, 1] - unit[1] * rel[:, 0], np.array([-unit[1], unit[0]])


def breakdown(
    lines: list[Line],
    truth: Recording,
    counted: Recording,
    gt: np.ndarray,
    hysteresis_m: float,
    sigmas: float,
    fps: int,
) -> Breakdown:
    """Match the counted crossings to the true ones and sort the rest by cause (module doc)."""
    tracks = Followed(counted.rows)
    by_name = {line.name: line for line in lines}
    out = Breakdown(truth=len(truth.crossings), counted=len(counted.crossings))
    true_left = list(truth.crossings)
    extras: list[tuple[str, int, int, float]] = []
    for name, way, track, t in sorted(counted.crossings, key=lambda c: c[3]):
        who = tracks.who(track, t)
        near = [
            k
            for k, (n, w, p, s) in enumerate(true_left)
            if n == name and w == way and p == who and abs(s - t) <= MATCH_S
        ]
        if near:
            true_left.pop(min(near, key=lambda k: abs(true_left[k][3] - t)))
            out.right += 1
        else:
            extras.append((name, way, track, t))
    for name, way, track, t in extras:
        swap = _swap(tracks, track, t)
        if swap:
            cause = swap
        elif any(n == name and w == -way and p == track and abs(s - t) <= WINDOW_S for n, w, p, s in extras):
            cause = "back-and-forth"
        else:
            cause = "other"
        out.extra[cause] += 1
        around = tracks.of_track(track, t - WINDOW_S, t + WINDOW_S)
        _where(out, "extra", cause, bool(around["edge"].any()), _far(counted, track, t, by_name[name]))
    for name, way, who, t in true_left:
        cause, track = _missed_cause(
            by_name[name], way, who, t, tracks, counted, gt, hysteresis_m, sigmas, fps
        )
        out.missed[cause] += 1
        around = tracks.of_person(who, t - WINDOW_S, t + WINDOW_S)
        _where(
            out,
            "missed",
            cause,
            bool(around["edge"].any()),
            track >= 0 and _far(counted, track, t, by_name[name]),
        )
    return out


def _swap(tracks: Followed, track: int, t: float) -> str:
    """ "swap-tracker" or "swap-join" if `track` stood on more than one person from WINDOW_S
    before `t` to just after it, else ""."""
    rows = tracks.of_track(track, t - WINDOW_S, t + 0.5)
    people = rows["who"]
    changed = np.flatnonzero(people[1:] != people[:-1])
    if not len(changed):
        return ""
    return "swap-tracker" if (rows["image"][changed + 1] == rows["image"][changed]).any() else "swap-join"


def _where(out: Breakdown, kind: str, cause: str, edge: bool, far: bool) -> None:
    if edge:
        out.where[kind, cause, "edge"] += 1
    if far:
        out.where[kind, cause, "far"] += 1


def _far(record: Recording, track: int, t: float, line: Line) -> bool:
    """Whether the position handed to the line nearest `t` was more than FAR_SIGMA_M unsure
    across it."""
    kept = record.positions.get(track, [])
    if not kept:
        return False
    _, _, cov = min(kept, key=lambda p: abs(p[0] - t))
    if cov is None:
        return False
    _, normal = side_m(line, np.zeros((1, 2)))
    return float(normal @ cov @ normal) > FAR_SIGMA_M**2


def _missed_cause(
    line: Line,
    way: int,
    who: int,
    t: float,
    tracks: Followed,
    counted: Recording,
    gt: np.ndarray,
    hysteresis_m: float,
    sigmas: float,
    fps: int,
) -> tuple[str, int]:
    """Why the true crossing (line, way, who, t) was not counted, and the track that stood on
    the person then (-1: none)."""
    seen_s = line_views.START_S + (gt["frame"][gt["id"] == who] - 1) / fps
    if seen_s.min() > t - BRIEF_S or seen_s.max() < t + BRIEF_S:
        return "brief", -1
    near = tracks.of_person(who, t - 0.5, t + 0.5)
    if not len(near):
        return ("outside-frame" if _outside(gt, who, t, fps) else "not-followed"), -1
    before = tracks.of_person(who, t - WINDOW_S, t)
    after = tracks.of_person(who, t, t + WINDOW_S)
    if len(before) and len(after) and before["track"][-1] != after["track"][0]:
        return "broken", int(after["track"][0])
    track = int(near["track"][np.argmin(np.abs(near["t"] - t))])
    swap = _swap(tracks, track, t)
    if swap:
        return swap, track
    kept = [p for p in counted.positions.get(track, []) if t - 2 * WINDOW_S <= p[0] <= t + 2 * WINDOW_S]
    if not kept:
        return "not-followed", track
    times = np.array([p[0] for p in kept])
    side, normal = side_m(line, np.array([p[1] for p in kept]))
    sigma = np.array(
        [0.0 if p[2] is None else float(np.sqrt(max(normal @ p[2] @ normal, 0.0))) for p in kept]
    )
    start_side = way  # "in" (+1) goes from the right (side > 0) to the left
    was = times <= t
    fixed_ok = (start_side * side[was] >= hysteresis_m).any() and (
        -start_side * side[~was] >= hysteresis_m
    ).any()
    margin = hysteresis_m + sigmas * sigma
    full_ok = (start_side * side[was] >= margin[was]).any() and (
        -start_side * side[~was] >= margin[~was]
    ).any()
    if not full_ok:
        return ("margin-sigma" if fixed_ok else "margin"), track
    return "other", track


def _outside(gt: np.ndarray, who: int, t: float, fps: int) -> bool:
    """Whether the annotated box of `who` nearest `t` is less than MIN_VISIBLE inside the frame."""
    rows = gt[gt["id"] == who]
    times = line_views.START_S + (rows["frame"] - 1) / fps
    row = rows[np.argmin(np.abs(times - t))]
    width, height = FRAME_SIZE_PX
    x0, y0, x1, y1 = row["x"], row["y"], row["x"] + row["w"], row["y"] + row["h"]
    inside = max(0.0, min(x1, width) - max(x0, 0.0)) * max(0.0, min(y1, height) - max(y0, 0.0))
    return inside < MIN_VISIBLE * row["w"] * row["h"]


def view_breakdown(
    base: StoreConfig,
    frames: list[AnnotatedFrame],
    view: int,
    seed: int,
    fps: int,
    miss: float,
    jitter: float,
) -> Breakdown:
    """One seeded replay of one view (as `line_views.score_view`), broken down."""
    name = camera_name(view)
    gt = line_views.view_scene(frames, view)
    geometry = CameraGeometry.from_config(base.camera(name), FRAME_SIZE_PX)
    drawn = line_views.visible_lines(gt, geometry, 30, seed, (4.0, 8.0))
    config = line_views.replay_config(base, fps, drawn)
    counted, truth = Recording(), Recording()
    with recording(counted):
        line_views.replay_view(config, frames, view, seed, miss, jitter)
    with recording(truth):
        truth_messages(config, name, gt, line_views.START_S, len(frames))
    a = config.analysis
    return breakdown(drawn, truth, counted, gt, a.line_hysteresis_m, a.line_hysteresis_sigmas, fps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the WILDTRACK store")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--views", type=int, nargs="+", default=list(range(7)))
    parser.add_argument("--fps", type=int, default=10, choices=(2, 4, 6, 8, 10))
    parser.add_argument("--miss", type=float, default=0.1)
    parser.add_argument("--jitter", type=float, default=0.05)
    args = parser.parse_args()
    frames = line_views.upsampled(read_frames(args.dataset), args.fps // round(FPS))
    base = load_config(args.config)
    total = Breakdown()
    for view in args.views:
        of_view = Breakdown()
        for seed in args.seeds:
            of_view.add(view_breakdown(base, frames, view, seed, args.fps, args.miss, args.jitter))
        report(camera_name(view), of_view)
        total.add(of_view)
    report("all views", total)


def report(title: str, b: Breakdown) -> None:
    def causes(kind: str, counts: Counter, order: tuple[str, ...]) -> str:
        parts = []
        for cause in order:
            if counts[cause]:
                edge, far = b.where[kind, cause, "edge"], b.where[kind, cause, "far"]
                parts.append(f"{cause} {counts[cause]} (edge {edge}, far {far})")
        return ", ".join(parts) or "none"

    extra, missed = sum(b.extra.values()), sum(b.missed.values())
    print(
        f"{title}: truth {b.truth}, counted {b.counted}, right {b.right}; "
        f"extra {extra}: {causes('extra', b.extra, EXTRA)}; "
        f"missed {missed}: {causes('missed', b.missed, MISSED)}"
    )


if __name__ == "__main__":
    main()
