"""Occupancy in a crowd with the people expected behind those found, from the geometry alone.

In a crowd the detector gives no box to many people standing behind others (Mall: the bucket
error falls as the crowd grows, docs/accuracy.md "Mall occupancy"). This bench tries an
estimate of them that nothing is fitted in, per frame and zone:

- the zone's floor, in cells of `--cell` metres (those whose centre the camera sees: in the
  frame, below the horizon), each with the box of a person standing on it: the calibration's
  standing height there (`tiling.person_height_m`, as `edge.tiles.standing_height_px`) and
  `WIDTH_SHARE` of that wide;
- a cell is hidden when a box found in the frame whose bottom is lower in the image (feet
  nearer the camera) and whose feet are more than `APART_M` from the cell (not the person's own
  spot) covers more than `COVERED` of that standing box (`--union`: the boxes in front
  together, the standing box sampled at 3 x 6 points);
- the people expected there: the zone's people found per visible floor m² (the zone's seen
  area less its hidden area) × its hidden m² × the share of people more than 60 % hidden a
  detector misses, `1 - FOUND_HIDDEN` (TUD-Campus, docs/accuracy.md "Partly hidden people at
  eye level": 35 % found);
- occupancy = people found + people expected hidden.

Mall (`examples/mall.yaml`, its tiles on every frame, its score threshold and NMS, the boxes of
`bench/occupancy_variants.py`'s cache when `--cache` names one): the `roi` zone's 10 s bucket
MAE and bias on frames 1-400, 401-800 and all, found only and with the expected hidden people,
and the slope and r of the bucket error against the annotated count. PETS09 (`--pets09`,
`examples/pets09.yaml`, one whole-frame pass at its score threshold): each zone's 10 s bucket
MAE against the annotated floor positions in it, found only and with the expected hidden: a
sparse scene where few people are hidden, where the estimate should change little. It also
prints the estimate's cost a frame (median wall µs). `--cell` and `--apart` take several values,
each run in turn; PETS09's boxes are cached in `--cache` too.

`--shipped`: the same estimate on top of the shipped pipeline instead (the example as shipped:
its tiles every `tiles_every` frames, the tracker, and the people it holds behind someone in
front, `analysis.hidden_hold_s`, `edge.hidden`), whose occupancy already counts the held people.
Each frame's boxes found and held are taken from the replay (kept in `--cache`), and the
occupancy is printed as shipped (found + held), with the expected hidden added as they are
(the held counted twice), and with each rule that keeps the held from being counted twice:
(a) the zone's expected hidden less the held people in the zone, at least 0; (b) the floor
cells within `--apart` of a held person's feet are theirs, not hidden, and the held people count
as found in the zone's density. Mall prints the pipeline's own 10 s figure beside them (the
acceptance test's), PETS09 (`--pets09`) each zone against its annotated floor positions on the
frames analysed. Mall first prints where the annotated heads no box holds are
(`missed_spots`): how many of them are on the few spots where somebody stays missed.

    .venv/bin/python bench/occupancy_hidden_area.py [--cache DIR] [--pets09] [--union]
        [--cell M ...] [--apart M ...] [--frames N] [--shipped]

About a minute for Mall's 800 frames without a cache (the detector), a few seconds with one;
PETS09 adds half a minute without. `--shipped` replays the pipeline once per dataset (about a
minute for Mall, half a minute for PETS09) and then takes a few seconds with `--cache`.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple
from unittest import mock

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import decoding_reader, run_pipeline
from bench.occupancy_misses import bucket_errors, people
from bench.occupancy_variants import Scene
from edge.detector import Detector
from edge.pipeline import CameraPipeline
from edge.tiles import standing_height_px
from edge.types import FloorObservation, Frame, Tracks
from footfall_core.assets import REPO_ROOT, assets_dir
from footfall_core.floor import ZoneMap
from footfall_core.geometry import CameraGeometry
from footfall_core.store import StoreConfig, Tiling, load_config
from tests.pipeline_runs import START, example
from tests.test_accuracy_mall import bucket_errors as test_bucket_errors

WIDTH_SHARE = 0.4  # a standing person's box width as a share of their height
COVERED = 0.6  # a standing box more than this share inside one box in front: mostly hidden
FOUND_HIDDEN = 0.35  # share of people more than 60 % hidden a detector finds (TUD-Campus)
APART_M = 0.5  # a body's width: nearer than this to someone's feet is their own spot
BUCKET_S = 10
HEAD_ABOVE_PX = 5  # a head point this far above a box still belongs to it
SPOT_PX = 10  # side of the image squares over which missed heads are tallied
STILL_SHARE = 0.125  # somebody missed on a spot this share of the frames or more stays put there


class Recorded(NamedTuple):
    """One analysed frame of the shipped pipeline: its 0-based index in the recording, the boxes
    found (M, 4) px and the boxes of the people held as hidden (H, 4) px."""

    index: int
    found: np.ndarray
    held: np.ndarray


class HiddenFloor:
    """The zones' floor cells as one camera sees them, and the people expected hidden there."""

    def __init__(
        self,
        geometry: CameraGeometry,
        polygons: Sequence[Sequence[tuple[float, float]]],
        size_px: tuple[int, int],
        person_height_m: float,
        cell_m: float,
        apart_m: float = APART_M,
        covered: float = COVERED,
        union: bool = False,
    ) -> None:
        points = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polygons])
        lo, hi = points.min(axis=0), points.max(axis=0)
        xs = np.arange(lo[0] + cell_m / 2, hi[0], cell_m)
        ys = np.arange(lo[1] + cell_m / 2, hi[1], cell_m)
        floor = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        self.zones = ZoneMap(polygons)
        member = self.zones.inside(floor)
        floor, member = floor[member.any(axis=1)], member[member.any(axis=1)]
        feet = geometry.floor_to_image(floor)
        height = standing_height_px(geometry, feet, person_height_m)
        width_px, height_px = size_px
        seen = (
            np.isfinite(height)
            & (height > 0)
            & (feet[:, 0] >= 0)
            & (feet[:, 0] <= width_px)
            & (feet[:, 1] >= 0)
            & (feet[:, 1] <= height_px + 1)
        )
        self.floor = floor[seen]
        self.member = member[seen].astype(np.float64)  # (N, Z)
        feet, height = feet[seen], height[seen]
        half = WIDTH_SHARE * height / 2
        self.box = np.column_stack([feet[:, 0] - half, feet[:, 1] - height, feet[:, 0] + half, feet[:, 1]])
        self.least = covered * (2 * half) * height  # (N,) covered px² that hides a cell
        self.cell_m2 = cell_m * cell_m
        self.seen_m2 = self.member.sum(axis=0) * self.cell_m2  # (Z,)
        self.apart_m2 = apart_m * apart_m
        self.geometry = geometry
        self.covered = covered
        self.union = union
        # for `union`: each standing box sampled at the centres of a 3 x 6 grid (x, y in px)
        u, v = (np.arange(3) + 0.5) / 3, (np.arange(6) + 0.5) / 6
        sx, sy = (a.ravel() for a in np.meshgrid(u, v))
        self.samples_x = self.box[:, 0:1] + sx * (self.box[:, 2:3] - self.box[:, 0:1])  # (N, S)
        self.samples_y = self.box[:, 1:2] + sy * (self.box[:, 3:4] - self.box[:, 1:2])

    def hidden_cells(self, xyxy: np.ndarray, feet_m: np.ndarray) -> np.ndarray:
        """(N,) bool: cells hidden behind one of the boxes `xyxy` (M, 4) px, feet `feet_m` (M, 2)."""
        if len(xyxy) == 0:
            return np.zeros(len(self.box), bool)
        box = self.box
        nearer = xyxy[None, :, 3] > box[:, None, 3]
        apart = ((self.floor[:, None, :] - feet_m[None, :, :]) ** 2).sum(axis=2) > self.apart_m2
        if self.union:  # covered by the boxes in front together
            front = nearer & apart  # (N, M)
            x, y = self.samples_x[:, :, None], self.samples_y[:, :, None]
            inside = (
                (x >= xyxy[None, None, :, 0])
                & (x <= xyxy[None, None, :, 2])
                & (y >= xyxy[None, None, :, 1])
                & (y <= xyxy[None, None, :, 3])
                & front[:, None, :]
            )
            share: np.ndarray = inside.any(axis=2).mean(axis=1) > self.covered
            return share
        wide = np.clip(
            np.minimum(box[:, None, 2], xyxy[None, :, 2]) - np.maximum(box[:, None, 0], xyxy[None, :, 0]),
            0,
            None,
        )
        tall = np.clip(box[:, None, 3] - np.maximum(box[:, None, 1], xyxy[None, :, 1]), 0, None)
        hidden: np.ndarray = (nearer & apart & (wide * tall > self.least[:, None])).any(axis=1)
        return hidden

    def expected(
        self,
        xyxy: np.ndarray,
        found_share: float = FOUND_HIDDEN,
        held_xyxy: np.ndarray | None = None,
        rule: str = "minus",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Z,) people found in each zone, (Z,) its hidden floor m² and (Z,) the people expected
        hidden there, for the frame's boxes `xyxy` (M, 4) px. With the tracker's held people
        `held_xyxy` (H, 4) px, who are counted already, `rule` keeps them from being counted
        twice: "minus", the expected hidden less the held people in the zone, at least 0;
        "spot", the cells within `apart_m` of a held person's feet are theirs, not hidden floor,
        and the held people count as found in the zone's density. The found people returned
        never include the held."""
        feet_m = self.feet_m(xyxy)
        cells = self.hidden_cells(xyxy, feet_m)
        found = self.zones.inside(feet_m).sum(axis=0).astype(np.float64)
        held = np.zeros_like(found)
        if held_xyxy is not None and len(held_xyxy):
            held_m = self.feet_m(held_xyxy)
            held = self.zones.inside(held_m).sum(axis=0).astype(np.float64)
            if rule == "spot":
                near = ((self.floor[:, None, :] - held_m[None, :, :]) ** 2).sum(axis=2) <= self.apart_m2
                cells = cells & ~near.any(axis=1)
        hidden_m2 = cells @ self.member * self.cell_m2
        visible = np.maximum(self.seen_m2 - hidden_m2, self.cell_m2)
        if rule == "spot":
            return found, hidden_m2, (found + held) / visible * hidden_m2 * (1 - found_share)
        return found, hidden_m2, np.maximum(found / visible * hidden_m2 * (1 - found_share) - held, 0.0)

    def feet_m(self, xyxy: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0, 2))
        feet = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        floor: np.ndarray = self.geometry.image_to_floor(feet)
        return floor


def summary(errors: np.ndarray) -> str:
    return f"MAE {np.abs(errors).mean():.2f} (bias {errors.mean():+.2f})"


def by_half(errors: np.ndarray, per_bucket: int) -> str:
    """The buckets' errors on each half of the frames and on all of them."""
    first, second = np.array_split(errors, 2)
    middle = len(first) * per_bucket
    return (
        f"frames 1-{middle} {summary(first)}, {middle + 1}-{len(errors) * per_bucket} {summary(second)}, "
        f"all {summary(errors)}"
    )


def slope(errors: np.ndarray, truth: np.ndarray) -> str:
    fit = np.polyfit(truth, errors, 1)
    r = np.corrcoef(truth, errors)[0, 1]
    return f"slope {fit[0]:+.3f} people per extra person (r {r:+.2f})"


def mall(args: argparse.Namespace) -> None:
    cached = args.cache is not None and (args.cache / "shipped-yolox_nano.onnx-plain.pkl").exists()
    # a cache holds every frame: only a run over every frame writes one
    scene = Scene(args.dataset, args.cache if cached or args.frames is None else None)
    scene.frames = scene.frames[: args.frames]
    detector = scene.config.detector
    size = (scene.width_px, scene.height_px)
    frames = scene.passes("shipped")[: args.frames]
    counts = scene.counts[: len(frames)]
    polygon = next(z.polygon_m for z in scene.config.zones if z.name == "roi")
    height_m = (scene.camera.tiling or Tiling()).person_height_m
    per_bucket = round(BUCKET_S * scene.camera.fps)
    truth = counts[: len(counts) // per_bucket * per_bucket].reshape(-1, per_bucket).mean(axis=1)
    boxes = [people(p, detector.score_threshold, detector.nms_iou, size) for p in frames]
    print(
        f"mall roi, {len(frames)} frames, {detector.model} at score {detector.score_threshold} "
        f"nms {detector.nms_iou}, tiles on every frame; {BUCKET_S} s buckets; a standing box "
        f"{WIDTH_SHARE} x {height_m} m, hidden over {COVERED:.0%} covered, found {FOUND_HIDDEN}"
    )
    for cell_m in args.cell:
        for apart_m in args.apart:
            floor = HiddenFloor(scene.geometry, [polygon], size, height_m, cell_m, apart_m, union=args.union)
            found, extra, cost_us, hidden_m2 = [], [], [], []
            for xyxy in boxes:
                started = time.perf_counter()
                n, m2, e = floor.expected(xyxy)
                cost_us.append((time.perf_counter() - started) * 1e6)
                found.append(n[0])
                hidden_m2.append(m2[0])
                extra.append(e[0])
            found_a, extra_a = np.array(found), np.array(extra)
            print(
                f"cells {cell_m} m ({len(floor.box)} seen, {floor.seen_m2[0]:.0f} m²), apart {apart_m} m: "
                f"found {found_a.mean():.2f} a frame, hidden {np.mean(hidden_m2):.1f} m², expected "
                f"hidden {extra_a.mean():.2f} a frame; estimate {np.median(cost_us):.0f} µs a frame "
                f"(median)"
            )
            for name, counted in (("found", found_a), ("found + expected hidden", found_a + extra_a)):
                errors = bucket_errors(counted, counts, per_bucket)
                print(f"  {name}: {by_half(errors, per_bucket)}; {slope(errors, truth)}")


LABELS = {"shipped": "shipped", "twice": "expected added, held counted twice"}
SHORT = {"shipped": "shipped", "twice": "held counted twice", "minus": "(a)", "spot": "(b)"}
RULES = {
    "minus": "(a) expected less the held in the zone, at least 0",
    "spot": "(b) held people's spots not hidden, the held in the density",
}


def shipped_run(
    name: str, camera: str, cache: Path | None, count: int | None = None
) -> tuple[StoreConfig, list[Recorded], np.ndarray]:
    """examples/<name>.yaml as shipped (its tiles and `tiles_every`, its tracker and the people
    it holds, `analysis.hidden_hold_s`) replayed through the whole pipeline: each analysed
    frame's boxes found and the boxes of the people held, and the pipeline's own 10 s occupancy
    errors of the first zone against `counts.csv` when the dataset has one (Mall); the first
    `count` frames only when given (a cache holds every frame: only a run over every frame
    writes one)."""
    config = example(name, camera, bucket_s=BUCKET_S)
    path = cache / f"shipped-pipeline-{name}.pkl" if cache is not None and count is None else None
    if path is not None and path.exists():
        frames, errors = pickle.loads(path.read_bytes())
        return config, frames, errors
    cam = config.camera(camera)
    start_s = datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp()
    frames = []
    found_n: list[int] = []
    with_hidden, to_floor = CameraPipeline._with_hidden, CameraPipeline._to_floor

    def record_hidden(self: CameraPipeline, tracks: Tracks) -> Tracks:
        found_n.append(len(tracks))
        return with_hidden(self, tracks)

    def record_floor(self: CameraPipeline, tracks: Tracks, frame: Frame) -> FloorObservation:
        n, xyxy = found_n.pop(), tracks.detections.xyxy
        index = round((frame.timestamp_s - start_s) * (cam.fps or 1.0))
        frames.append(Recorded(index, xyxy[:n].copy(), xyxy[n:].copy()))
        return to_floor(self, tracks, frame)

    with (
        mock.patch.object(CameraPipeline, "_with_hidden", record_hidden),
        mock.patch.object(CameraPipeline, "_to_floor", record_floor),
    ):
        reader = decoding_reader(config, camera, count or 10**9)
        run = run_pipeline(config, camera, reader, Detector.for_camera(cam, config), stages=False)
    counts = assets_dir() / f"datasets/{name}_dev/counts.csv"
    errors = (
        test_bucket_errors(SimpleNamespace(config=config, messages=run.messages), counts)
        if counts.exists()
        else np.zeros(0)
    )
    if path is not None:
        path.write_bytes(pickle.dumps((frames, errors)))
    return config, frames, errors


def with_rules(
    floor: HiddenFloor, frames: list[Recorded], length: int
) -> tuple[dict[str, np.ndarray], float]:
    """(frames, Z) people a frame in each zone: "shipped" (found and held), each rule's
    occupancy, and "twice" (the expected hidden added with the held counted again); the
    median µs of the estimate with the held people ("spot")."""
    zones = floor.member.shape[1]
    out = {key: np.full((length, zones), np.nan) for key in ("shipped", "twice", *RULES)}
    cost_us = []
    for frame in frames:
        held = floor.zones.inside(floor.feet_m(frame.held)).sum(axis=0)
        found, _, plain = floor.expected(frame.found)
        shipped = found + held
        out["shipped"][frame.index] = shipped
        out["twice"][frame.index] = shipped + plain
        for rule in RULES:
            started = time.perf_counter()
            _, _, extra = floor.expected(frame.found, held_xyxy=frame.held, rule=rule)
            cost_us.append((time.perf_counter() - started) * 1e6)
            out[rule][frame.index] = shipped + extra
    return out, float(np.median(cost_us))


def head_found(heads_px: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(K,) bool: which annotated heads (K, 2) px lie in the top third of one of the boxes (M, 4)
    px (a few pixels above it allowed: a head point marks the head's centre)."""
    if not len(xyxy) or not len(heads_px):
        return np.zeros(len(heads_px), bool)
    top_px = xyxy[:, 1] + (xyxy[:, 3] - xyxy[:, 1]) / 3
    x, y = heads_px[:, 0:1], heads_px[:, 1:2]
    inside = (x >= xyxy[:, 0]) & (x <= xyxy[:, 2]) & (y >= xyxy[:, 1] - HEAD_ABOVE_PX) & (y <= top_px)
    found: np.ndarray = inside.any(axis=1)
    return found


def missed_spots(frames: list[Recorded], heads_csv: Path) -> str:
    """Where the annotated heads the shipped pipeline finds no box for (found or held) are: the
    share of them on the few image spots (`SPOT_PX` squares) where somebody is missed on at
    least `STILL_SHARE` of the frames (people who stay put there), and how often the heads on
    those spots are found against everywhere else."""
    rows = np.loadtxt(heads_csv, delimiter=",", skiprows=1)
    by_frame = {int(k): rows[rows[:, 0] == k, 1:] for k in np.unique(rows[:, 0])}
    cells, found = [], []
    for frame in frames:
        heads = by_frame.get(frame.index + 1, np.zeros((0, 2)))  # heads.csv counts frames from 1
        boxes = np.vstack([frame.found, frame.held])
        cells.append((heads // SPOT_PX).astype(np.int64))
        found.append(head_found(heads, boxes))
    cell, hit = np.concatenate(cells), np.concatenate(found)
    key = cell[:, 1] * 10_000 + cell[:, 0]
    spots, spot_of = np.unique(key, return_inverse=True)
    missed_at = np.bincount(spot_of, ~hit, len(spots))
    still = (missed_at >= STILL_SHARE * len(frames))[spot_of]
    missed = ~hit
    first = np.concatenate([np.full(len(c), f.index < len(frames) // 2) for c, f in zip(cells, frames)])
    first_frames = sum(f.index < len(frames) // 2 for f in frames)
    halves = (
        f"{(missed & still & first).sum() / first_frames:.1f} and "
        f"{(missed & still & ~first).sum() / (len(frames) - first_frames):.1f}"
    )
    return (
        f"heads missed ({missed.sum() / len(frames):.1f} a frame of {len(hit) / len(frames):.1f}): "
        f"{(missed & still).sum() / missed.sum():.0%} of them ({(missed & still).sum() / len(frames):.1f} "
        f"a frame; {halves} in each half) on {int((missed_at >= STILL_SHARE * len(frames)).sum())} "
        f"spots of {SPOT_PX} px where somebody is missed on {STILL_SHARE:.1%} of the frames or more; "
        f"heads found there "
        f"{hit[still].mean():.0%}, elsewhere {hit[~still].mean():.0%}"
    )


def mall_shipped(args: argparse.Namespace) -> None:
    config, frames, pipeline_errors = shipped_run("mall", "cam1", args.cache, args.frames)
    cam = config.camera("cam1")
    annotated = np.loadtxt(args.dataset / "counts.csv", delimiter=",", skiprows=1)
    counts = np.full(int(annotated[:, 0].max()), np.nan)
    counts[annotated[:, 0].astype(int) - 1] = annotated[:, 1]
    length = max(f.index for f in frames) + 1
    assert sorted(f.index for f in frames) == list(range(length)), "every frame analysed, in order"
    counts = counts[:length]
    polygon = next(z.polygon_m for z in config.zones if z.name == "roi")
    height_m = (cam.tiling or Tiling()).person_height_m
    per_bucket = round(BUCKET_S * (cam.fps or 1.0))
    held = np.mean([len(f.held) for f in frames])
    print(
        f"mall roi, shipped pipeline ({len(frames)} frames, tiles every "
        f"{cam.tiling.tiles_every if cam.tiling else '-'} frames, tracker, held people up to "
        f"{config.analysis.hidden_hold_s} s: {held:.2f} held a frame); the pipeline's own 10 s "
        f"buckets: {summary(pipeline_errors)}"
    )
    print(missed_spots(frames, args.dataset / "heads.csv"))
    for cell_m in args.cell:
        for apart_m in args.apart:
            geometry = CameraGeometry.from_config(cam)
            floor = HiddenFloor(geometry, [polygon], (640, 480), height_m, cell_m, apart_m, union=args.union)
            series, cost_us = with_rules(floor, frames, length)
            print(f"cells {cell_m} m, apart {apart_m} m: the estimate with the held {cost_us:.0f} µs a frame")
            for key, counted in series.items():
                errors = bucket_errors(counted[:, 0], counts, per_bucket)
                print(f"  {RULES.get(key) or LABELS[key]}: {by_half(errors, per_bucket)}")


def pets09_shipped(args: argparse.Namespace) -> None:
    config, frames, _ = shipped_run("pets09", "view001", args.cache, args.frames)
    cam = config.camera("view001")
    dataset = assets_dir() / "datasets/pets09_s2l1"
    gt = np.loadtxt(dataset / "gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] == 1]
    names = [z.name for z in config.zones]
    polygons = [z.polygon_m for z in config.zones]
    zones = ZoneMap(polygons)
    length = max(f.index for f in frames) + 1
    truth = np.zeros((length, len(names)))
    for i in range(length):
        truth[i] = zones.inside(gt[gt[:, 0] == i + 1][:, 7:9]).sum(axis=0)
    per_bucket = round(BUCKET_S * (cam.fps or 1.0))
    print(
        f"pets09, shipped pipeline ({len(frames)} of {length} frames analysed, tracker, held people up "
        f"to {config.analysis.hidden_hold_s} s: {np.mean([len(f.held) for f in frames]):.3f} held a frame); "
        f"each zone's frames analysed against its annotated floor positions"
    )
    height_m = (cam.tiling or Tiling()).person_height_m
    for cell_m in args.cell:
        for apart_m in args.apart:
            geometry = CameraGeometry.from_config(cam)
            floor = HiddenFloor(geometry, polygons, (768, 576), height_m, cell_m, apart_m, union=args.union)
            series, cost_us = with_rules(floor, frames, length)
            print(f"cells {cell_m} m, apart {apart_m} m: the estimate with the held {cost_us:.0f} µs a frame")
            analysed = ~np.isnan(series["shipped"][:, 0])
            for k, name in enumerate(names):
                figures = []
                for key, counted in series.items():
                    errors = bucket_errors(counted[analysed, k], truth[analysed, k], per_bucket)
                    figures.append(f"{SHORT[key]} {summary(errors)}")
                print(f"  {name} (annotated {truth[:, k].mean():.2f} a frame): " + "; ".join(figures))


def pets09(args: argparse.Namespace) -> None:
    config = load_config(REPO_ROOT / "examples/pets09.yaml")
    camera = config.cameras[0]
    geometry = CameraGeometry.from_config(camera)
    dataset = assets_dir() / "datasets/pets09_s2l1"
    path = args.cache / "pets09-yolox_nano.pkl" if args.cache else None
    if path is not None and path.exists():
        boxes: list[np.ndarray] = pickle.loads(path.read_bytes())
    else:
        detector = Detector.for_camera(camera, config)
        video = cv2.VideoCapture(str(dataset / "vtest.avi"))
        boxes = []
        while args.frames is None or len(boxes) < args.frames:
            ok, image = video.read()
            if not ok:
                break
            boxes.append(detector(image).detections.xyxy.copy())
        if path is not None and args.frames is None:
            path.write_bytes(pickle.dumps(boxes))
    boxes = boxes[: args.frames]
    height, width = 576, 768
    gt = np.loadtxt(dataset / "gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] == 1]
    names = [z.name for z in config.zones]
    polygons = [z.polygon_m for z in config.zones]
    zones = ZoneMap(polygons)
    truth = np.zeros((len(boxes), len(names)))
    for i in range(len(boxes)):
        rows = gt[gt[:, 0] == i + 1]
        truth[i] = zones.inside(rows[:, 7:9]).sum(axis=0)
    height_m = (camera.tiling or Tiling()).person_height_m
    per_bucket = round(BUCKET_S * camera.fps)
    print(
        f"pets09, {len(boxes)} frames, {config.detector.model} at score "
        f"{config.detector.score_threshold}, one whole-frame pass; {BUCKET_S} s buckets"
    )
    for cell_m in args.cell:
        for apart_m in args.apart:
            floor = HiddenFloor(
                geometry, polygons, (width, height), height_m, cell_m, apart_m, union=args.union
            )
            found = np.zeros_like(truth)
            extra = np.zeros_like(truth)
            cost_us = []
            for i, xyxy in enumerate(boxes):
                started = time.perf_counter()
                found[i], _, extra[i] = floor.expected(xyxy)
                cost_us.append((time.perf_counter() - started) * 1e6)
            print(
                f"cells {cell_m} m, apart {apart_m} m: expected hidden "
                + ", ".join(f"{n} {extra[:, k].mean():.3f}" for k, n in enumerate(names))
                + f" a frame; estimate {np.median(cost_us):.0f} µs a frame (median)"
            )
            for k, name in enumerate(names):
                before = bucket_errors(found[:, k], truth[:, k], per_bucket)
                after = bucket_errors(found[:, k] + extra[:, k], truth[:, k], per_bucket)
                print(
                    f"  {name} (annotated {truth[:, k].mean():.2f} a frame): found {summary(before)}, "
                    f"found + expected hidden {summary(after)}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=assets_dir() / "datasets/mall_dev")
    parser.add_argument("--cache", type=Path, help="where to keep the detector's boxes between runs")
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    parser.add_argument("--cell", type=float, nargs="+", default=[0.5], help="floor cell sizes, m")
    parser.add_argument("--apart", type=float, nargs="+", default=[APART_M], help="own-spot radii, m")
    parser.add_argument(
        "--union", action="store_true", help="a cell is hidden when the boxes in front cover it together"
    )
    parser.add_argument("--pets09", action="store_true", help="also the PETS09 zones")
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="on the shipped pipeline (tiles_every, tracker, held people), each rule against counting twice",
    )
    parser.add_argument("--no-mall", action="store_true", help="PETS09 only")
    args = parser.parse_args()
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    if not args.no_mall:
        mall_shipped(args) if args.shipped else mall(args)
    if args.pets09:
        pets09_shipped(args) if args.shipped else pets09(args)


if __name__ == "__main__":
    main()
