"""Counting lines on seven cameras the project was never tuned on: WILDTRACK's views, one at a
time.

PETS09 (`bench/line_accuracy.py`) is one camera. WILDTRACK (`../shared/datasets/wildtrack_dev`)
has seven more, each at its own height and angle over one busy square, with every person's
ground position (2.5 cm grid) and box in each view, but no images. So each view here is a
store of one camera, calibrated as an installer would (examples/wildtrack.yaml, made by
`bench/wildtrack.py` from 12 floor points of its camera model), fed by the stand-in detector
of `bench/fusion_accuracy.py` (each box missed with probability `--miss`, its edges jittered
by `--jitter` of its size, clipped to the frame) and run through the edge's own stages
(`CameraPipeline`: tracker, floor projection, floor filter, analytics). The annotation has 2
frames a second; at `--fps` above that, each person walks in a straight line from one
annotated position (and box) to the next, as they do in half a second. Per view and seed,
`--lines` random lines (`--length-m` long, centred on where the view's people stand, random
angle; kept only if both ends are inside the view's frame, as an installer draws a line the
camera sees) are counted against the annotated trajectories of the people the view sees, by
the same rule (`tests/scene_truth.py`). Printed: each view's line accuracy per seed (with
`--per-line`, each of its lines' ends, truth and counts under it), then each seed's over all
views and the worst view.

    .venv/bin/python bench/line_views.py [DATASET_DIR] [--seeds 1 2 3] [--fps 10] [--miss 0.1 --jitter 0.05]
    .venv/bin/python bench/line_views.py --seeds 1 --miss 0 --jitter 0 --annotated-ids  # perfect
    .venv/bin/python bench/line_views.py --seeds 1 2 --fps 2 --tracker cbiou-image     # box overlap alone
    .venv/bin/python bench/line_views.py --seeds 1 --views 1 4                          # cvlab2 and idiap1
    .venv/bin/python bench/line_views.py --split-above-m-s 10                           # no id jumps

`--tracker` replaces the shipped image tracker (C-BIoU asking the floor too) with C-BIoU on
box overlap alone, ByteTrack, or the library's OC-SORT or BoT-SORT (bench/library_trackers.py).

`--split-above-m-s 10` scores against the annotated ids split wherever one moves faster than
10 m/s (`tests/scene_truth.py` `split_fast_ids`): WILDTRACK's annotation puts one id on two
people's paths here and there, and the truth as annotated counts every line the jump crosses.
The truth only: the boxes, the lines and `--annotated-ids` keep the ids as annotated.

The stand-in detector's noise is a model of a detector, not one: PETS09 stays the measure of
real boxes; this bench measures how counting holds across camera geometries and crowds.
About 15 s a seed and view on one core at 10 fps.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fusion_accuracy import DEFAULT_CONFIG, detect  # noqa: E402
from bench.library_trackers import KINDS, image_tracker  # noqa: E402
from bench.wildtrack import (  # noqa: E402
    DEFAULT_DATASET,
    FPS,
    FRAME_SIZE_PX,
    VIEWS,
    AnnotatedFrame,
    camera_name,
    read_frames,
)
from edge.detector import Detected  # noqa: E402
from edge.pipeline import LOST_TRACK_S, CameraPipeline, Heartbeat  # noqa: E402
from edge.types import Detections, Frame  # noqa: E402
from footfall_core.geometry import CameraGeometry  # noqa: E402
from footfall_core.store import Line, StoreConfig, load_config  # noqa: E402
from tests.scene_truth import (  # noqa: E402
    AnnotatedIds,
    line_counts,
    line_score,
    line_table,
    random_lines,
    split_fast_ids,
    truth_messages,
)

START_S = 1_714_554_000.0  # the replay's first frame (any fixed time: buckets are reproducible)
LINE_INSIDE_PX = 20  # a line's ends stay this far inside the frame
GT_DTYPE = [(n, "f8") for n in ("frame", "id", "x", "y", "w", "h", "wx", "wy")]


class StandIn:
    """The stand-in detector as the pipeline's model: hands back the boxes set for the frame."""

    tiled, can_crop, nms_iou = False, False, 0.45

    def __init__(self) -> None:
        self.next = Detections(np.zeros((0, 4)), np.zeros(0))

    def __call__(self, image: np.ndarray, steps: object = None) -> Detected:
        return Detected(self.next, (), 1, 0, 0.0)


def upsampled(frames: list[AnnotatedFrame], per_interval: int) -> list[AnnotatedFrame]:
    """`per_interval` frames for each interval between two annotated ones (1: as annotated, at
    2 fps; 5: every frame of the 10 fps recording): the people annotated at both ends walk in a
    straight line from one to the other, with their boxes in the views that see them at both;
    the others are where the annotation has them, at the annotated frames only."""
    if per_interval == 1:
        return frames
    out = []
    for a, b in zip(frames, frames[1:], strict=False):
        both, ia, ib = np.intersect1d(a.person_id, b.person_id, return_indices=True)
        for j in range(per_interval):
            if j == 0:
                out.append(a)
                continue
            t = j / per_interval
            boxes = (1 - t) * a.boxes_px[ia] + t * b.boxes_px[ib]  # NaN where either end has none
            floor_m = (1 - t) * a.floor_m[ia] + t * b.floor_m[ib]
            index = a.index + round(t * (b.index - a.index))
            out.append(AnnotatedFrame(index, both, floor_m, boxes))
    return [*out, frames[-1]]


def view_scene(frames: list[AnnotatedFrame], view: int | None = None) -> np.ndarray:
    """The people `view` sees (None: everyone annotated, with no box), as `tests.gt.mot_gt`
    rows: annotated frame k is frame k + 1."""
    rows = []
    for k, frame in enumerate(frames):
        if view is None:
            boxes = np.full((len(frame.person_id), 4), np.nan)
            people = np.arange(len(frame.person_id))
        else:
            boxes = frame.boxes_px[:, view]
            people = np.flatnonzero(np.isfinite(boxes[:, 0]))
        for p in people:
            x0, y0, x1, y1 = boxes[p]
            wx, wy = frame.floor_m[p]
            rows.append((k + 1, frame.person_id[p], x0, y0, x1 - x0, y1 - y0, wx, wy))
    return np.array(rows, dtype=GT_DTYPE)


def inside_frame(geometry: CameraGeometry, floor_m: np.ndarray) -> np.ndarray:
    """(K,) bool: the floor points (K, 2) m the camera sees at least `LINE_INSIDE_PX` inside its
    frame (where an installer can draw a line's end on its image)."""
    width, height = FRAME_SIZE_PX
    px = geometry.floor_to_image(floor_m)
    with np.errstate(invalid="ignore"):  # NaN behind the camera: not seen
        return (
            (px >= LINE_INSIDE_PX).all(axis=1)
            & (px[:, 0] <= width - LINE_INSIDE_PX)
            & (px[:, 1] <= height - LINE_INSIDE_PX)
        )


def visible_lines(
    gt: np.ndarray, geometry: CameraGeometry, count: int, seed: int, length_m: tuple[float, float]
) -> list[Line]:
    """`count` random lines (`random_lines`, drawn in turn from one seed) whose ends the camera
    sees, at least `LINE_INSIDE_PX` inside its frame."""
    kept: list[Line] = []
    for draw in random_lines(gt, 50 * count, seed, length_m):
        if inside_frame(geometry, np.array([draw.start_m, draw.end_m])).all():
            kept.append(draw.model_copy(update={"name": f"s{seed}-{len(kept):02d}"}))
        if len(kept) == count:
            return kept
    raise SystemExit(f"seed {seed}: only {len(kept)} of {count} random lines fit in the frame")


@dataclass
class ViewScore:
    view: int
    seed: int
    accuracy: float
    truth: int
    abs_error: int
    ids_split: int | None  # annotated ids the truth split (`split_fast_ids`), None: not asked
    lines: tuple[Line, ...]  # the view's random lines
    truth_counts: dict[str, tuple[int, int]]  # (in, out) per line name, the annotated people's
    counted_counts: dict[str, tuple[int, int]]  # (in, out) per line name, the replay's


def replay_config(base: StoreConfig, fps: int, lines: list[Line], live_interval_s: float = 60) -> StoreConfig:
    """The store `base` replayed at `fps` with `lines` only (no zones): every camera analysed at
    `fps`, every frame (no motion gating, no adaptive rate), 10 s buckets, a live snapshot every
    `live_interval_s`."""
    analysis = base.analysis.model_copy(
        update={
            "fps": fps,
            "motion_gating": False,
            "adaptive_rate": False,
            "bucket_s": 10,
            "live_interval_s": live_interval_s,
        }
    )
    cameras = [camera.model_copy(update={"fps": fps}) for camera in base.cameras]
    return base.model_copy(update={"cameras": cameras, "lines": lines, "zones": [], "analysis": analysis})


def replay_view(
    config: StoreConfig,
    frames: list[AnnotatedFrame],
    view: int,
    seed: int,
    miss: float = 0.1,
    jitter: float = 0.05,
    gt: np.ndarray | None = None,
    tracker: str = "cbiou",
) -> list:
    """The messages of view `view` alone (a store of that one camera, `config`'s lines) over
    `frames`, its boxes from the stand-in detector seeded with (`seed`, `view`). `gt` (the
    view's people, `view_scene`): each box keeps its person's annotated id instead of the
    tracker's; else `tracker` (`bench.library_trackers.KINDS`) is the image tracker."""
    name = camera_name(view)
    fps = config.analysis.fps
    config = config.model_copy(update={"cameras": [config.camera(name)], "fusion": []})
    stand_in = StandIn()
    pipeline = CameraPipeline(config, name, detector=stand_in)
    track_timeout_s = config.analysis.track_timeout_s
    if gt is not None:
        pipeline.tracker = AnnotatedIds(gt, START_S, fps)
    elif (other := image_tracker(tracker, fps, min(LOST_TRACK_S, track_timeout_s))) is not None:
        pipeline.tracker = other
    rng = np.random.default_rng([seed, view])
    image = np.zeros((FRAME_SIZE_PX[1], FRAME_SIZE_PX[0], 3), np.uint8)  # the stages read its size only
    messages: list = []
    for k, frame in enumerate(frames):
        stand_in.next, _ = detect(frame, view, rng, miss, jitter)
        timestamp_s = START_S + k / fps
        messages += pipeline.aggregator.advance(timestamp_s)
        messages += pipeline._analyse(Frame(name, k, timestamp_s, image))
    messages += pipeline.aggregator.flush(START_S + (len(frames) - 1) / fps)
    return [m for m in messages if not isinstance(m, Heartbeat)]


def score_view(
    base: StoreConfig,
    frames: list[AnnotatedFrame],
    view: int,
    seed: int,
    fps: int,
    lines: int = 30,
    length_m: tuple[float, float] = (4.0, 8.0),
    miss: float = 0.1,
    jitter: float = 0.05,
    annotated_ids: bool = False,
    tracker: str = "cbiou",
    split_above_m_s: float | None = None,
) -> ViewScore:
    """One seeded replay of one view with its random lines, scored against its people; with
    `split_above_m_s`, against their ids split where they move faster (`split_fast_ids`: the
    truth only, not the boxes, the lines or the annotated ids)."""
    name = camera_name(view)
    gt = view_scene(frames, view)
    geometry = CameraGeometry.from_config(base.camera(name), FRAME_SIZE_PX)
    drawn = visible_lines(gt, geometry, lines, seed, length_m)
    config = replay_config(base, fps, drawn)
    messages = replay_view(config, frames, view, seed, miss, jitter, gt if annotated_ids else None, tracker)
    walkers, ids_split = (gt, None) if split_above_m_s is None else split_fast_ids(gt, fps, split_above_m_s)
    truth = truth_messages(config, name, walkers, START_S, len(frames))
    want, got = line_counts(truth), line_counts(messages)
    score = line_score(want, got, [line.name for line in drawn])
    return ViewScore(
        view, seed, score.accuracy, score.truth, score.abs_error, ids_split, tuple(drawn), want, got
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the WILDTRACK store")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--fps",
        type=int,
        default=10,
        choices=(2, 4, 6, 8, 10),
        help="frames a second analysed: 2 as annotated, more walk each person in a straight line "
        "between two annotated frames (default 10, the recording's rate)",
    )
    parser.add_argument(
        "--views",
        type=int,
        nargs="+",
        default=list(range(len(VIEWS))),
        help="views to replay (default all, 0-6)",
    )
    parser.add_argument("--lines", type=int, default=30, help="random lines per view and seed (default 30)")
    parser.add_argument("--length-m", type=float, nargs=2, default=(4.0, 8.0))
    parser.add_argument("--miss", type=float, default=0.1, help="share of boxes the detector misses")
    parser.add_argument("--jitter", type=float, default=0.05, help="box edge noise, share of its size")
    parser.add_argument(
        "--annotated-ids",
        action="store_true",
        help="each box keeps its person's annotated id instead of the tracker's (perfect tracking)",
    )
    parser.add_argument(
        "--tracker",
        choices=KINDS,
        default="cbiou",
        help="the image tracker (default cbiou, as shipped; cbiou-image: on image overlap alone)",
    )
    parser.add_argument(
        "--split-above-m-s",
        type=float,
        default=None,
        help="score against the annotated ids split wherever they move faster than this (m/s; "
        "tests/scene_truth.py split_fast_ids; default: the annotation as it is)",
    )
    parser.add_argument("--per-line", action="store_true", help="print every random line's counts")
    args = parser.parse_args()
    frames = upsampled(read_frames(args.dataset), args.fps // round(FPS))
    base = load_config(args.config)
    print(
        f"WILDTRACK {args.dataset}: {len(frames)} frames at {args.fps} fps, each view alone; stand-in "
        f"detector {args.miss:.0%} missed, edges jittered by {args.jitter:.0%}; {args.lines} lines "
        f"{args.length_m[0]:g}-{args.length_m[1]:g} m a view and seed"
    )
    scores = [
        score_view(
            base,
            frames,
            view,
            seed,
            args.fps,
            args.lines,
            tuple(args.length_m),
            args.miss,
            args.jitter,
            args.annotated_ids,
            args.tracker,
            args.split_above_m_s,
        )
        for seed in args.seeds
        for view in args.views
    ]
    for s in scores:
        print(
            f"seed {s.seed} {camera_name(s.view)}: line accuracy {s.accuracy:.1%} "
            f"(truth {s.truth} crossings, sum |error| {s.abs_error}"
            + ("" if s.ids_split is None else f"; {s.ids_split} annotated ids split")
            + ")"
        )
        if args.per_line:
            print(line_table(s.lines, s.truth_counts, s.counted_counts))
    for seed in args.seeds:
        of = [s for s in scores if s.seed == seed]
        truth, error = sum(s.truth for s in of), sum(s.abs_error for s in of)
        print(
            f"seed {seed}: all views {1 - error / truth:.1%} (truth {truth}), worst view "
            f"{min(s.accuracy for s in of):.1%}"
        )


if __name__ == "__main__":
    main()
