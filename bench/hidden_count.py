"""People counted a frame at eye level, with and without counting the people hidden behind
others (`edge.hidden`), against the annotated boxes.

Occupancy counts every person found plus those the tracker lost behind someone in front
(`analysis.hidden_hold_s`). This bench replays an annotated recording (TUD-Campus by default:
eye level, 71 frames at 25 fps, no floor calibration, so in the image) through the detector
(yolox_nano unless `--model`, one whole-frame pass, the store's default score and NMS), the
image tracker and the hidden rule, at every `--steps`-th frame from each possible first frame
(step 5 is the default 5 analysed frames a second; each first frame is one run of the family).
People count only where their feet are on the walkway (rows from `--floor-top-px`: above it are
the building's windows, behind which seated people are found but not annotated, as an image
mask would leave them out). Printed per hold and run: the count's error a frame against the
annotated people (MAE, bias), the share of annotated people a box finds (detected or held;
`bench/hidden_recall.py`'s pairing), that share among the more than 60 % hidden, and the held
boxes a frame.

    .venv/bin/python bench/hidden_count.py                       # TUD-Campus, steps 1 3 5
    .venv/bin/python bench/hidden_count.py --hold 0 0.7 1.5 --steps 5
    .venv/bin/python bench/hidden_count.py --model person_detector_192.onnx
    .venv/bin/python bench/hidden_count.py --track-score 0.1  # low boxes continue tracks
    .venv/bin/python bench/hidden_count.py --video FILE --gt gt.txt --floor-top-px 0

About 10 s for TUD-Campus (the detector runs once a frame; the runs re-use its boxes).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hidden_recall import found, hidden_share
from bench.model_option import add_model_option, scores
from edge.detector import Detector
from edge.hidden import hidden
from edge.tracker import Tracker, joined
from edge.types import Detections
from footfall_core.assets import assets_dir
from footfall_core.store import Analysis
from footfall_core.store import Detector as DetectorSettings
from models.footage import video_frames
from models.registry import find_model
from tests.gt import mot_gt

MOSTLY_HIDDEN = 0.6  # the hidden share above which the detector finds about one in three
FLOOR_TOP_PX = 290.0  # TUD-Campus: the walkway's far edge, the building's base


@dataclass(frozen=True)
class Scene:
    """An annotated recording and the detector's people on it, frame by frame: annotated boxes
    (K, 4) xyxy px, each one's hidden share (K,), and the people found whose feet are on the
    floor (rows from `floor_top_px`)."""

    annotated: list[np.ndarray]
    shares: list[np.ndarray]
    detected: list[Detections]


def scene(
    video: Path,
    gt_txt: Path,
    floor_top_px: float,
    model: str = DetectorSettings().model,
    track_score: float | None = None,
) -> Scene:
    """Run registered `model` (default: the store's, yolox_nano; the store's default score and NMS)
    over every frame of `video`, with boxes down to `track_score` for the tracker (default off)."""
    settings = DetectorSettings(model=model, track_score_threshold=track_score)
    detector = Detector.load(
        find_model(settings.model).path,
        score_threshold=settings.score_threshold,
        track_score_threshold=settings.track_score_threshold,
        nms_iou=settings.nms_iou,
    )
    gt = mot_gt(gt_txt)
    annotated, shares, detected = [], [], []
    for index, image in enumerate(video_frames(video)):
        rows = gt[gt["frame"] == index + 1]  # gt frames start at 1
        boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], axis=1)
        annotated.append(boxes)
        shares.append(hidden_share(boxes, (image.shape[1], image.shape[0])))
        people = detector(image).detections
        detected.append(people[people.xyxy[:, 3] >= floor_top_px])
    return Scene(annotated, shares, detected)


def counted(
    detected: list[Detections], frames: range, fps: float, hold_s: float, floor_top_px: float
) -> tuple[list[np.ndarray], int, int]:
    """The boxes occupancy counts in each of `frames` (indices into `detected`, a recording
    at `fps`), analysed in turn by the image tracker: the people found (boxes under the score
    threshold only where they continued a track, `edge.tracker.joined`), then those held as
    hidden behind them (`edge.hidden`, `hold_s` as `analysis.hidden_hold_s`) whose feet are
    on the floor, as the pipeline counts them (`CameraPipeline._with_hidden`); and over all
    frames, the boxes held and the boxes under the score threshold kept."""
    settings = DetectorSettings()
    nms_iou = settings.nms_iou
    tracker = Tracker(frame_rate=fps / frames.step)
    boxes = []
    held_total = low_total = 0
    for index in frames:
        people = joined(tracker.update(detected[index], index / fps), settings.score_threshold).detections
        lost_xyxy, lost_s = tracker.lost(hold_s)
        held = lost_xyxy[hidden(lost_xyxy, lost_s, people.xyxy.astype(np.float64), nms_iou)]
        held = held[held[:, 3] >= floor_top_px]
        boxes.append(np.concatenate([people.xyxy, held]))
        held_total += len(held)
        low_total += int(np.count_nonzero(people.confidence < settings.score_threshold))
    return boxes, held_total, low_total


def main() -> None:
    dataset = assets_dir() / "datasets/tud_campus"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=dataset / "TUD-Campus.mp4")
    parser.add_argument("--gt", type=Path, default=dataset / "gt/gt.txt")
    parser.add_argument("--fps", type=float, default=25.0, help="the recording's frame rate (default 25)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 5], help="analyse every n-th frame")
    parser.add_argument(
        "--hold",
        type=float,
        nargs="+",
        default=[0.0, Analysis().hidden_hold_s],
        help="analysis.hidden_hold_s values, s (default: off and the default)",
    )
    parser.add_argument(
        "--floor-top-px", type=float, default=FLOOR_TOP_PX, help="least image row of counted feet"
    )
    add_model_option(parser, DetectorSettings().model)
    args = parser.parse_args()
    seen = scene(args.video, args.gt, args.floor_top_px, args.model, args.track_score)
    print(
        f"{args.video}: {len(seen.annotated)} frames, {sum(map(len, seen.annotated))} annotated people, "
        f"{args.model} whole frame at {scores(DetectorSettings(track_score_threshold=args.track_score))}, "
        f"feet from row {args.floor_top_px:g}"
    )
    for step in args.steps:
        for hold_s in args.hold:
            for first in range(step):
                frames = range(first, len(seen.detected), step)
                boxes, held, low = counted(seen.detected, frames, args.fps, hold_s, args.floor_top_px)
                error = np.array([len(b) - len(seen.annotated[i]) for i, b in zip(frames, boxes)])
                hits = [found(seen.annotated[i], b) for i, b in zip(frames, boxes)]
                mostly = [hit[seen.shares[i] > MOSTLY_HIDDEN] for i, hit in zip(frames, hits)]
                print(
                    f"every {step} frame(s) from {first + 1}, hold {hold_s:g} s: count MAE "
                    f"{np.abs(error).mean():.2f}, bias {error.mean():+.2f} a frame; found "
                    f"{np.concatenate(hits).mean():.2f}, more than {MOSTLY_HIDDEN:.0%} hidden "
                    f"{np.concatenate(mostly).mean():.2f}; held {held / len(frames):.2f}, low-score "
                    f"continuing a track {low / len(frames):.2f} a frame",
                    flush=True,
                )


if __name__ == "__main__":
    main()
