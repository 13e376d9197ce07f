"""Where Mall occupancy loses people, and whether a detector setting chosen on one half of the
recording holds on the other.

The example's detector (examples/mall.yaml: its tiles on every frame, its whole-frame pass)
runs once over the frames at a low floor score (`FLOOR_SCORE`) with almost no suppression
inside a pass; each (score threshold, NMS IoU) pair is then applied to those boxes as the
pipeline applies it (per pass, then across passes, then the tile-edge merge of `edge.merge`):
at the shipped setting, the detector's own boxes to within 0.06 a frame (1 at most, over 50
frames).
A person counts where the pipeline counts them: feet at the box's bottom centre, projected to
the floor, inside the `roi` zone. The analytics count every detection whatever its track, so
these counts are the pipeline's occupancy with tiles on every frame (the acceptance test's run
re-uses the tiles on every other frame: a few hundredths apart).

It prints:
- per setting, the 10 s bucket occupancy MAE and bias on each half, and the setting with the
  lowest MAE on `--choose` half with its figure on the other half (choose on one, report on
  the other);
- for the shipped setting, per band of image rows of the annotated heads (heads.csv): heads per
  frame, share found (a box of its own whose top part holds the head), and why the others were
  missed: only a box under the score threshold, a box over it that suppression removed, a box
  already taken by another head (two people in one box), or no box at all; and the boxes that
  hold no head, by the row of their top;
- the slope of the bucket error against the annotated count (people lost per extra person).

Run `.venv/bin/python bench/occupancy_misses.py [--dataset DIR] [--choose first|second]`:
about a minute for the 800 frames here. DIR holds frames/*.jpg (sorted by name), counts.csv
and heads.csv in mall_dev's layout (datasets/README.md), e.g. other frames of the same camera.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.detector import Detector
from edge.merge import Pass, merge
from footfall_core.assets import REPO_ROOT, assets_dir
from footfall_core.floor import ZoneMap
from footfall_core.geometry import CameraGeometry
from footfall_core.store import StoreConfig, load_config

FLOOR_SCORE = 0.03  # below every threshold tried
LOOSE_NMS_IOU = 0.9  # within a pass, only near-identical boxes go before the settings apply
BUCKET_S = 10
ROW_BANDS_PX = (0, 40, 80, 120, 174, 240, 320, 481)  # 174: the bottom of the example's tile band
HEAD_IN_BOX = (-0.1, 0.35)  # a head lies between these fractions of a box's height from its top
THRESHOLDS = (0.09, 0.1, 0.11, 0.12, 0.13)
NMS_IOUS = (0.45, 0.5, 0.55, 0.6)


@dataclass(frozen=True)
class Annotation:
    """counts (F,) people per frame and heads (K, 3) frame index (0-based), x, y image px."""

    counts: np.ndarray
    heads: np.ndarray


def load_annotation(dataset: Path) -> Annotation:
    counts = np.loadtxt(dataset / "counts.csv", delimiter=",", skiprows=1)
    heads = np.loadtxt(dataset / "heads.csv", delimiter=",", skiprows=1)
    first = counts[0, 0]
    return Annotation(counts[:, 1], np.column_stack([heads[:, 0] - first, heads[:, 1:]]))


def raw_passes(config: StoreConfig, frames: list[Path]) -> list[tuple[Pass, ...]]:
    """Every frame's passes (boxes per pass before merging) at FLOOR_SCORE and LOOSE_NMS_IOU."""
    camera = config.cameras[0]
    loose = config.detector.model_copy(update={"score_threshold": FLOOR_SCORE, "nms_iou": LOOSE_NMS_IOU})
    detector = Detector.for_camera(camera, config.model_copy(update={"detector": loose}))
    out = []
    for path in frames:
        image = cv2.imread(str(path))
        if image is None:
            raise OSError(f"{path}: not a readable image")
        out.append(detector(image).passes)
    return out


def nms(iou: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """IoU suppression at `iou` over boxes already over their threshold (`merge`'s `nms`)."""

    def keep(xyxy: np.ndarray, score: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0,), np.int64)
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        return np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), score.tolist(), 0.0, iou), np.int64).reshape(-1)

    return keep


def people(passes: tuple[Pass, ...], threshold: float, iou: float, size_px: tuple[int, int]) -> np.ndarray:
    """(M, 4) xyxy the pipeline's detector gives at these settings."""
    keep = nms(iou)
    kept = []
    for found in passes:
        over = found.rows(found.score >= threshold)
        kept.append(over.rows(keep(over.xyxy, over.score)))
    xyxy, _ = merge(kept, keep)
    width, height = size_px
    clipped: np.ndarray = xyxy.clip(0, np.array([width, height, width, height], np.float32))
    return clipped


def in_zone(xyxy: np.ndarray, geometry: CameraGeometry, zone: ZoneMap) -> np.ndarray:
    feet = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
    inside: np.ndarray = zone.inside(geometry.image_to_floor(feet))[:, 0] if len(feet) else np.zeros(0, bool)
    return inside


def bucket_errors(counted: np.ndarray, annotated: np.ndarray, frames_per_bucket: int) -> np.ndarray:
    buckets = len(counted) // frames_per_bucket
    error = (counted - annotated)[: buckets * frames_per_bucket]
    means: np.ndarray = error.reshape(buckets, frames_per_bucket).mean(axis=1)
    return means


def heads_in(xyxy: np.ndarray, heads_xy: np.ndarray) -> np.ndarray:
    """(K, M) bool: head k lies in the top part of box m (HEAD_IN_BOX)."""
    height = xyxy[:, 3] - xyxy[:, 1]
    x, y = heads_xy[:, 0:1], heads_xy[:, 1:2]
    inside: np.ndarray = (
        (x >= xyxy[:, 0])
        & (x <= xyxy[:, 2])
        & (y >= xyxy[:, 1] + HEAD_IN_BOX[0] * height)
        & (y <= xyxy[:, 1] + HEAD_IN_BOX[1] * height)
    )
    return inside


def misses(
    passes: list[tuple[Pass, ...]],
    annotation: Annotation,
    threshold: float,
    iou: float,
    size_px: tuple[int, int],
    geometry: CameraGeometry,
    zone: ZoneMap,
) -> dict[str, np.ndarray]:
    """Per ROW_BANDS_PX band, summed over frames: heads, found, and the misses by cause; boxes
    holding no head by the band of their top."""
    bands = len(ROW_BANDS_PX) - 1
    keys = ("heads", "found", "under threshold", "suppressed", "box shared", "no box", "box, no head")
    totals = {key: np.zeros(bands) for key in keys}
    for index, found in enumerate(passes):
        xyxy = people(found, threshold, iou, size_px)
        xyxy = xyxy[in_zone(xyxy, geometry, zone)]
        heads_xy = annotation.heads[annotation.heads[:, 0] == index, 1:]
        holds = heads_in(xyxy, heads_xy)
        rows, cols = linear_sum_assignment(-holds.astype(float))
        paired = holds[rows, cols]
        matched = np.zeros(len(heads_xy), bool)
        matched[rows[paired]] = True
        used = np.zeros(len(xyxy), bool)
        used[cols[paired]] = True
        raw = np.concatenate([p.xyxy for p in found])
        raw_score = np.concatenate([p.score for p in found])
        raw_holds = heads_in(raw, heads_xy)
        over = (raw_holds & (raw_score >= threshold)).any(axis=1)
        under = (raw_holds & (raw_score < threshold)).any(axis=1)
        shared = holds.any(axis=1) & ~matched
        missed = ~matched
        causes = {
            "box shared": missed & shared,
            "suppressed": missed & ~shared & over,
            "under threshold": missed & ~shared & ~over & under,
            "no box": missed & ~shared & ~over & ~under,
        }
        band = np.digitize(heads_xy[:, 1], ROW_BANDS_PX) - 1
        box_band = np.digitize(xyxy[:, 1], ROW_BANDS_PX) - 1
        for b in range(bands):
            here = band == b
            totals["heads"][b] += here.sum()
            totals["found"][b] += (here & matched).sum()
            for key, which in causes.items():
                totals[key][b] += (here & which).sum()
            totals["box, no head"][b] += ((box_band == b) & ~used).sum()
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=assets_dir() / "datasets/mall_dev")
    parser.add_argument("--choose", choices=("first", "second"), default="first", help="half to choose on")
    args = parser.parse_args()
    config = load_config(REPO_ROOT / "examples/mall.yaml")
    camera = config.cameras[0]
    frames = sorted((args.dataset / "frames").glob("*.jpg"))
    annotation = load_annotation(args.dataset)
    if len(frames) != len(annotation.counts):
        raise SystemExit(
            f"{args.dataset}: {len(frames)} frames but {len(annotation.counts)} rows in counts.csv"
        )
    size_px = cv2.imread(str(frames[0])).shape[1::-1]
    geometry = CameraGeometry.from_config(camera)
    zone = ZoneMap([next(z.polygon_m for z in config.zones if z.name == "roi")])
    passes = raw_passes(config, frames)
    per_bucket = round(BUCKET_S * camera.fps)
    half = len(frames) // per_bucket // 2
    shipped = (config.detector.score_threshold, config.detector.nms_iou)
    print(
        f"{args.dataset}: {len(frames)} frames, {BUCKET_S} s buckets of {per_bucket} frames, halves of {half}"
    )
    results = {}
    for threshold in sorted({*THRESHOLDS, shipped[0]}):
        for iou in sorted({*NMS_IOUS, shipped[1]}):
            counted = np.array(
                [in_zone(people(p, threshold, iou, size_px), geometry, zone).sum() for p in passes]
            )
            errors = bucket_errors(counted, annotation.counts, per_bucket)
            first, second = errors[:half], errors[half:]
            results[(threshold, iou)] = (np.abs(first).mean(), np.abs(second).mean())
            mark = " (shipped)" if (threshold, iou) == shipped else ""
            print(
                f"score {threshold:.2f} nms {iou:.2f}: MAE first {results[(threshold, iou)][0]:.2f} "
                f"(bias {first.mean():+.2f}), second {results[(threshold, iou)][1]:.2f} "
                f"(bias {second.mean():+.2f}), all {np.abs(errors).mean():.2f}{mark}"
            )
            if (threshold, iou) == shipped:
                shipped_errors, shipped_counted = errors, counted
    chosen_on, other = (0, 1) if args.choose == "first" else (1, 0)
    best = min(results, key=lambda key: results[key][chosen_on])
    print(
        f"chosen on the {args.choose} half: score {best[0]:.2f} nms {best[1]:.2f}, MAE "
        f"{results[best][chosen_on]:.2f} there, {results[best][other]:.2f} on the other half"
    )
    annotated = bucket_errors(annotation.counts, np.zeros_like(annotation.counts), per_bucket)
    slope = np.polyfit(annotated, shipped_errors, 1)[0]
    print(
        f"shipped: frame MAE {np.abs(shipped_counted - annotation.counts).mean():.2f}; bucket error against "
        f"the annotated count: slope {slope:+.3f} people per person, r "
        f"{np.corrcoef(annotated, shipped_errors)[0, 1]:+.2f}"
    )
    totals = misses(passes, annotation, *shipped, size_px, geometry, zone)
    n = len(passes)
    print("per frame, by image row of the head (boxes without a head: by row of their top):")
    for b in range(len(ROW_BANDS_PX) - 1):
        heads = totals["heads"][b]
        cells = ", ".join(
            f"{key} {totals[key][b] / n:.2f}" for key in totals if key not in ("heads", "found")
        )
        print(
            f"  rows {ROW_BANDS_PX[b]:3d}-{ROW_BANDS_PX[b + 1]:3d}: heads {heads / n:.2f}, found "
            f"{totals['found'][b] / max(heads, 1):.0%}; {cells}"
        )
    print("  all: " + ", ".join(f"{key} {value.sum() / n:.2f}" for key, value in totals.items()))


if __name__ == "__main__":
    main()
