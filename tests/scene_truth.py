"""What the pipeline should report on a scene whose people are annotated on the floor, and how
far its messages are from that.

A scene is a recording with a MOTChallenge 2015 gt.txt carrying each person's floor position
(`wx, wy`, metres) in the floor frame of the store config that replays it (PETS09 and
examples/pets09.yaml; any other such recording with its own config). The annotated people are
fed, frame by frame, through the same `Aggregator` as the pipeline's observations: the truth
follows the pipeline's own rules (line hysteresis and the crossing within the segment, zone
occupancy weighted by time, heat per cell), and both sides come out as the same contract
messages, bucket by bucket. Comparisons take the two message streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.aggregator import Aggregator
from edge.types import Detections, FloorObservation, Tracks
from footfall_core.audit import LineAccuracy, counted_crossings, line_accuracy
from footfall_core.store import Line, LineAudit, StoreConfig


def truth_messages(config: StoreConfig, camera: str, gt: np.ndarray, start_s: float, frames: int) -> tuple:
    """The aggregates the pipeline would yield for `camera` if it saw exactly the annotated
    people of `gt` (`tests.gt.mot_gt`) at their annotated floor positions, each with its
    annotated id as a confirmed track. Frame f (1-based, as gt.txt counts) is at
    `start_s + (f - 1) / fps` (the camera's fps, as the replay's timestamps); frames 1..`frames`
    are all observed, empty ones too, so that occupancy is averaged over the same time."""
    fps = config.camera(camera).fps
    if fps is None:
        raise ValueError(f"camera {camera}: the scene needs the camera's fps to time its annotations")
    aggregator = Aggregator(config, camera)
    messages: list = []
    order = np.argsort(gt["frame"], kind="stable")
    gt = gt[order]
    bounds = np.searchsorted(gt["frame"], np.arange(1, frames + 2))
    for frame in range(1, frames + 1):
        rows = gt[bounds[frame - 1] : bounds[frame]]
        obs = FloorObservation(
            timestamp_s=start_s + (frame - 1) / fps,
            dt_s=1.0 / fps,
            floor_xy=np.stack([rows["wx"], rows["wy"]], axis=1),
            track_id=rows["id"].astype(np.int64),
        )
        messages += aggregator.observe(obs)
    messages += aggregator.flush(start_s + (frames - 1) / fps)
    return tuple(messages)


def split_fast_ids(gt: np.ndarray, fps: float, above_m_s: float) -> tuple[np.ndarray, int]:
    """`gt` (`tests.gt.mot_gt` rows, frame f at (f - 1) / `fps` s) with each annotated id given a
    new id wherever it moves faster than `above_m_s` from one of its rows to the next, and the
    number of annotated ids so split.

    Nobody in a store runs 10 m/s: such a step is the annotation's id error (one id put on two
    people's paths, or a person dropped and annotated again somewhere else), and the truth,
    fed it as it is, counts every line the straight step crosses though nobody walked it. The
    rows after the step are another person's: a new id, which starts on its own side of every
    line. A row both reached and left by such steps (a position interpolated across the jump,
    as `bench.line_views.upsampled` makes, or an id held for one frame by someone else) is on
    nobody's walk and is dropped, so that a jump is split once however many frames it spans."""
    rows = gt[np.lexsort((gt["frame"], gt["id"]))]
    step_m = np.hypot(np.diff(rows["wx"]), np.diff(rows["wy"]))
    fast = (rows["id"][1:] == rows["id"][:-1]) & (step_m * fps > above_m_s * np.diff(rows["frame"]))
    reached, left = np.r_[False, fast], np.r_[fast, False]
    starts = reached & ~left
    splits = np.cumsum(starts)
    first = np.r_[True, rows["id"][1:] != rows["id"][:-1]]
    since_first = splits - np.maximum.accumulate(np.where(first, splits, 0))
    annotated = rows["id"]
    rows = rows.copy()
    rows["id"] = np.where(since_first > 0, annotated.max() + splits, annotated)
    return rows[~(reached & left)], len(np.unique(annotated[starts]))


class AnnotatedIds:
    """An image tracker that knows the answer: each detected box takes the id of the annotated
    box it overlaps most (IoU above `least_iou`, each pairing once, Hungarian method), -1 when
    none does. Replayed in place of the tracker, it shows what better tracking could still
    gain on a scene (`bench/line_accuracy.py --annotated-ids`). Frame f of `gt` (1-based) is at
    `start_s + (f - 1) / fps`, as in `truth_messages`."""

    def __init__(self, gt: np.ndarray, start_s: float, fps: float, least_iou: float = 0.3) -> None:
        self.gt, self.start_s, self.fps, self.least_iou = gt, start_s, fps, least_iou

    def update(self, detections: Detections, timestamp_s: float | None = None) -> Tracks:
        if timestamp_s is None:
            raise ValueError("AnnotatedIds needs each frame's timestamp to find its annotations")
        rows = self.gt[self.gt["frame"] == round((timestamp_s - self.start_s) * self.fps) + 1]
        ids = np.full(len(detections), -1, np.int64)
        if len(rows) and len(detections):
            boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1)
            found = detections.xyxy.astype(np.float64)
            lo = np.maximum(found[:, None, :2], boxes[None, :, :2])
            hi = np.minimum(found[:, None, 2:], boxes[None, :, 2:])
            overlap = np.clip(hi - lo, 0, None).prod(axis=2)
            areas = np.prod(found[:, 2:] - found[:, :2], axis=1)[:, None]
            iou = overlap / (areas + np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)[None] - overlap)
            det, ann = linear_sum_assignment(-iou)
            paired = iou[det, ann] > self.least_iou
            ids[det[paired]] = rows["id"][ann[paired]].astype(np.int64)
        return Tracks(detections, ids)

    def lost(self, within_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Nobody: it names the boxes found and predicts no one (`Tracker.lost`), so a replay
        with it counts no hidden people."""
        return np.zeros((0, 4)), np.zeros(0)


def random_lines(
    gt: np.ndarray, count: int, seed: int, length_m: tuple[float, float] = (4.0, 8.0)
) -> list[Line]:
    """`count` counting lines drawn with `numpy.random.default_rng(seed)`: each centred on an
    annotated floor position picked at random (so lines go where people are), at a uniformly
    random angle, `length_m` (low, high) long, uniform. Named `s<seed>-<k>`."""
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(count):
        row = gt[rng.integers(len(gt))]
        centre = np.array([row["wx"], row["wy"]])
        angle = rng.uniform(0.0, np.pi)
        half = rng.uniform(*length_m) / 2 * np.array([np.cos(angle), np.sin(angle)])
        start, end = centre - half, centre + half
        lines.append(
            Line(
                name=f"s{seed}-{k:02d}",
                start_m=(round(float(start[0]), 3), round(float(start[1]), 3)),
                end_m=(round(float(end[0]), 3), round(float(end[1]), 3)),
            )
        )
    return lines


def of_kind(messages: Iterable, kind: str, window: tuple[float, float] | None = None) -> list:
    """The aggregates of one kind (grid, zones, lines, flows, health), only those whose bucket
    starts within `window` (from_s, to_s) epoch seconds when given."""
    out = [m for m in messages if getattr(m, "kind", None) == kind]
    if window is not None:
        out = [m for m in out if window[0] <= m.bucket_start.timestamp() < window[1]]
    return out


def line_counts(messages: Iterable, window: tuple[float, float] | None = None) -> dict[str, tuple[int, int]]:
    """(in, out) per line name, summed over the buckets (`window` as `of_kind`'s), as an audit
    sums them (`footfall_core.audit.counted_crossings`)."""
    return counted_crossings(of_kind(messages, "lines", window))


@dataclass(frozen=True)
class LineScore:
    """A family of `lines` scored as an on-site audit is (`footfall_core.audit.line_accuracy`),
    the truth standing for the marked crossings: Σ truth and Σ counted crossings (in and out),
    Σ|error| per line and direction, and accuracy = 1 − Σ|error| / Σ truth (nan with no truth)."""

    lines: int
    figures: LineAccuracy

    @property
    def truth(self) -> int:
        return self.figures.marked

    @property
    def counted(self) -> int:
        return self.figures.counted

    @property
    def abs_error(self) -> int:
        return self.figures.abs_error

    @property
    def accuracy(self) -> float:
        return float("nan") if self.figures.accuracy is None else self.figures.accuracy


def line_score(
    truth: dict[str, tuple[int, int]], counted: dict[str, tuple[int, int]], names: Sequence[str]
) -> LineScore:
    """Score the lines `names`: each direction of each line is one count to get right."""
    audits = [
        LineAudit(line=name, marked_in=a, marked_out=b, counted_in=c, counted_out=d)
        for name in names
        for (a, b), (c, d) in [(truth.get(name, (0, 0)), counted.get(name, (0, 0)))]
    ]
    return LineScore(lines=len(names), figures=line_accuracy(audits))


def line_table(
    lines: Sequence[Line], truth: dict[str, tuple[int, int]], counted: dict[str, tuple[int, int]]
) -> str:
    """Each line's ends (m), truth and counts in and out, and its error where it has one: one row
    a line under a header, as the benches print them with `--per-line`."""
    rows = [f"{'line':8s} {'start_m':>17s} {'end_m':>17s}  truth in/out  counted in/out"]
    for line in lines:
        (a, b), (c, d) = truth.get(line.name, (0, 0)), counted.get(line.name, (0, 0))
        mark = "" if (a, b) == (c, d) else f"  error {c - a:+d}/{d - b:+d}"
        rows.append(
            f"{line.name:8s} ({line.start_m[0]:7.2f},{line.start_m[1]:7.2f}) "
            f"({line.end_m[0]:7.2f},{line.end_m[1]:7.2f})  {a:5d} {b:5d}    {c:5d} {d:5d}{mark}"
        )
    return "\n".join(rows)


def occupancy_errors(
    truth: Iterable, pipeline: Iterable, zone: str, window: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket present in both: (pipeline − truth mean occupancy of `zone`, truth mean
    occupancy), people."""
    truth_by = {m.bucket_start: m for m in of_kind(truth, "zones", window)}
    errors, means = [], []
    for message in of_kind(pipeline, "zones", window):
        expected = truth_by.get(message.bucket_start)
        if expected is None:
            continue
        [got] = [z for z in message.zones if z.zone == zone]
        [want] = [z for z in expected.zones if z.zone == zone]
        errors.append(got.mean_occupancy - want.mean_occupancy)
        means.append(want.mean_occupancy)
    return np.array(errors), np.array(means)


def heat(messages: Iterable, window: tuple[float, float] | None = None) -> dict[tuple[int, int], float]:
    """Person-seconds per heat cell (ix, iy), summed over the buckets."""
    cells: dict[tuple[int, int], float] = {}
    for message in of_kind(messages, "grid", window):
        for ix, iy, person_s in message.cells:
            cells[ix, iy] = cells.get((ix, iy), 0.0) + person_s
    return cells


def heat_r(truth: Iterable, pipeline: Iterable, window: tuple[float, float] | None = None) -> float:
    """Pearson r between the two heat grids over every cell either has."""
    want, got = heat(truth, window), heat(pipeline, window)
    keys = sorted(set(want) | set(got))
    return float(np.corrcoef([got.get(k, 0.0) for k in keys], [want.get(k, 0.0) for k in keys])[0, 1])
