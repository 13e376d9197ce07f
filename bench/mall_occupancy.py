"""Mall occupancy as the acceptance test measures it, with any registered model.

tests/test_accuracy_mall.py replays examples/mall.yaml as shipped (its tiles where people are
small, its score threshold, the hidden people held) through the whole pipeline and compares the
`roi` zone's mean occupancy per 10 s bucket with the annotated head counts (counts.csv). This
bench runs the same replay with `--model` in place of the config's and prints the MAE and bias
over every bucket and over each half of the recording, and the model passes a frame: the tile
band follows the model, since `tiling.small_below_input_px` is in model input pixels and a
smaller input makes the same people smaller in a whole-frame pass.

    .venv/bin/python bench/mall_occupancy.py                                   # yolox_nano
    .venv/bin/python bench/mall_occupancy.py --model person_detector_192.onnx
    .venv/bin/python bench/mall_occupancy.py --dataset MALL_DIR --first 801 --last 2000

`--dataset` takes another copy of the Mall dataset (frames/seq_%06d.jpg and counts.csv), and
`--first`/`--last` a range of its frames: the replay starts at `--first` as the example does at
frame 1 (a fresh tracker, the first bucket at that frame), so held-out frames are measured the
same way. About a minute with yolox_nano for the 800 frames here, less with the 192 px model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import decoding_reader, run_pipeline
from bench.model_option import add_model_option, scores, with_model
from edge.detector import Detector
from edge.source import SourceError
from footfall_core.assets import assets_dir
from footfall_core.tiling import Tile
from tests.pipeline_runs import example
from tests.test_accuracy_mall import BUCKET_S, bucket_errors

CAMERA = "cam1"
ALL_FRAMES = 10**9  # the reader ends with the recording


def summary(errors: np.ndarray) -> str:
    """MAE and bias of per-bucket errors (people)."""
    return f"MAE {np.abs(errors).mean():.2f}, bias {errors.mean():+.2f} people ({len(errors)} buckets)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_option(parser)
    parser.add_argument(
        "--dataset",
        type=Path,
        default=assets_dir() / "datasets/mall_dev",
        help="a Mall folder with frames/seq_%%06d.jpg and counts.csv (default: the one here)",
    )
    parser.add_argument("--first", type=int, default=1, help="first frame number (default 1)")
    parser.add_argument("--last", type=int, help="last frame number (default: the recording's last)")
    args = parser.parse_args()
    if args.first < 1 or (args.last is not None and args.last < args.first):
        parser.error(f"--first {args.first} --last {args.last}: expected 1 <= first <= last")
    counts_csv = args.dataset / "counts.csv"
    if not counts_csv.is_file():
        sys.exit(f"error: {counts_csv}: no such file")
    config = with_model(example("mall", CAMERA, bucket_s=BUCKET_S), args.model, args.track_score)
    frames = str(args.dataset.resolve() / "frames/seq_%06d.jpg")
    cameras = [c.model_copy(update={"source": frames, "start_index": args.first}) for c in config.cameras]
    config = config.model_copy(update={"cameras": cameras})
    camera = config.camera(CAMERA)
    detector = Detector.for_camera(camera, config)
    count = ALL_FRAMES if args.last is None else args.last - args.first + 1
    try:
        run = run_pipeline(config, CAMERA, decoding_reader(config, CAMERA, count), detector, stages=False)
    except (OSError, SourceError) as exc:
        sys.exit(f"error: {exc}")
    errors = bucket_errors(
        SimpleNamespace(config=config, messages=run.messages), counts_csv, args.first, args.last
    )
    width_px, height_px = run.frame_size_px or (0, 0)
    passes = detector.passes(width_px, height_px)
    tiles = [tile for tile in passes if tile != Tile.whole(width_px, height_px)]
    print(
        f"mall {CAMERA}, {config.detector.model} at {scores(config.detector)}, "
        f"{run.frames} frames: {len(passes)} model passes a frame, tiles "
        f"{' '.join(f'x {t.x0}-{t.x1} y {t.y0}-{t.y1}' for t in tiles) or 'none'}"
        f"{f' every {camera.tiling.tiles_every} frames' if camera.tiling and tiles else ''}"
    )
    print(f"roi occupancy per {BUCKET_S} s bucket, all frames: {summary(errors)}")
    frames_per_bucket = round(BUCKET_S * camera.fps) if camera.fps else 0
    first, end = args.first, args.first + run.frames - 1
    for half in (h for h in np.array_split(errors, 2) if len(h)):
        last = min(first + len(half) * frames_per_bucket - 1, end)
        print(f"frames {first}-{last}: {summary(half)}")
        first = last + 1


if __name__ == "__main__":
    main()
