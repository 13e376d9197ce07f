"""Counting lines inside a fusion group: WILDTRACK's seven cameras as one store, one group.

`bench/line_views.py` counts lines on each WILDTRACK view alone; `bench/fusion_accuracy.py`
counts the people of the seven views fused, instant by instant. This bench counts lines on the
fused floor: the seven cameras of `examples/wildtrack.yaml` in its one fusion group, each fed
by the stand-in detector (each box missed with probability `--miss`, its edges jittered by
`--jitter` of its size, clipped to the frame; seeded per seed and camera), each camera's
tracker and floor measurements, the group's stage (fusion, group identities, the floor
filter, the analytics: `edge.fusion_stage`), at `--fps` with each person walking straight
between two annotated positions (`bench.line_views.upsampled`). Per seed, `--lines` random
lines (`--length-m` long, centred on annotated ground positions, random angle, both ends on
floor that at least one camera sees, `bench.line_views.LINE_INSIDE_PX` inside its frame) are
counted against everyone's annotated trajectories by the same rule (`tests/scene_truth.py`).

What fusion buys is measured on the same lines and the same boxes: each camera is also
replayed alone (a store of that one camera, as `bench/line_views.py` does), and each line is
given to one camera, either the one an installer would pick (the camera that sees the most of
the line, then the one that sees its middle in most detail) or the best one in hindsight (the
fewest errors on that line: no store can choose so). Each camera alone is also scored on the
lines it sees whole against the group on the same lines. The group's people count per frame
(MAE), double counts and missed people per frame (`bench.fusion_accuracy.Score`, every
analysed frame) come from the same replay, and how many group ids each annotated person was
followed by (at every frame, each counted person is the annotated one most of its boxes
belong to; 1 is a track that never broke and never went to someone else).

    .venv/bin/python bench/line_fusion.py [DATASET_DIR] [--seeds 1 2 3] [--group-only]
    .venv/bin/python bench/line_fusion.py --seeds 1 --miss 0 --jitter 0 --annotated-ids  # perfect
    .venv/bin/python bench/line_fusion.py --split-above-m-s 10  # truth without the id jumps
    .venv/bin/python bench/line_fusion.py --group-only --per-line > square_lines.txt  # bench/line_doubt.py

`--per-line` prints each seed's lines as the group counted them (`tests/scene_truth.py`
`line_table`) under a `seed N GROUP: line accuracy` row, the format bench/line_doubt.py reads.

`--split-above-m-s` as `bench/line_views.py`'s: the truth's annotated ids split wherever one
moves faster than that (m/s), the boxes, lines and `--annotated-ids` as annotated.

About half a minute a seed on one idle core, half of it the group.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fusion_accuracy import DEFAULT_CONFIG, Figures, FusionStore, Score, detect  # noqa: E402
from bench.line_views import (  # noqa: E402
    START_S,
    inside_frame,
    replay_config,
    replay_view,
    upsampled,
    view_scene,
)
from bench.wildtrack import DEFAULT_DATASET, FPS, FRAME_SIZE_PX, AnnotatedFrame, camera_name, read_frames  # noqa: E402
from footfall_core.geometry import CameraGeometry  # noqa: E402
from footfall_core.store import Line, StoreConfig, load_config  # noqa: E402
from tests.scene_truth import (  # noqa: E402
    AnnotatedIds,
    LineScore,
    line_counts,
    line_score,
    line_table,
    random_lines,
    split_fast_ids,
    truth_messages,
)

LINE_SAMPLES = 21  # points along a line at which what a camera sees of it is judged

Counts = dict[str, tuple[int, int]]  # (in, out) per line name


def group_lines(
    gt: np.ndarray, geometries: Sequence[CameraGeometry], count: int, seed: int, length_m: tuple[float, float]
) -> list[Line]:
    """`count` random lines (`random_lines`, drawn in turn from one seed) each of whose ends
    some camera sees, `LINE_INSIDE_PX` inside its frame (not necessarily the same camera)."""
    kept: list[Line] = []
    for draw in random_lines(gt, 50 * count, seed, length_m):
        ends = np.array([draw.start_m, draw.end_m])
        if np.any([inside_frame(g, ends) for g in geometries], axis=0).all():
            kept.append(draw.model_copy(update={"name": f"s{seed}-{len(kept):02d}"}))
        if len(kept) == count:
            return kept
    raise SystemExit(f"seed {seed}: only {len(kept)} of {count} random lines have both ends in view")


def seen_share(geometry: CameraGeometry, line: Line) -> float:
    """The share of `line` (LINE_SAMPLES points along it) the camera sees inside its frame."""
    t = np.linspace(0.0, 1.0, LINE_SAMPLES)[:, None]
    points = (1 - t) * np.array(line.start_m) + t * np.array(line.end_m)
    return float(inside_frame(geometry, points).mean())


def installer_pick(geometries: Sequence[CameraGeometry], line: Line) -> int:
    """The camera an installer would count `line` on: the one that sees the most of it, and
    among those the one that sees its middle in most detail (pixels per metre)."""
    middle = (np.array(line.start_m) + np.array(line.end_m))[None] / 2

    def rank(view: int) -> tuple[float, float]:
        detail = float(np.nan_to_num(geometries[view].pixels_per_metre(middle)[0]))
        return seen_share(geometries[view], line), detail

    return max(range(len(geometries)), key=rank)


def replay_group(
    config: StoreConfig,
    frames: list[AnnotatedFrame],
    seed: int,
    miss: float,
    jitter: float,
    annotated_ids: bool = False,
) -> tuple[list, Score]:
    """The group's messages over `frames` and its people scored frame by frame; each camera's
    boxes from the stand-in detector seeded with (`seed`, camera), as `replay_view` seeds it.
    `annotated_ids`: each camera's boxes keep their person's annotated id instead of the
    camera's tracker's."""
    fps = config.analysis.fps
    store = FusionStore(config)
    views = range(frames[0].boxes_px.shape[1])
    if annotated_ids:
        for v in views:
            store.trackers[camera_name(v)] = AnnotatedIds(view_scene(frames, v), START_S, fps)
    rngs = [np.random.default_rng([seed, view]) for view in views]
    counted = []
    for k, frame in enumerate(frames):
        boxes = {camera_name(v): detect(frame, v, rngs[v], miss, jitter) for v in views}
        counted += store.count(START_S + k / fps, boxes)
    counted += store.finish()
    if len(counted) != len(frames):
        raise RuntimeError(f"{len(counted)} instants fused for {len(frames)} frames")
    score = Score()
    for frame, instant in zip(frames, counted):
        score.add(frame, instant)
    return store.messages, score


@dataclass
class SeedRun:
    """One seed: its lines, their true counts, the group's, each camera's alone (empty when not
    replayed), and the group's people per frame."""

    seed: int
    lines: list[Line]
    truth: Counts
    group: Counts
    alone: dict[int, Counts]
    people: Figures
    ids_per_person: float  # `Score.ids_per_person` of the group's replay
    id_changes: dict[str, int]  # `Score.id_changes` of the group's replay
    ids_split: int | None  # annotated ids the truth split (`split_fast_ids`), None: not asked
    group_name: str  # the fusion group's name

    @property
    def names(self) -> list[str]:
        return [line.name for line in self.lines]

    def score(self, counts: Counts, names: Sequence[str] | None = None) -> LineScore:
        return line_score(self.truth, counts, self.names if names is None else names)

    def one_camera_a_line(self, pick: dict[str, int]) -> Counts:
        """Each line's counts by the camera `pick` gives it."""
        return {name: self.alone[view].get(name, (0, 0)) for name, view in pick.items()}

    def best_in_hindsight(self) -> dict[str, int]:
        """Each line's camera with the fewest errors on it."""

        def error(view: int, name: str) -> int:
            got, want = self.alone[view].get(name, (0, 0)), self.truth.get(name, (0, 0))
            return abs(got[0] - want[0]) + abs(got[1] - want[1])

        return {name: min(self.alone, key=lambda v: error(v, name)) for name in self.names}


def run_seed(
    base: StoreConfig,
    frames: list[AnnotatedFrame],
    seed: int,
    fps: int,
    lines: int = 30,
    length_m: tuple[float, float] = (4.0, 8.0),
    miss: float = 0.1,
    jitter: float = 0.05,
    alone: bool = True,
    annotated_ids: bool = False,
    split_above_m_s: float | None = None,
) -> SeedRun:
    """One seed's lines counted by the group (and by each camera alone with `alone`);
    `annotated_ids` as `replay_group`'s; with `split_above_m_s`, the truth's ids split where
    they move faster (`split_fast_ids`: the truth only, not the boxes, lines or annotated ids)."""
    gt = view_scene(frames)
    geometries = [CameraGeometry.from_config(c, FRAME_SIZE_PX) for c in base.cameras]
    drawn = group_lines(gt, geometries, lines, seed, length_m)
    config = replay_config(base, fps, drawn, live_interval_s=0.5 / fps)  # a snapshot every instant
    messages, people = replay_group(config, frames, seed, miss, jitter, annotated_ids)
    walkers, ids_split = (gt, None) if split_above_m_s is None else split_fast_ids(gt, fps, split_above_m_s)
    truth = truth_messages(config, base.cameras[0].name, walkers, START_S, len(frames))
    single = replay_config(base, fps, drawn)
    views = range(len(base.cameras)) if alone else range(0)
    counts = {
        v: line_counts(
            replay_view(
                single, frames, v, seed, miss, jitter, view_scene(frames, v) if annotated_ids else None
            )
        )
        for v in views
    }
    figures = people.figures(slice(None))
    return SeedRun(
        seed,
        drawn,
        line_counts(truth),
        line_counts(messages),
        counts,
        figures,
        people.ids_per_person(),
        people.id_changes,
        ids_split,
        base.fusion[0].name,
    )


def report(run: SeedRun, geometries: Sequence[CameraGeometry], per_line: bool = False) -> list[str]:
    """The printed lines of one seed; with `per_line`, the group's table of every line."""
    group = run.score(run.group)
    p = run.people
    out = [
        f"seed {run.seed}: group {group.accuracy:.1%} (truth {group.truth} crossings, counted "
        f"{group.counted}, sum |error| {group.abs_error}); people per frame {p.people:.1f}, count MAE "
        f"{p.count_mae:.2f}, double counts {p.doubles:.2f}, missed {p.missed:.2f}; "
        f"{run.ids_per_person:.2f} group ids per annotated person ({sum(run.id_changes.values())} "
        f"changes: "
        + ", ".join(f"{n} {kind}" for kind, n in run.id_changes.items())
        + ")"
        + ("" if run.ids_split is None else f"; {run.ids_split} annotated ids split in the truth")
    ]
    if per_line:
        out.append(f"seed {run.seed} {run.group_name}: line accuracy {group.accuracy:.1%} (the group)")
        out.append(line_table(run.lines, run.truth, run.group))
    if not run.alone:
        return out
    installer = {line.name: installer_pick(geometries, line) for line in run.lines}
    for label, pick in (("installer's pick", installer), ("best in hindsight", run.best_in_hindsight())):
        s = run.score(run.one_camera_a_line(pick))
        out.append(
            f"seed {run.seed}: one camera a line, {label}: {s.accuracy:.1%} (sum |error| {s.abs_error})"
        )
    for view, counts in run.alone.items():
        whole = [line.name for line in run.lines if seen_share(geometries[view], line) == 1.0]
        if whole:
            mine, ours = run.score(counts, whole), run.score(run.group, whole)
            out.append(
                f"seed {run.seed} {camera_name(view)}: alone {mine.accuracy:.1%}, group {ours.accuracy:.1%} "
                f"on the {len(whole)} lines it sees whole (truth {mine.truth})"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the WILDTRACK store")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--fps", type=int, default=10, choices=(2, 4, 6, 8, 10), help="as bench/line_views.py (default 10)"
    )
    parser.add_argument("--lines", type=int, default=30, help="random lines per seed (default 30)")
    parser.add_argument("--length-m", type=float, nargs=2, default=(4.0, 8.0))
    parser.add_argument("--miss", type=float, default=0.1, help="share of boxes the detector misses")
    parser.add_argument("--jitter", type=float, default=0.05, help="box edge noise, share of its size")
    parser.add_argument("--group-only", action="store_true", help="do not replay each camera alone")
    parser.add_argument("--per-line", action="store_true", help="print every random line's group counts")
    parser.add_argument(
        "--annotated-ids",
        action="store_true",
        help="each camera's boxes keep their person's annotated id instead of its tracker's",
    )
    parser.add_argument(
        "--split-above-m-s",
        type=float,
        default=None,
        help="as bench/line_views.py: the truth's ids split wherever they move faster (default: none)",
    )
    args = parser.parse_args()
    frames = upsampled(read_frames(args.dataset), args.fps // round(FPS))
    base = load_config(args.config)
    geometries = [CameraGeometry.from_config(c, FRAME_SIZE_PX) for c in base.cameras]
    print(
        f"WILDTRACK {args.dataset}: {len(frames)} frames at {args.fps} fps, {len(base.cameras)} cameras "
        f"in one fusion group; stand-in detector {args.miss:.0%} missed, edges jittered by "
        f"{args.jitter:.0%}; {args.lines} lines {args.length_m[0]:g}-{args.length_m[1]:g} m a seed"
    )
    for seed in args.seeds:
        length_m = tuple(args.length_m)
        alone = not args.group_only
        run = run_seed(
            base,
            frames,
            seed,
            args.fps,
            args.lines,
            length_m,
            args.miss,
            args.jitter,
            alone,
            args.annotated_ids,
            args.split_above_m_s,
        )
        print("\n".join(report(run, geometries, args.per_line)), flush=True)


if __name__ == "__main__":
    main()
