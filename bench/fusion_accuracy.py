"""Benchmark: overlapping cameras counted once, on WILDTRACK's seven calibrated views.

The dataset has no images, so a stand-in detector gives each camera the annotated boxes of
the people it sees, as a detector would: each box missed with probability `--miss` (0.1),
its edges jittered by `--jitter` (0.05) of the box's width (x) and height (y), then clipped to
the 1920x1080 frame, and dropped when less than half of it is inside (the detector sees the
part in the frame; a box cut at the bottom edge no longer ends at the feet). With
`--hidden-misses` a box is missed more the more the people in front hide it, as a detector
misses people at eye level (`FOUND_BY_HIDDEN`, `miss_chance`). Every camera's
boxes then go through the edge's own code: the tracker, the floor projection and
`--mode ownership` (each floor cell counted by one camera, `edge.floor`, then the live
snapshots merged as the publisher merges them, `edge.live`).

Printed per seed and per half of the frames (even frames are where settings were chosen,
odd frames are held out): people per frame, the store's people count per frame against the
annotated one (MAE and bias), double counts per frame (a counted person whose boxes belong to
an annotated person already counted by another: each counted person is matched to one
annotated person, one to one, by the most boxes they share, then by the most people matched),
people missed per frame, and the floor position error of the counted people against their
annotated ground position (median and 90th percentile, m).

    .venv/bin/python bench/fusion_accuracy.py [DATASET_DIR] [--seeds 0 1 2] [--mode ownership]
        [--hidden-misses]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hidden_recall import HIDDEN_BANDS, hidden_share  # noqa: E402
from bench.wildtrack import (  # noqa: E402
    DEFAULT_DATASET,
    FRAME_SIZE_PX,
    AnnotatedFrame,
    camera_name,
    read_frames,
)
from edge.analytics import Live  # noqa: E402
from edge.floor import OwnedFloor  # noqa: E402
from edge.fusion import measure  # noqa: E402
from edge.fusion_stage import FusionStage, StageOutput  # noqa: E402
from edge.live import merge  # noqa: E402
from edge.tracker import Tracker  # noqa: E402
from edge.types import Detections, FloorObservation  # noqa: E402
from footfall_core.contract import LiveMessage  # noqa: E402
from footfall_core.geometry import CameraGeometry  # noqa: E402
from footfall_core.store import StoreConfig, load_config  # noqa: E402

DEFAULT_CONFIG = ROOT / "examples" / "wildtrack.yaml"
MIN_VISIBLE = 0.5  # share of a box that must be inside the frame for the stand-in detector to find it
CONFIDENCE = 0.9  # the stand-in detector's score for every box it finds
# the share of people the detector finds at eye level, by how much the people in front hide them
# (`bench.hidden_recall.HIDDEN_BANDS`: none, under 30 %, 30-60 %, over 60 %; TUD-Campus, yolox_nano
# at score 0.3, docs/accuracy.md "Partly hidden people at eye level")
FOUND_BY_HIDDEN = (0.88, 0.86, 0.83, 0.35)
EVEN, ODD = slice(0, None, 2), slice(1, None, 2)  # settings were chosen on the even frames
# how a person's group id changed from one frame to the next: to an id they had before ("back":
# most often two neighbours' ids exchanged and exchanged back), to one new to them, or after
# they went uncounted for a frame or more
ID_CHANGES = ("back", "new", "after going uncounted")


def miss_chance(boxes_px: np.ndarray, miss: float, hidden_misses: bool) -> np.ndarray:
    """(K,) the chance that the stand-in detector misses each of one view's annotated boxes
    (K, 4) px: `miss` each, or with `hidden_misses` `miss` for those nobody hides and more the
    more the people in front hide them, as the detector finds people at eye level
    (`FOUND_BY_HIDDEN`, by the hidden share of `bench.hidden_recall`)."""
    if not hidden_misses:
        return np.full(len(boxes_px), miss)
    band = np.digitize(hidden_share(boxes_px, FRAME_SIZE_PX), HIDDEN_BANDS[1:-1])
    return 1.0 - (1.0 - miss) * np.array(FOUND_BY_HIDDEN)[band] / FOUND_BY_HIDDEN[0]


def detect(
    frame: AnnotatedFrame,
    view: int,
    rng: np.random.Generator,
    miss: float,
    jitter: float,
    *,
    hidden_misses: bool = False,
) -> tuple[Detections, np.ndarray]:
    """The stand-in detector on one view: its boxes (image px) and, for each, the index of the
    annotated person it belongs to (into frame.person_id). Misses as `miss_chance` says; the
    same draws either way, so a seed's jitter is the same with and without `hidden_misses`."""
    boxes = frame.boxes_px[:, view]
    person = np.flatnonzero(np.isfinite(boxes[:, 0]))
    boxes = boxes[person]
    found = rng.random(len(boxes)) >= miss_chance(boxes, miss, hidden_misses)
    size = np.c_[boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]][:, [0, 1, 0, 1]]
    boxes = boxes + rng.normal(size=boxes.shape) * jitter * size
    person, boxes = person[found], boxes[found]
    width, height = FRAME_SIZE_PX
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)

    def area(b: np.ndarray) -> np.ndarray:
        return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)

    with np.errstate(invalid="ignore", divide="ignore"):
        seen = area(clipped) >= MIN_VISIBLE * area(boxes)
    seen &= area(boxes) > 0
    detections = Detections(clipped[seen], np.full(int(seen.sum()), CONFIDENCE))
    return detections, person[seen]


@dataclass
class Counted:
    """What the store counted at one instant: floor positions (M, 2) m, for each counted person
    the annotated people (indices into the frame's people) whose boxes made them, and, for a
    fusion group, the id the group follows each of them by (M,) (the floor filter's: what lines,
    dwell and flows take as one person; -1: not followed yet)."""

    timestamp_s: float
    floor_xy: np.ndarray
    sources: list[np.ndarray]
    person_id: np.ndarray | None = None


def match(frame: AnnotatedFrame, counted: Counted) -> tuple[np.ndarray, np.ndarray]:
    """Counted people (rows) matched to annotated ones (cols, indices into the frame's people),
    one to one, by the most boxes they share and, among matchings that share as many, the one
    that matches the most people: a far camera's boxes of two people who stand close, exchanged
    between them, leave both counted once, not one twice and the other missed. Counted people
    left out share no box with anyone left."""
    shared = np.zeros((len(counted.sources), len(frame.person_id)))
    for row, sources in enumerate(counted.sources):
        np.add.at(shared[row], sources, 1)
    # one more box shared outweighs any number of people more matched
    rows, cols = linear_sum_assignment(-(shared * (len(shared) + 1) + (shared > 0)))
    matched = shared[rows, cols] > 0
    return rows[matched], cols[matched]


@dataclass
class Score:
    """Per-frame figures of one run, appended frame by frame. `counting_ms`: the mean time an
    instant of seven cameras took in the edge's code (tracker, floor, ownership or fusion)."""

    counting_ms: float = 0.0
    stage_ms: float = 0.0  # of which in the fusion stage (the supervisor's share), when fused
    errors: list[int] = field(default_factory=list)  # counted - annotated
    doubles: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    people: list[int] = field(default_factory=list)
    position_m: list[np.ndarray] = field(default_factory=list)  # per frame, (K,) m
    followed_as: dict[int, set[int]] = field(default_factory=dict)  # annotated person → group ids
    # changes of a person's group id from one frame to the next, by kind (`ID_CHANGES`)
    id_changes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ID_CHANGES, 0))
    _last_id: dict[int, tuple[int, int]] = field(default_factory=dict)  # person → (frame, group id)

    def add(self, frame: AnnotatedFrame, counted: Counted) -> None:
        rows, cols = match(frame, counted)
        if counted.person_id is not None:
            self._follow(frame, counted.person_id[rows], cols)
        self.errors.append(len(counted.sources) - len(frame.person_id))
        self.doubles.append(int(sum(len(s) > 0 for s in counted.sources)) - len(rows))
        self.missed.append(len(frame.person_id) - len(rows))
        self.people.append(len(frame.person_id))
        self.position_m.append(np.linalg.norm(counted.floor_xy[rows] - frame.floor_m[cols], axis=1))

    def _follow(self, frame: AnnotatedFrame, person_id: np.ndarray, cols: np.ndarray) -> None:
        """Note the group ids `person_id` of the annotated people `cols` at this frame."""
        index = len(self.errors)
        for group_id, col in zip(person_id.tolist(), cols.tolist()):
            if group_id < 0:
                continue
            person = int(frame.person_id[col])
            had = self.followed_as.setdefault(person, set())
            last = self._last_id.get(person)
            if last is not None and last[1] != group_id:
                kind = (
                    "after going uncounted" if last[0] < index - 1 else "back" if group_id in had else "new"
                )
                self.id_changes[kind] += 1
            had.add(group_id)
            self._last_id[person] = (index, group_id)

    def ids_per_person(self) -> float:
        """How many ids a group followed each annotated person by, on average over the people it
        followed (1: nobody's track ever broke or went to someone else)."""
        return float(np.mean([len(ids) for ids in self.followed_as.values()])) if self.followed_as else 0.0

    def figures(self, frames: slice) -> Figures:
        """The run's figures over `frames` (a slice of the annotated frames)."""
        errors = np.array(self.errors[frames])
        position = np.concatenate(self.position_m[frames])
        return Figures(
            len(errors),
            float(np.mean(self.people[frames])),
            float(np.abs(errors).mean()),
            float(errors.mean()),
            float(np.mean(self.doubles[frames])),
            float(np.mean(self.missed[frames])),
            float(np.median(position)),
            float(np.percentile(position, 90)),
        )


@dataclass(frozen=True)
class Figures:
    """Per-frame means over some frames: count error (MAE, bias), double counts, missed people;
    floor position error of the counted people (median, 90th percentile, m)."""

    frames: int
    people: float
    count_mae: float
    bias: float
    doubles: float
    missed: float
    position_median_m: float
    position_p90_m: float

    def line(self, label: str) -> str:
        return (
            f"{label:<24} {self.frames:>6} {self.people:>7.1f} {self.count_mae:>9.2f} {self.bias:>6.2f} "
            f"{self.doubles:>12.2f} {self.missed:>12.2f} "
            f"{self.position_median_m:>8.2f} {self.position_p90_m:>6.2f}"
        )


class OwnershipStore:
    """The store without fusion: each camera counts the people on its own floor cells, and the
    store's people are the cameras' live snapshots merged (summed), as the publisher does."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config = config.model_copy(update={"fusion": []})
        sizes = {camera.name: FRAME_SIZE_PX for camera in config.cameras}
        a = config.analysis
        self.floors, self.trackers, self.lives = {}, {}, {}
        for camera in config.cameras:
            geometry = CameraGeometry.from_config(camera, FRAME_SIZE_PX)
            self.floors[camera.name] = OwnedFloor(config, camera.name, geometry, sizes)
            self.trackers[camera.name] = Tracker(frame_rate=a.fps)
            self.lives[camera.name] = Live(
                config.store.id,
                camera.name,
                config.floor_plan,
                config.zones,
                a.live_cell_m,
                a.live_interval_s,
            )

    def count(self, timestamp_s: float, views: dict[str, tuple[Detections, np.ndarray]]) -> list[Counted]:
        floor_xy, sources, snapshots = [], [], []
        for name, (detections, person) in views.items():
            tracks = self.trackers[name].update(detections, timestamp_s)
            xy, keep = self.floors[name].project(tracks, FRAME_SIZE_PX)
            obs = FloorObservation(
                timestamp_s, 1.0 / self.config.analysis.fps, xy[keep], tracks.track_id[keep]
            )
            snapshots.append(self.lives[name].observe(obs))
            floor_xy.append(xy[keep])
            sources.extend(np.array([p]) for p in person[keep])
        live = merge(self.config.store.id, self.config.analysis.live_cell_m, snapshots)
        if live.people != len(sources):
            raise RuntimeError(f"the merged live count {live.people} is not the {len(sources)} people kept")
        return [Counted(timestamp_s, np.concatenate(floor_xy).reshape(-1, 2), sources)]

    def finish(self) -> list[Counted]:
        return []


class FusionStore:
    """The store's cameras in its fusion group: each camera's measurements (`edge.fusion.measure`)
    go to the group's stage (`edge.fusion_stage`), which fuses an instant once every camera has
    sent a later one; the store's people are the group's live snapshot."""

    def __init__(self, config: StoreConfig) -> None:
        if not config.fusion:
            raise SystemExit(f"{config.path}: no fusion group to measure (fusion: [...])")
        self.config, self.group = config, config.fusion[0]
        self.stage = FusionStage(config, self.group, {c.name: FRAME_SIZE_PX for c in config.cameras})
        self.geometries = {
            c: CameraGeometry.from_config(config.camera(c), FRAME_SIZE_PX) for c in self.group.cameras
        }
        self.trackers = {c: Tracker(frame_rate=config.analysis.fps) for c in self.group.cameras}
        self._sources: dict[tuple[str, float], np.ndarray] = {}  # (camera, time) → annotated person per row
        self.stage_s = 0.0  # time spent in the stage: what the supervisor spends on the group
        self.messages: list = []  # the group's aggregates and live snapshots, as the stage made them

    def count(self, timestamp_s: float, views: dict[str, tuple[Detections, np.ndarray]]) -> list[Counted]:
        counted = []
        for name, (detections, person) in views.items():
            tracks = self.trackers[name].update(detections, timestamp_s)
            measurements = measure(
                name,
                timestamp_s,
                self.geometries[name],
                detections,
                tracks.track_id,
                FRAME_SIZE_PX,
                self.group.feet_sigma,
                self.group.floor_sigma_m,
            )
            self._sources[(name, timestamp_s)] = person
            started = time.perf_counter()
            out = self.stage.observe(measurements)
            self.stage_s += time.perf_counter() - started
            counted += self._counted(out)
        return counted

    def finish(self) -> list[Counted]:
        return self._counted(self.stage.flush())

    def _counted(self, out: StageOutput) -> list[Counted]:
        self.messages += out.messages
        lives = [m for m in out.messages if isinstance(m, LiveMessage)]
        if len(lives) != len(out.slots):
            raise RuntimeError(f"{len(out.slots)} instants fused but {len(lives)} live snapshots")
        counted = []
        for fused, live in zip(out.slots, lives):
            if live.people != fused.counted.sum():
                raise RuntimeError(
                    f"the live count {live.people} is not the {fused.counted.sum()} people counted"
                )
            rows = [self._sources.pop((m.camera, m.timestamp_s)) for m in fused.slot.measurements]
            members = [
                np.concatenate([person[joined == p] for person, joined in zip(rows, fused.fused.person)])
                for p in np.flatnonzero(fused.counted)
            ]
            obs = fused.observation
            counted.append(Counted(fused.slot.timestamp_s, obs.floor_xy, members, obs.track_id))
        return counted


MODES = {"ownership": OwnershipStore, "fusion": FusionStore}


def run(
    config: StoreConfig,
    frames: list[AnnotatedFrame],
    mode: str,
    seed: int,
    miss: float,
    jitter: float,
    *,
    hidden_misses: bool = False,
) -> Score:
    """One seeded run of `mode` over `frames`, scored frame by frame (`detect` says what
    `hidden_misses` does)."""
    rng = np.random.default_rng(seed)
    store = MODES[mode](config)
    counted, counting_s = [], 0.0
    for frame in frames:
        views = {
            camera_name(v): detect(frame, v, rng, miss, jitter, hidden_misses=hidden_misses)
            for v in range(frame.boxes_px.shape[1])
        }
        started = time.perf_counter()
        counted += store.count(frame.timestamp_s, views)
        counting_s += time.perf_counter() - started
    counted += store.finish()
    if [round(c.timestamp_s, 3) for c in counted] != [round(f.timestamp_s, 3) for f in frames]:
        raise RuntimeError(f"{mode}: {len(counted)} instants counted for {len(frames)} annotated frames")
    stage_ms = 1000 * getattr(store, "stage_s", 0.0) / len(frames)
    score = Score(counting_ms=1000 * counting_s / len(frames), stage_ms=stage_ms)
    for frame, instant in zip(frames, counted):
        score.add(frame, instant)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the WILDTRACK store")
    parser.add_argument("--mode", choices=sorted(MODES), nargs="+", default=sorted(MODES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--miss", type=float, default=0.1, help="share of boxes the detector misses")
    parser.add_argument("--jitter", type=float, default=0.05, help="box edge noise, share of its size")
    parser.add_argument(
        "--hidden-misses",
        action="store_true",
        help="miss people more the more those in front hide them, as at eye level (FOUND_BY_HIDDEN)",
    )
    for key in ("feet_sigma", "floor_sigma_m", "gate"):
        parser.add_argument("--" + key.replace("_", "-"), type=float, help=f"the fusion group's {key}")
    args = parser.parse_args()
    config = load_config(args.config)
    settings = {k: v for k in ("feet_sigma", "floor_sigma_m", "gate") if (v := getattr(args, k)) is not None}
    if settings and config.fusion:
        group = config.fusion[0].model_copy(update=settings)
        config = config.model_copy(update={"fusion": [group, *config.fusion[1:]]})
    if config.fusion:
        g = config.fusion[0]
        print(f"group {g.name}: feet_sigma {g.feet_sigma}, floor_sigma_m {g.floor_sigma_m}, gate {g.gate}")
    frames = read_frames(args.dataset)
    print(
        f"WILDTRACK {args.dataset}: {len(frames)} annotated frames (numbers {frames[0].index}-"
        f"{frames[-1].index}), {len(config.cameras)} cameras; stand-in detector: {args.miss:.0%} "
        f"of boxes missed{' (more the more hidden: FOUND_BY_HIDDEN)' if args.hidden_misses else ''}, "
        f"edges jittered by {args.jitter:.0%} of the box size, clipped to the frame"
    )
    print(
        f"{'mode, seed, frames':<24} {'frames':>6} {'people':>7} {'count MAE':>9} {'bias':>6} "
        f"{'double/frame':>12} {'missed/frame':>12} {'pos med':>8} {'p90':>6}"
    )
    for mode in args.mode:
        for seed in args.seeds:
            score = run(config, frames, mode, seed, args.miss, args.jitter, hidden_misses=args.hidden_misses)
            for half, frames_of in (("even", EVEN), ("odd", ODD)):
                print(score.figures(frames_of).line(f"{mode} {seed} {half}"))
            stage = f", {score.stage_ms:.1f} ms of it in the fusion stage" if mode == "fusion" else ""
            print(f"{mode} {seed}: {score.counting_ms:.1f} ms of the edge's code per instant{stage}")
    print("even frames chose the settings; odd frames are held out; times on a machine that may be shared")


if __name__ == "__main__":
    main()
