"""The people a fusion group counts twice on WILDTRACK, each with what made them two.

Runs the fusion group as `bench/fusion_accuracy.py --mode fusion` does (same stand-in detector,
seeds and matching) and prints, for every double count, the frame, the annotated person counted
twice and both counted people made of their boxes: the one matched to them and the extra one.
For each box of the two: the camera, whose box it is, how far the camera is from where that
person stands, which frame edges cut it (L, R, T, B), and its Mahalanobis distance² to the
other counted person (their covariances added) and to where its own person stands (its own
covariance only). What a double count looked like decides where to fix it: the gate, the doubt
of a cut box, the grouping's search, or nothing in one instant's positions.

    .venv/bin/python bench/fusion_doubles.py [DATASET_DIR] [--seeds 0 1 2 3 4 5] [--frames odd]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fusion_accuracy import DEFAULT_CONFIG, EVEN, ODD, Counted, FusionStore, detect, match  # noqa: E402
from bench.wildtrack import (  # noqa: E402
    DEFAULT_DATASET,
    FRAME_SIZE_PX,
    AnnotatedFrame,
    camera_model,
    camera_name,
    read_frames,
)
from edge.fusion import EDGE_PX, inverse_2x2  # noqa: E402
from edge.fusion_stage import FusedSlot, StageOutput  # noqa: E402
from edge.types import Detections  # noqa: E402
from footfall_core.store import StoreConfig, load_config  # noqa: E402


@dataclass(frozen=True)
class Instant:
    """One fused instant with, per measurement row of the slot (all cameras in slot order), the
    camera, the box (image px) and the annotated person it belongs to."""

    fused: FusedSlot
    camera: np.ndarray  # (K,) str
    box_px: np.ndarray  # (K, 4)
    source: np.ndarray  # (K,) int, into the frame's people


class RecordingStore(FusionStore):
    """`FusionStore` that keeps every fused instant with its boxes and their annotated people."""

    def __init__(self, config: StoreConfig) -> None:
        super().__init__(config)
        self.instants: list[Instant] = []
        self._boxes: dict[tuple[str, float], np.ndarray] = {}

    def count(self, timestamp_s: float, views: dict[str, tuple[Detections, np.ndarray]]) -> list[Counted]:
        for name, (detections, _) in views.items():
            self._boxes[(name, timestamp_s)] = detections.xyxy
        return super().count(timestamp_s, views)

    def _counted(self, out: StageOutput) -> list[Counted]:
        for fused in out.slots:
            keys = [(m.camera, m.timestamp_s) for m in fused.slot.measurements]
            self.instants.append(
                Instant(
                    fused,
                    np.concatenate([[m.camera] * len(m) for m in fused.slot.measurements]),
                    np.concatenate([self._boxes.pop(k) for k in keys]).reshape(-1, 4),
                    np.concatenate([self._sources[k] for k in keys]).astype(np.int64),
                )
            )
        return super()._counted(out)


def cut_edges(box_px: np.ndarray) -> str:
    """The frame edges that cut a box: L, R, T, B, or '-'."""
    width, height = FRAME_SIZE_PX
    x0, y0, x1, y1 = box_px
    return (
        "".join(
            e
            for e, cut in zip(
                "LRTB", (x0 <= EDGE_PX, x1 >= width - EDGE_PX, y0 <= EDGE_PX, y1 >= height - EDGE_PX)
            )
            if cut
        )
        or "-"
    )


def report(frame: AnnotatedFrame, instant: Instant, camera_m: dict[str, np.ndarray], label: str) -> list[str]:
    """Lines describing each double count of one instant (none if it has none)."""
    fused = instant.fused.fused
    person = np.concatenate(fused.person)
    counted = np.flatnonzero(instant.fused.counted)
    members = [instant.source[person == p] for p in counted]
    rows, cols = match(frame, Counted(0.0, fused.floor_xy[counted], members))
    matched_to = dict(zip(cols.tolist(), counted[rows].tolist()))
    lines = []
    for row in sorted(set(range(len(counted))) - set(rows.tolist())):
        if not len(members[row]):
            continue
        extra = int(counted[row])
        owner = int(np.bincount(members[row]).argmax())
        other = matched_to[owner]
        at_m = [np.round(xy, 2).tolist() for xy in (frame.floor_m[owner], *fused.floor_xy[[extra, other]])]
        cameras = ", ".join(sorted(set(instant.camera[person == extra].tolist())))
        lines.append(
            f"{label}: person {owner} at {at_m[0]} m counted twice: extra ({cameras}) at {at_m[1]}, "
            f"matched at {at_m[2]}"
        )
        measurements = instant.fused.slot.measurements
        z = np.concatenate([m.floor_xy for m in measurements]).reshape(-1, 2)
        cov = np.concatenate([m.cov_m2 for m in measurements]).reshape(-1, 2, 2)
        for name, mine, theirs in (("extra", extra, other), ("matched", other, extra)):
            for k in np.flatnonzero(person == mine).tolist():
                to_other = z[k] - fused.floor_xy[theirs]
                d2_other = to_other @ inverse_2x2(cov[k] + fused.cov_m2[theirs]) @ to_other
                to_own = z[k] - frame.floor_m[instant.source[k]]
                d2_own = to_own @ inverse_2x2(cov[k]) @ to_own
                far_m = np.linalg.norm(frame.floor_m[instant.source[k]] - camera_m[instant.camera[k]])
                lines.append(
                    f"  {name:<7} {instant.camera[k]:<7} box of person {instant.source[k]:<3} "
                    f"{far_m:5.1f} m away, cut {cut_edges(instant.box_px[k]):<2} "
                    f"d² to the other {d2_other:6.1f}, to where it stands {d2_own:5.1f}"
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the WILDTRACK store")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--frames", choices=("even", "odd", "all"), default="all")
    parser.add_argument("--miss", type=float, default=0.1, help="share of boxes the detector misses")
    parser.add_argument("--jitter", type=float, default=0.05, help="box edge noise, share of its size")
    args = parser.parse_args()
    config = load_config(args.config)
    frames = read_frames(args.dataset)
    camera_m = {}
    for view in range(len(config.cameras)):
        model = camera_model(args.dataset, view)
        rotation, _ = cv2.Rodrigues(model.rvec)
        camera_m[camera_name(view)] = (-rotation.T @ model.tvec)[:2] / 100.0  # cm → floor m
    wanted = set(range(len(frames))[{"even": EVEN, "odd": ODD, "all": slice(None)}[args.frames]])
    doubles = 0
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        store = RecordingStore(config)
        for frame in frames:
            store.count(
                frame.timestamp_s,
                {camera_name(v): detect(frame, v, rng, args.miss, args.jitter) for v in range(7)},
            )
        store.finish()
        for index, (frame, instant) in enumerate(zip(frames, store.instants)):
            if index in wanted:
                lines = report(
                    frame, instant, camera_m, f"seed {seed}, frame {index} ({'odd' if index % 2 else 'even'})"
                )
                doubles += sum(not line.startswith(" ") for line in lines)
                print("\n".join(lines), end="\n" if lines else "")
    print(f"{doubles} double count(s) in {args.frames} frames of seeds {', '.join(map(str, args.seeds))}")


if __name__ == "__main__":
    main()
