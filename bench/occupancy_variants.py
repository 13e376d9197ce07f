"""Mall occupancy with other detector set-ups than the example's, each chosen on one half of the
recording and scored on the other.

Every set-up's model passes run once over the frames at a low floor score (`FLOOR_SCORE`) with
almost no suppression inside a pass (as `bench/occupancy_misses.py` does); each (score
threshold, NMS IoU) pair of the grid is then applied as the pipeline applies it (per pass, then
across passes, then the tile-edge merge of `edge.merge`) and the roi zone's 10 s bucket
occupancy MAE is computed on each half. The setting with the lowest MAE on one half is reported
with its MAE on the other, both ways: a set-up meets the goal only if both held-out figures do.

The set-ups (`SETUPS`):
- shipped: the example's 2 tiles over the far rows (0-174) and the whole frame;
- flip, nms: those passes and the same passes on the mirrored frame, all suppressed together
  (test-time flip; twice the model passes);
- flip, fused: each pass paired with its mirror, boxes matched one to one (IoU >= `MATCH_IOU`)
  and averaged, weighted by score, with the mean of the two scores (0 where a view has no box);
- finer tiles: C×R tiles over the far rows 0-Y (more magnification) and the whole frame;
- 192 px model: the shipped passes plus person_detector_192.onnx on the shipped tiles, its
  scores scaled by 0.5 or 1 (the two models' scores are not on one scale);
- soft-NMS: across passes, a kept box lowers the others' scores by exp(-IoU² / sigma) instead of
  removing those over the IoU;
- per-row threshold: a second score threshold for the boxes whose feet are on rows where the
  calibration puts a standing person under `FAR_BELOW_PX` image px (small people score lower).

Model input pixels a frame, relative to the shipped set-up's, give each set-up's detector cost.

Run `.venv/bin/python bench/occupancy_variants.py [--dataset DIR] [--cache DIR]`: the detector's
passes are kept per tile plan, model and mirror in --cache (pickles), so a second run only
scores (most of the half hour a first run takes on one core).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.occupancy_misses import BUCKET_S, FLOOR_SCORE, LOOSE_NMS_IOU, bucket_errors, in_zone, nms
from edge.detector import Detector
from edge.merge import Pass, merge_cut_boxes
from edge.model import PersonModel
from edge.tiles import TilePlan, person_height_px
from footfall_core.assets import REPO_ROOT, assets_dir
from footfall_core.floor import ZoneMap
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Tiling, load_config
from footfall_core.tiling import Tile, make_tiles
from models.letterbox import stride_ceil
from models.registry import find_model

MATCH_IOU = 0.55  # a box and its mirror's box are one person from this IoU
FAR_BELOW_PX = (45.0, 60.0, 75.0)  # per-row threshold: people expected under this height, image px
THRESHOLDS = tuple(np.round(np.arange(0.05, 0.151, 0.01), 2))
NMS_IOUS = (0.45, 0.5, 0.55, 0.6)
SOFT_SIGMAS = (0.1, 0.2, 0.4)

Frames = list[tuple[Pass, ...]]


@dataclass(frozen=True)
class Setting:
    """How boxes become people: `threshold` (and `far_threshold` for people expected under
    `far_below_px`), IoU suppression at `iou` per pass and across passes, or soft-NMS at
    `soft_sigma` across passes."""

    threshold: float
    iou: float
    far_threshold: float | None = None
    far_below_px: float = 0.0
    soft_sigma: float | None = None

    def __str__(self) -> str:
        text = f"score {self.threshold:.2f} nms {self.iou:.2f}"
        if self.far_threshold is not None:
            text += f", under {self.far_below_px:.0f} px score {self.far_threshold:.2f}"
        if self.soft_sigma is not None:
            text += f", soft-NMS sigma {self.soft_sigma}"
        return text


class Scene:
    """The recording, its annotation and the example's camera; runs and caches model passes."""

    def __init__(self, dataset: Path, cache: Path | None) -> None:
        self.config = load_config(REPO_ROOT / "examples/mall.yaml")
        self.camera = self.config.cameras[0]
        self.geometry = CameraGeometry.from_config(self.camera)
        self.zone = ZoneMap([next(z.polygon_m for z in self.config.zones if z.name == "roi")])
        self.frames = sorted((dataset / "frames").glob("*.jpg"))
        self.counts = np.loadtxt(dataset / "counts.csv", delimiter=",", skiprows=1)[:, 1]
        if len(self.frames) != len(self.counts):
            raise SystemExit(
                f"{dataset}: {len(self.frames)} frames but {len(self.counts)} rows in counts.csv"
            )
        self.height_px, self.width_px = cv2.imread(str(self.frames[0])).shape[:2]
        self.person_px = person_height_px(self.geometry, self.width_px, self.height_px, 1.7)
        self.cache = cache

    def tiles(self, plan: str) -> tuple[Tile, ...]:
        """'shipped' (the example's passes), 'whole', or 'CxR_Y': C×R tiles over rows 0-Y."""
        width, height = self.width_px, self.height_px
        if plan == "shipped":
            return TilePlan(self.camera.tiling, 416, self.geometry).passes(width, height)
        if plan == "whole":
            return (Tile.whole(width, height),)
        grid, bottom = plan.split("_")
        cols, rows = map(int, grid.split("x"))
        return tuple(make_tiles(width, height, Tiling(cols=cols, rows=rows, overlap=0.2), (0, int(bottom))))

    def input_px(self, plan: str, size_px: int = 416) -> int:
        """Model input pixels of a frame's passes (tight letterboxes)."""
        total = 0
        for tile in self.tiles(plan):
            width, height = tile.x1 - tile.x0, tile.y1 - tile.y0
            scale = min(size_px / width, size_px / height)
            total += stride_ceil(round(width * scale)) * stride_ceil(round(height * scale))
        return total

    def passes(self, plan: str, model: str = "yolox_nano.onnx", mirror: bool = False) -> Frames:
        """Every frame's passes of `plan` (boxes before merging, image px of the unmirrored frame).
        The plans are symmetric left to right: a mirrored frame gets the same tiles."""
        if plan == "whole":  # the shipped plan's last pass
            return [passes[-1:] for passes in self.passes("shipped", model, mirror)]
        path = self.cache / f"{plan}-{model}-{'mirror' if mirror else 'plain'}.pkl" if self.cache else None
        if path is not None and path.exists():
            cached: Frames = pickle.loads(path.read_bytes())
            return cached
        person = PersonModel(find_model(model).path, score_threshold=FLOOR_SCORE, nms_iou=LOOSE_NMS_IOU)
        tiles = self.tiles(plan)
        detector = Detector(person, FixedPlan(tiles))  # type: ignore[arg-type]
        out = []
        for frame in self.frames:
            image = cv2.imread(str(frame))
            if image is None:
                raise OSError(f"{frame}: not a readable image")
            if mirror:
                found = detector(np.ascontiguousarray(image[:, ::-1])).passes
                out.append(tuple(mirrored(p, self.width_px) for p in found))
            else:
                out.append(detector(image).passes)
        if path is not None:
            path.write_bytes(pickle.dumps(out))
        return out

    def bucket_errors(self, frames: Frames, setting: Setting) -> np.ndarray:
        counted = np.array([in_zone(self.people(p, setting), self.geometry, self.zone).sum() for p in frames])
        return bucket_errors(counted, self.counts, round(BUCKET_S * self.camera.fps))

    def people(self, passes: tuple[Pass, ...], setting: Setting) -> np.ndarray:
        """(M, 4) xyxy people at `setting`: per pass over its threshold and suppressed, then
        across passes, then the pieces cut by tile edges joined."""
        keep = nms(setting.iou)
        kept = []
        for found in passes:
            over = found.rows(found.score >= self.thresholds(found.xyxy, setting))
            kept.append(over.rows(keep(over.xyxy, over.score)))
        every = Pass(*(np.concatenate([getattr(p, f) for p in kept]) for f in ("xyxy", "score", "cut_edges")))
        if setting.soft_sigma is None:
            chosen = keep(every.xyxy, every.score)
        else:
            chosen = soft_nms(
                every.xyxy, every.score, setting.soft_sigma, self.thresholds(every.xyxy, setting)
            )
        xyxy, _ = merge_cut_boxes(every.xyxy[chosen], every.score[chosen], every.cut_edges[chosen])
        width, height = self.width_px, self.height_px
        clipped: np.ndarray = xyxy.clip(0, np.array([width, height, width, height], np.float32))
        return clipped

    def thresholds(self, xyxy: np.ndarray, setting: Setting) -> np.ndarray:
        """(M,) score threshold of each box, by its feet row's expected person height."""
        if setting.far_threshold is None:
            return np.full(len(xyxy), setting.threshold, np.float32)
        feet = np.clip(xyxy[:, 3].astype(int), 0, self.height_px - 1)
        far = self.person_px[feet] < setting.far_below_px
        return np.where(far, setting.far_threshold, setting.threshold).astype(np.float32)


class FixedPlan:
    """A tile plan of fixed passes, for `Detector` (which reads `tiled` and `passes`)."""

    tiled = True

    def __init__(self, tiles: tuple[Tile, ...]) -> None:
        self._tiles = tiles

    def passes(self, width_px: int, height_px: int) -> tuple[Tile, ...]:
        return self._tiles


def mirrored(found: Pass, width_px: int) -> Pass:
    """A pass of the mirrored frame in the frame's own pixels (left and right swap)."""
    xyxy, cut = found.xyxy.copy(), found.cut_edges.copy()
    xyxy[:, [0, 2]] = width_px - found.xyxy[:, [2, 0]]
    cut[:, [0, 2]] = width_px - found.cut_edges[:, [2, 0]]
    return Pass(xyxy, found.score, cut)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of two sets of xyxy boxes."""
    inter = np.clip(
        np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None
    )
    overlap = inter.prod(axis=2)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(axis=1), (b[:, 2:] - b[:, :2]).prod(axis=1)
    iou: np.ndarray = overlap / np.maximum(area_a[:, None] + area_b[None, :] - overlap, 1e-6)
    return iou


def fused_views(a: Pass, b: Pass) -> Pass:
    """One pass of two views of it (plain, mirrored back): boxes paired one to one, highest IoU
    first from `MATCH_IOU`, averaged weighted by score; every score the mean over both views."""
    ious = iou_matrix(a.xyxy, b.xyxy)
    used_a, used_b = np.zeros(len(a.score), bool), np.zeros(len(b.score), bool)
    pairs = []
    for flat in np.argsort(-ious, axis=None):
        i, j = divmod(int(flat), len(b.score))
        if ious[i, j] < MATCH_IOU:
            break
        if not (used_a[i] or used_b[j]):
            used_a[i] = used_b[j] = True
            pairs.append((i, j))
    ia, ib = np.array([p[0] for p in pairs], int), np.array([p[1] for p in pairs], int)
    weight_a, weight_b = a.score[ia, None], b.score[ib, None]
    both = Pass(
        (a.xyxy[ia] * weight_a + b.xyxy[ib] * weight_b) / (weight_a + weight_b),
        (a.score[ia] + b.score[ib]) / 2,
        np.where(np.isnan(a.cut_edges[ia]), b.cut_edges[ib], a.cut_edges[ia]),
    )
    alone = Pass.join(a.rows(~used_a), b.rows(~used_b))
    return Pass.join(both, Pass(alone.xyxy, alone.score / 2, alone.cut_edges))


def soft_nms(xyxy: np.ndarray, score: np.ndarray, sigma: float, threshold: np.ndarray) -> np.ndarray:
    """Gaussian soft-NMS: indices of the boxes whose lowered score stays at their threshold."""
    score = score.copy()
    alive = np.ones(len(score), bool)
    kept = []
    while alive.any():
        best = int(np.argmax(np.where(alive, score, -1.0)))
        if score[best] < threshold[best]:
            break
        kept.append(best)
        alive[best] = False
        rest = np.flatnonzero(alive)
        score[rest] *= np.exp(-(iou_matrix(xyxy[best : best + 1], xyxy[rest])[0] ** 2) / sigma)
    return np.array(kept, np.int64)


def joined(*sources: Frames) -> Frames:
    """Per frame, the passes of every source."""
    return [tuple(p for source in sources for p in source[i]) for i in range(len(sources[0]))]


def scaled(frames: Frames, factor: float) -> Frames:
    return [tuple(Pass(p.xyxy, p.score * factor, p.cut_edges) for p in passes) for passes in frames]


def plain_grid() -> Iterator[Setting]:
    return (Setting(t, iou) for t in THRESHOLDS for iou in NMS_IOUS)


def soft_grid() -> Iterator[Setting]:
    return (Setting(t, 0.45, soft_sigma=sigma) for t in THRESHOLDS for sigma in SOFT_SIGMAS)


def per_row_grid() -> Iterator[Setting]:
    return (
        Setting(near, iou, far, below)
        for near in THRESHOLDS[::2]
        for iou in (0.45, 0.55)
        for far in THRESHOLDS
        for below in FAR_BELOW_PX
    )


@dataclass(frozen=True)
class SetUp:
    """A detector set-up: its frames' passes, its model input px a frame and its settings grid."""

    name: str
    frames: Callable[[Scene], Frames]
    input_px: Callable[[Scene], int]
    grid: Callable[[], Iterator[Setting]] = plain_grid


def whole(scene: Scene) -> Frames:
    return scene.passes("whole")


def shipped(scene: Scene) -> Frames:
    return scene.passes("shipped")


def shipped_px(scene: Scene) -> int:
    return scene.input_px("shipped")


def flip_fused(plans: tuple[str, ...]) -> Callable[[Scene], Frames]:
    def frames(scene: Scene) -> Frames:
        plain = joined(*(scene.passes(p) for p in plans))
        mirror = joined(*(scene.passes(p, mirror=True) for p in plans))
        return [tuple(map(fused_views, a, b)) for a, b in zip(plain, mirror, strict=True)]

    return frames


def finer(plan: str) -> SetUp:
    return SetUp(
        f"{plan.replace('_', ' tiles over rows 0-')} and the whole frame",
        lambda scene: joined(scene.passes(plan), whole(scene)),
        lambda scene: scene.input_px(plan) + scene.input_px("whole"),
    )


def with_192(factor: float) -> SetUp:
    def frames(scene: Scene) -> Frames:
        tiles = [p[:-1] for p in scene.passes("shipped", "person_detector_192.onnx")]
        return joined(shipped(scene), scaled(tiles, factor))

    return SetUp(
        f"shipped and the 192 px model on its tiles, scores x{factor}",
        frames,
        lambda scene: shipped_px(scene) + scene.input_px("shipped", 192) - scene.input_px("whole", 192),
    )


FLIP_FUSED_3X1 = SetUp(
    "3x1 tiles over rows 0-120 and the whole frame, with their mirror, fused",
    flip_fused(("3x1_120", "whole")),
    lambda scene: 2 * (scene.input_px("3x1_120") + scene.input_px("whole")),
)
SETUPS = (
    SetUp("shipped", shipped, shipped_px),
    SetUp(
        "shipped and its mirror, nms",
        lambda scene: joined(shipped(scene), scene.passes("shipped", mirror=True)),
        lambda scene: 2 * shipped_px(scene),
    ),
    SetUp("shipped and its mirror, fused", flip_fused(("shipped",)), lambda scene: 2 * shipped_px(scene)),
    finer("3x1_120"),
    finer("3x1_174"),
    finer("4x1_120"),
    finer("3x2_174"),
    finer("4x2_200"),
    FLIP_FUSED_3X1,
    with_192(0.5),
    with_192(1.0),
    SetUp("shipped, soft-NMS", shipped, shipped_px, soft_grid),
    SetUp("shipped, per-row threshold", shipped, shipped_px, per_row_grid),
    replace(
        finer("3x1_120"),
        name="3x1 tiles over rows 0-120 and the whole frame, per-row threshold",
        grid=per_row_grid,
    ),
    replace(FLIP_FUSED_3X1, name=f"{FLIP_FUSED_3X1.name}, per-row threshold", grid=per_row_grid),
)


def report(scene: Scene, setup: SetUp, reference_px: int) -> None:
    """Print the set-up's settings chosen on each half, with their MAE on both halves."""
    frames = setup.frames(scene)
    results = {setting: np.array_split(scene.bucket_errors(frames, setting), 2) for setting in setup.grid()}
    print(f"{setup.name} ({setup.input_px(scene) / reference_px:.2f}x the input px):")
    for chosen_on, other in ((0, 1), (1, 0)):
        best = min(results, key=lambda s: np.abs(results[s][chosen_on]).mean())
        halves = results[best]
        print(
            f"  chosen on the {('first', 'second')[chosen_on]} half ({best}): "
            f"{np.abs(halves[chosen_on]).mean():.2f} ({halves[chosen_on].mean():+.2f}) there, "
            f"{np.abs(halves[other]).mean():.2f} ({halves[other].mean():+.2f}) on the other",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=assets_dir() / "datasets/mall_dev")
    parser.add_argument("--cache", type=Path, help="where to keep the model passes between runs")
    args = parser.parse_args()
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    scene = Scene(args.dataset, args.cache)
    print(f"{args.dataset}: {len(scene.frames)} frames, {BUCKET_S} s buckets; MAE (bias) per half")
    for setup in SETUPS:
        report(scene, setup, shipped_px(scene))


if __name__ == "__main__":
    main()
