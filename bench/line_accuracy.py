"""Line counts over families of random lines, zone occupancy and heat, against a scene's
annotated floor trajectories.

A scene is a recording with a MOTChallenge 2015 gt.txt that carries each person's floor
position (`wx, wy`, metres) and a store config whose floor frame is that of `wx, wy` (PETS09
and examples/pets09.yaml by default). For each seed, `--lines` counting lines are drawn at
random (`--length-m` long, uniform; centred on annotated floor positions; random angle); the
config's own lines are kept beside them. The pipeline replays the recording ONCE with every
line in the config; the truth is the annotated people fed through the same analytics
(tests/scene_truth.py: the same hysteresis, the crossing within the segment, the same zones
and heat cells). Printed: each line's in/out counted against the truth, each seed's line
accuracy (1 − Σ|error| / Σ truth, over both directions of every line), each config line,
each zone's occupancy error per bucket, heat r (over the cells either side has).

    .venv/bin/python bench/line_accuracy.py                       # PETS09, seeds 1 2 3
    .venv/bin/python bench/line_accuracy.py --seeds 4 5 6 --half second
    .venv/bin/python bench/line_accuracy.py --fps 3.5              # every other PETS09 frame
    .venv/bin/python bench/line_accuracy.py --annotated-ids        # the tracker's share of the error
    .venv/bin/python bench/line_accuracy.py --fps 3.5 --tracker ocsort  # another image tracker
    .venv/bin/python bench/line_accuracy.py --model person_detector_192.onnx  # another model
    .venv/bin/python bench/line_accuracy.py --track-score 0.1  # low boxes continue tracks
    .venv/bin/python bench/scene_config.py VIDEO gt/gt.txt --out STORE.yaml  # a recording of your own
    .venv/bin/python bench/line_accuracy.py --config STORE.yaml --camera NAME --gt gt/gt.txt [--video REC]

`--half first|second` scores only the buckets of that half of the recording (the replay is
the same), for choosing settings on one half and reporting on the other. About 30-60 s for
PETS09's 795 frames.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import decoding_reader, run_pipeline
from bench.library_trackers import KINDS, image_tracker
from bench.model_option import add_model_option, scores, with_model
from bench.scene_config import Refusal, recording
from edge.detector import Detector
from edge.pipeline import LOST_TRACK_S, recording_config
from footfall_core.assets import REPO_ROOT, assets_dir
from footfall_core.store import load_config
from tests.gt import mot_gt
from tests.pipeline_runs import START
from tests.scene_truth import (
    AnnotatedIds,
    heat_r,
    line_counts,
    line_score,
    line_table,
    occupancy_errors,
    random_lines,
    truth_messages,
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", type=Path, default=REPO_ROOT / "examples/pets09.yaml", help="store config"
    )
    parser.add_argument(
        "--camera", help="camera of the config that saw the scene (default: the config's only camera)"
    )
    parser.add_argument(
        "--gt",
        type=Path,
        default=assets_dir() / "datasets/pets09_s2l1/gt/gt.txt",
        help="MOTChallenge 2015 gt.txt with wx, wy in the config's floor frame",
    )
    parser.add_argument(
        "--video",
        type=Path,
        help="the recording, a video file or an image sequence as bench/scene_config.py takes it "
        "(default: the camera's source in the config)",
    )
    parser.add_argument("--lines", type=int, default=30, help="random lines per seed (default 30)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds (default 1 2 3)")
    parser.add_argument(
        "--length-m", type=float, nargs=2, default=(4.0, 8.0), help="line length range, m (default 4 8)"
    )
    parser.add_argument("--bucket-s", type=int, default=10, help="bucket for zone occupancy (default 10 s)")
    parser.add_argument("--frames", type=int, help="replay only the first N frames (default: all)")
    parser.add_argument(
        "--fps", type=float, help="analyse this many frames a second (default: the config's analysis.fps)"
    )
    parser.add_argument("--half", choices=("first", "second"), help="score only this half's buckets")
    parser.add_argument("--per-line", action="store_true", help="print every random line's counts")
    parser.add_argument(
        "--annotated-ids",
        action="store_true",
        help="give each detected box the id of the annotated box it overlaps most instead of the "
        "tracker's (what perfect tracking would count with the same boxes)",
    )
    parser.add_argument(
        "--tracker",
        choices=KINDS,
        default="cbiou",
        help="the image tracker (default cbiou, as shipped; cbiou-image: on image overlap alone)",
    )
    add_model_option(parser)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    try:  # ConfigError is a ValueError naming the file and key
        base = with_model(load_config(args.config), args.model, args.track_score)
        gt = mot_gt(args.gt, floor=True)
    except ValueError as exc:
        sys.exit(str(exc))
    if args.camera is None:
        names = [camera.name for camera in base.cameras]
        if len(names) != 1:
            sys.exit(
                f"{args.config}: {len(names)} cameras ({', '.join(names)}): "
                "say which saw the scene with --camera"
            )
        args.camera = names[0]
    elif args.camera not in {camera.name for camera in base.cameras}:
        sys.exit(f"{args.config}: no camera named {args.camera!r} (--camera)")
    families = {seed: random_lines(gt, args.lines, seed, tuple(args.length_m)) for seed in args.seeds}
    lines = list(base.lines) + [line for family in families.values() for line in family]
    try:
        source = None if args.video is None else str(recording(args.video))
    except Refusal as exc:
        sys.exit(f"error: {exc}")
    config = recording_config(base, args.camera, source=source, start=START)
    analysis = {"bucket_s": args.bucket_s} | ({"fps": args.fps} if args.fps else {})
    config = config.model_copy(
        update={"lines": lines, "analysis": config.analysis.model_copy(update=analysis)}
    )
    camera = config.camera(args.camera)
    detector = Detector.for_camera(camera, config)
    start_s = datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp()
    a = config.analysis
    tracker = (
        AnnotatedIds(gt, start_s, camera.fps)
        if args.annotated_ids
        else image_tracker(args.tracker, a.fps, min(LOST_TRACK_S, a.track_timeout_s))
    )
    reader = decoding_reader(config, camera.name, args.frames or 10**9)
    run = run_pipeline(config, camera.name, reader, detector, False, tracker)
    truth = truth_messages(config, camera.name, gt[gt["frame"] <= run.frames], start_s, run.frames)

    window, scope = None, f"all {run.frames} frames"
    if args.half:
        middle_s = start_s + run.frames / camera.fps / 2
        middle_s = start_s + round((middle_s - start_s) / args.bucket_s) * args.bucket_s
        window = (start_s, middle_s) if args.half == "first" else (middle_s, float("inf"))
        first = 1 + round((window[0] - start_s) * camera.fps)
        last = run.frames if args.half == "second" else round((middle_s - start_s) * camera.fps)
        scope = f"{args.half} half: frames {first}-{last} ({args.bucket_s} s buckets)"
    want, got = line_counts(truth, window), line_counts(run.messages, window)

    print(
        f"scene {args.gt} ({len(np.unique(gt['id']))} people), config {args.config} camera {camera.name}, "
        f"{config.detector.model} at {scores(config.detector)}, "
        f"{'annotated ids, ' if args.annotated_ids else ''}{scope}; "
        f"lines {args.length_m[0]:g}-{args.length_m[1]:g} m centred on annotated positions"
    )
    for seed, family in families.items():
        if args.per_line:
            print(line_table(family, want, got))
        score = line_score(want, got, [line.name for line in family])
        print(
            f"seed {seed}: {score.lines} lines, line accuracy {score.accuracy:.1%} (truth {score.truth} "
            f"crossings, counted {score.counted}, sum |error| {score.abs_error})",
            flush=True,
        )
    for line in base.lines:
        (a, b), (c, d) = want.get(line.name, (0, 0)), got.get(line.name, (0, 0))
        print(f"config line {line.name}: in {c} (truth {a}), out {d} (truth {b})")
    for zone in config.zones:
        errors, means = occupancy_errors(truth, run.messages, zone.name, window)
        if len(errors):
            print(
                f"zone {zone.name}: occupancy per {args.bucket_s} s bucket MAE {np.abs(errors).mean():.2f}, "
                f"bias {errors.mean():+.2f} people (truth mean {means.mean():.2f}, {len(errors)} buckets)"
            )
    print(f"heat r {heat_r(truth, run.messages, window):.3f} ({config.analysis.cell_m:g} m cells)")


if __name__ == "__main__":
    main()
