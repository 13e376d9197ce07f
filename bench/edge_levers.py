"""The speed levers beyond the detector (motion gating, adaptive rate, tiles on every n-th frame;
edge.gating), each run
through the whole pipeline on real footage, decode included, with its speed, the detector's
model passes run and skipped, the model input pixels it computed (against no lever: motion
gating on an untiled camera runs the model on crops of the changed part, "motion, whole" on
the whole frame whenever anything changed), and its accuracy against the ground truth, for
bench/edge_speed.py (or alone: `.venv/bin/python bench/edge_levers.py --help`).

Scenes: PETS09-S2L1 (people walk through the whole clip), the same clip after a stretch of
its empty walkway (tests/quiet_clip.py: what a shop looks like between customers), the clip
in 2×2 tiles (none or motion gating only: with tiles, motion gating skips the passes of the
tiles whose picture is still, "where"), the clip in Mall's tiling (2 tiles over the rows
where people are under 45 model px, plus a whole-frame pass: "tiles every 2" runs the tiles on
every other frame, and the line counts tell what that does to tracks), and Mall (crowded all
the time; its example tiles its far rows, plus a whole-frame pass). Accuracy: on PETS09 the
walkway line's in/out counts
against the crossings of the annotated trajectories, and the Pearson r of the 1 m heat grid
against the annotated positions; on Mall the ROI occupancy MAE per 10 s bucket against
counts.csv (the acceptance tests' own measures, tests/test_accuracy_*.py)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import PipelineRun, decoding_reader, run_pipeline
from edge.analytics import Heatmap
from edge.detector import Detector
from edge.types import FloorObservation
from footfall_core.assets import assets_dir
from footfall_core.store import StoreConfig, Tiling
from tests.gt import PETS_FPS, pets09_gt
from tests.pipeline_runs import example
from tests.quiet_clip import quiet_config, write_quiet_clip
from tests.scene_truth import line_counts, truth_messages
from tests.test_accuracy_mall import bucket_errors

HEAT_CELL_M = 1.0  # as tests/test_accuracy_pets09.py
MALL_BUCKET_S = 10  # as tests/test_accuracy_mall.py
LEVERS_MODEL_NOTE = (
    "each example's own detector settings: yolox_nano.onnx, Mall in 2 tiles over its far rows "
    "+ one whole-frame pass; PETS09 2x2 tiles: 4 passes a frame"
)
TILED_PETS = "pets09 2x2 tiles"
TILES_2X2 = Tiling(cols=2, rows=2, overlap=0.2)
BAND_PETS = "pets09 band tiles"  # Mall's tiling on PETS09: its far rows, where the line's walkers are small
BAND = Tiling(cols=2, rows=1, overlap=0.2, small_below_input_px=45)
# motion gating is on by default, and Mall's example runs its tiles on every other frame: off here
NO_LEVER = {"motion_gating": False, "adaptive_rate": False, "tiles_every": 1}
LEVERS: dict[str, dict[str, bool | int]] = {
    "none": {},
    "motion gating": {"motion_gating": True},  # on an untiled camera: crops of the changed part
    "motion, whole": {"motion_gating": True, "motion_crop": False},  # whole frames whenever anything changed
    "adaptive rate": {"adaptive_rate": True},
    "both": {"motion_gating": True, "adaptive_rate": True},
}
UNTILED = tuple(LEVERS)  # the levers that apply to a camera without tiling
LEVERS |= {
    "tiles every 2": {"tiles_every": 2},  # a tiling with a whole-frame pass: its tiles on every other frame
    "tiles 2, motion": {"tiles_every": 2, "motion_gating": True},  # Mall as shipped
}


@dataclass(frozen=True)
class Scene:
    name: str
    config: StoreConfig
    camera: str
    frames: int  # frames to read from the source
    clip_frames: int  # of which frames of the annotated recording (the ground truth to compare)
    levers: tuple[str, ...] = UNTILED  # the first is the one the others are compared with


@dataclass(frozen=True)
class LeverRun:
    scene: str
    lever: str
    run: PipelineRun
    passes_run: int  # model passes (a tile, or the whole frame)
    passes_skipped: int  # of the analysed frames' passes, those whose people were re-used
    input_px: int  # model input pixels of the passes run (crops run on fewer)
    accuracy: str  # against the ground truth, printable
    counts: tuple[float, ...]  # the figures the levers must keep within 2 % of "none"


def with_analysis(config: StoreConfig, **analysis) -> StoreConfig:
    return config.model_copy(update={"analysis": config.analysis.model_copy(update=analysis)})


def with_levers(config: StoreConfig, **levers) -> StoreConfig:
    """`config` with these `LEVERS` settings: `tiles_every` on every tiled camera, the rest
    in `analysis`."""
    tiles_every = levers.pop("tiles_every", None)
    config = with_analysis(config, **levers)
    if tiles_every is None:
        return config
    cameras = [
        c.model_copy(update={"tiling": c.tiling.model_copy(update={"tiles_every": tiles_every})})
        if c.tiling is not None
        else c
        for c in config.cameras
    ]
    return config.model_copy(update={"cameras": cameras})


def without_levers(config: StoreConfig) -> StoreConfig:
    """`config` with no lever on: every analysed frame runs every model pass, whole."""
    return with_levers(config, **NO_LEVER)


def with_tiling(config: StoreConfig, camera: str, tiling: Tiling) -> StoreConfig:
    cameras = [c.model_copy(update={"tiling": tiling}) if c.name == camera else c for c in config.cameras]
    return config.model_copy(update={"cameras": cameras})


def scenes(
    workdir: Path, pets_frames: int | None, empty_s: float, mall_frames: int | None, quiet: bool = True
) -> list[Scene]:
    """The scenes above; `None` frames = the whole recording, `pets_frames=0` or `mall_frames=0`
    leaves those out, `quiet=False` the quiet clip."""
    out = []
    if pets_frames != 0:
        pets = example("pets09", "view001", cell_m=HEAT_CELL_M)
        clip = pets_frames or 795
        out.append(Scene("pets09", pets, "view001", clip, clip))
        if quiet:
            pattern, empty = write_quiet_clip(assets_dir(), workdir / "quiet", empty_s, pets_frames)
            out.append(
                Scene(
                    f"pets09 after {empty_s:g} s empty",
                    quiet_config(pets, "view001", pattern),
                    "view001",
                    clip + empty,
                    clip,
                )
            )
        out.append(
            Scene(
                TILED_PETS,
                with_tiling(pets, "view001", TILES_2X2),
                "view001",
                clip,
                clip,
                ("none", "motion gating"),
            )
        )
        out.append(
            Scene(
                BAND_PETS,
                with_tiling(pets, "view001", BAND),
                "view001",
                clip,
                clip,
                ("none", "tiles every 2", "tiles 2, motion"),
            )
        )
    if mall_frames != 0:
        mall = example("mall", "cam1", bucket_s=MALL_BUCKET_S)
        out.append(
            Scene(
                "mall",
                mall,
                "cam1",
                mall_frames or 800,
                mall_frames or 800,  # tiled: no crops
                ("none", "motion gating", "adaptive rate", "both", "tiles every 2", "tiles 2, motion"),
            )
        )
    return out


def of_kind(run: PipelineRun, kind: str) -> list:
    """The run's aggregates of one kind (grid, zones, lines, flows, health)."""
    return [m for m in run.messages if getattr(m, "kind", None) == kind]


def pets_accuracy(run: PipelineRun, config: StoreConfig, clip_frames: int) -> tuple[str, tuple[float, ...]]:
    """Line in/out against the annotated trajectories' crossings (counted by the same analytics,
    tests/scene_truth.py) and heat r against the annotated positions, of the first
    `clip_frames` frames."""
    gt = pets09_gt(assets_dir())
    gt = gt[gt["frame"] <= clip_frames]
    [line] = config.lines
    truth_in, truth_out = line_counts(truth_messages(config, "view001", gt, 0.0, clip_frames))[line.name]
    counted_in = sum(c.in_count for m in of_kind(run, "lines") for c in m.lines)
    counted_out = sum(c.out_count for m in of_kind(run, "lines") for c in m.lines)
    plan = config.floor_plan
    truth = Heatmap(plan, HEAT_CELL_M)
    for frame in np.unique(gt["frame"]):
        rows = gt[gt["frame"] == frame]
        truth.observe(
            FloorObservation(
                0.0, 1 / PETS_FPS, np.stack([rows["wx"], rows["wy"]], 1), np.zeros(len(rows), np.int64)
            )
        )
    truth_cells = {(ix, iy): s for ix, iy, s in truth.collect()}
    ours: dict[tuple[int, int], float] = {}
    for message in of_kind(run, "grid"):
        for ix, iy, person_s in message.cells:
            ours[ix, iy] = ours.get((ix, iy), 0.0) + person_s
    keys = sorted(set(truth_cells) | set(ours))
    r = np.corrcoef([ours.get(k, 0.0) for k in keys], [truth_cells.get(k, 0.0) for k in keys])[0, 1]
    person_s = sum(ours.values())
    text = (
        f"line in {counted_in}/{truth_in} out {counted_out}/{truth_out}, heat r {r:.3f}, "
        f"{person_s:.0f}/{sum(truth_cells.values()):.0f} person-s"
    )
    return text, (counted_in, counted_out, person_s)


def mall_accuracy(run: PipelineRun, config: StoreConfig, clip_frames: int) -> tuple[str, tuple[float, ...]]:
    """ROI occupancy MAE per bucket against counts.csv, and the mean ROI occupancy."""
    errors = bucket_errors(
        SimpleNamespace(config=config, messages=run.messages), assets_dir() / "datasets/mall_dev/counts.csv"
    )
    occupancy = [z.mean_occupancy for m in of_kind(run, "zones") for z in m.zones]
    mae = np.abs(errors).mean()
    text = f"roi occupancy MAE {mae:.2f} per {MALL_BUCKET_S} s bucket, {len(errors)} buckets"
    return text, (float(np.mean(occupancy)),)


def run_levers(scene: Scene, rounds: int = 1) -> list[LeverRun]:
    """The scene's levers, with one detector (the levers do not change it), in `rounds`
    interleaved rounds, each lever's fastest run kept (the results are the same)."""
    detector = Detector.for_camera(scene.config.camera(scene.camera), scene.config)
    best: dict[str, LeverRun] = {}
    for _ in range(rounds):
        for lever in scene.levers:
            config = with_levers(scene.config, **{**NO_LEVER, **LEVERS[lever]})
            reader = decoding_reader(config, scene.camera, scene.frames)
            ran_before, px_before = detector.passes_run, detector.input_px_run
            run = run_pipeline(config, scene.camera, reader, detector, stages=False)
            passes_run = detector.passes_run - ran_before
            analysed = sum(m.frames_analysed for m in of_kind(run, "health"))
            score = mall_accuracy if scene.name == "mall" else pets_accuracy
            text, counts = score(run, config, scene.clip_frames)
            if lever not in best or run.fps > best[lever].run.fps:
                best[lever] = LeverRun(
                    scene.name,
                    lever,
                    run,
                    passes_run,
                    analysed * len(detector.passes(*run.frame_size_px)) - passes_run,
                    detector.input_px_run - px_before,
                    text,
                    counts,
                )
    return [best[lever] for lever in scene.levers]


def count_change(counts: tuple[float, ...], base: tuple[float, ...]) -> float:
    """The largest relative change of any of `counts` against `base`."""
    return max(abs(c - b) / max(abs(b), 1e-9) for c, b in zip(counts, base, strict=True))


def worst_change(runs: list[LeverRun]) -> dict[str, float]:
    """Per lever, the largest relative change of any count against the run without levers."""
    return {r.lever: count_change(r.counts, runs[0].counts) for r in runs}


def lever_table(
    pets_frames: int | None, empty_s: float, mall_frames: int | None, quiet: bool = True, rounds: int = 1
) -> list[LeverRun]:
    """Runs every scene × lever (see `scenes`) and prints one row each; returns the runs."""
    print(f"\n## Levers (whole pipeline, decode included, {LEVERS_MODEL_NOTE}; best of {rounds})")
    print(
        f"{'scene':24s} {'lever':14s} {'frames':>6s} {'det runs':>8s} {'passes':>6s} {'skipped':>7s} "
        f"{'input px':>8s} {'fps/core':>8s} {'speed-up':>8s} {'cams@5fps':>9s} {'max Δcount':>10s}  "
        "accuracy vs ground truth"
    )
    all_runs: list[LeverRun] = []
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as workdir:
        for scene in scenes(Path(workdir), pets_frames, empty_s, mall_frames, quiet):
            runs = run_levers(scene, rounds)
            change = worst_change(runs)
            for r in runs:
                print(
                    f"{r.scene:24s} {r.lever:14s} {r.run.frames:6d} {r.run.detector_runs:8d} "
                    f"{r.passes_run:6d} {r.passes_skipped:7d} {r.input_px / runs[0].input_px:8.0%} "
                    f"{r.run.fps:8.1f} "
                    f"{r.run.fps / runs[0].run.fps:7.2f}x {r.run.fps / 5:9.1f} "
                    f"{change[r.lever]:9.1%}  {r.accuracy}",
                    flush=True,
                )
            all_runs += runs
    return all_runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pets-frames", type=int, help="first PETS09 frames (default all 795; 0: none)")
    parser.add_argument("--mall-frames", type=int, help="first Mall frames (default all 800; 0: none)")
    parser.add_argument("--empty-s", type=float, default=60, help="empty walkway before the quiet clip, s")
    parser.add_argument("--no-quiet", action="store_true", help="leave the quiet clip out")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds, best fps kept (default 1)")
    args = parser.parse_args()
    lever_table(args.pets_frames, args.empty_s, args.mall_frames, quiet=not args.no_quiet, rounds=args.rounds)


if __name__ == "__main__":
    main()
