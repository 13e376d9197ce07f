"""Can the image place the feet better than the detected box's bottom, without another model pass?

The edge places a person at the bottom centre of their box, and the boxes' bottoms spread a few
percent of a person's height around the annotated feet (`bench/feet_offset.py`), which far from
the camera is a few tenths of a metre on the floor. This bench pairs detections with annotated
boxes as `bench/feet_offset.py` does and prints, per scene and model, where each of these puts
the feet's row against the annotated bottom, as a share of the annotated height (positive:
below it): median |error|, its 90th percentile, and the quartiles, over all pairs and split
into slow and fast people (the annotated bottom centre moving under / over `SLOW_HEIGHTS_PER_S`
heights a second over ±2 annotated frames; a background model absorbs people who stand still):

- `box bottom`: the detector's box, as the edge places people;
- `median background`: a background made of the median of up to `MEDIAN_FRAMES` frames spread
  over the whole recording (it sees the future: the best a background model could do on these
  frames), foreground where a colour channel differs from it by more than `DIFF_LEVELS`; the
  feet's row is where the foreground ends (`lowest_foreground_row`);
- `MOG2`, `KNN`: OpenCV's adaptive background subtractors fed every frame in order, as a
  camera would run them, shadows left out of the foreground; the same row rule;
- `MOG2, shadows in the foreground`: the same with what MOG2 calls shadow kept as foreground
  (a person's shoes and the shadow at their feet both differ from the floor by darkening it);
- `vertical gradient`: the row of the strongest vertical change of brightness across the box's
  central half within ±`GRADIENT_BAND` of its height around its bottom;
- `mean: box and median background`: the mean of the box's bottom and the median background's
  row, two estimates whose errors might cancel;
- `box bottom, fit over time`: each person's box bottoms fitted by a straight line over ±2
  annotated frames of theirs, the value at the frame (it sees the future too: the most a filter
  over time could take off a box's jitter).

It also prints how far the box's bottom and the median background's row lie from each other
and the correlation of their errors: two readings of the image that agree with each other
better than with the annotation, their errors correlated, leave the rest to where the
annotation and the image's pixels differ, which no reading of the pixels takes off.

Run `.venv/bin/python bench/feet_from_image.py [--scene VIDEO GT.txt ...] [--models FILE ...]`:
PETS09 (elevated, every third frame) and TUD-Campus (eye level, every frame) by default, both
shared models, about two and a half minutes. A scene's frame rate is read from the seqinfo.ini beside its gt
folder (MOTChallenge layout), else given with --fps.
"""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feet_offset import SCORE, annotated_frames, frame_pairs, scene_options, scenes
from edge.detector import Detector
from models.footage import video_frames
from models.registry import find_model
from tests.gt import mot_gt

MEDIAN_FRAMES = 150  # frames in the median background, spread over the recording
DIFF_LEVELS = 30  # of 255: a person against the floor, not sensor noise (15 takes in shadows)
SEARCH_ABOVE = 0.15  # share of the box's height searched above its bottom for the feet's row
SEARCH_BELOW = 0.10  # and below it
LEAST_FOREGROUND = 0.15  # share of a row's pixels across the box that makes it part of the person
GRADIENT_BAND = 0.10  # share of the box's height searched either side of its bottom
SLOW_HEIGHTS_PER_S = 0.25  # slower than this is "slow": standing or shuffling
FIT_SAMPLES = 2  # each side, for `box bottom, fit over time`

METHODS = [
    "box bottom",
    "median background",
    "MOG2",
    "KNN",
    "MOG2, shadows in the foreground",
    "vertical gradient",
    "mean: box and median background",
    "box bottom, fit over time",
]


def lowest_foreground_row(foreground: np.ndarray, box: np.ndarray) -> float | None:
    """Where the person's foreground ends below: the image row (px, the lower edge of the last
    row) in which the run of foreground rows met first in the search band, from `SEARCH_ABOVE` of
    the box's height above its bottom to `SEARCH_BELOW` below, stops (gaps of up to 2 rows
    bridged). A row is foreground where at least `LEAST_FOREGROUND` of its pixels across the box's
    width are, after a 3×3 opening of `foreground` (H, W) bool (whole frame), which takes off
    specks of noise. None when no row in the band is."""
    height_px = box[3] - box[1]
    rows, cols = foreground.shape
    x0, x1 = int(max(0, np.floor(box[0]))), int(min(cols, np.ceil(box[2])))
    top = int(np.clip(round(box[3] - SEARCH_ABOVE * height_px), 0, rows - 1))
    bottom = int(np.clip(round(box[3] + SEARCH_BELOW * height_px), top, rows - 1))
    if x1 <= x0:
        return None
    crop = foreground[max(0, top - 1) : bottom + 2, x0:x1].astype(np.uint8)
    crop = cv2.morphologyEx(crop, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    share = crop.mean(axis=1)[top - max(0, top - 1) :]
    found = np.nonzero(share[: bottom - top + 1] >= LEAST_FOREGROUND)[0]
    if not len(found):
        return None
    last = found[0]
    for row in found[1:]:
        if row - last > 2:
            break
        last = row
    return float(top + last + 1)


def strongest_gradient_row(gray: np.ndarray, box: np.ndarray) -> float:
    """The image row (px, centre of the row) within ±`GRADIENT_BAND` of the box's height around
    its bottom where the brightness of `gray` (H, W) changes most downward, averaged over the
    box's central half (3-row mean)."""
    height_px = box[3] - box[1]
    rows, cols = gray.shape
    top = int(np.clip(round(box[3] - GRADIENT_BAND * height_px), 1, rows - 2))
    bottom = int(np.clip(round(box[3] + GRADIENT_BAND * height_px), top, rows - 2))
    quarter = (box[2] - box[0]) / 4
    x0, x1 = int(max(0, box[0] + quarter)), int(min(cols, box[2] - quarter))
    x1 = max(x1, x0 + 1)
    strip = gray[top - 1 : bottom + 2, x0:x1].astype(np.float32)
    change = np.abs(cv2.Sobel(strip, cv2.CV_32F, 0, 1, ksize=3)).mean(axis=1)
    change = np.convolve(change, np.ones(3) / 3, mode="same")[1:-1]
    return top + float(np.argmax(change)) + 0.5


def median_background(video: Path) -> np.ndarray:
    """(H, W, 3) uint8: the per-pixel median of up to `MEDIAN_FRAMES` frames spread evenly over
    the recording."""
    count = int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT)) or MEDIAN_FRAMES
    step = max(1, count // MEDIAN_FRAMES)
    frames = [frame for index, frame in enumerate(video_frames(video)) if index % step == 0]
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def frame_rate(gt_txt: Path, fps: float | None) -> float:
    """`fps` if given, else frameRate of the seqinfo.ini beside `gt_txt`'s folder."""
    if fps:
        return fps
    info = configparser.ConfigParser()
    if not info.read(gt_txt.parent.parent / "seqinfo.ini"):
        raise SystemExit(f"no seqinfo.ini beside {gt_txt.parent}: give the frame rate with --fps")
    return float(info["Sequence"]["frameRate"])


def speeds(gt: np.ndarray, fps: float) -> dict[tuple[float, float], float]:
    """(person id, frame) -> how fast the annotated bottom centre moves, heights a second, over
    ±2 annotated frames of that person (NaN for a person annotated once)."""
    out = {}
    for person in np.unique(gt["id"]):
        rows = np.sort(gt[gt["id"] == person], order="frame")
        centre, bottom = rows["x"] + rows["w"] / 2, rows["y"] + rows["h"]
        for k in range(len(rows)):
            a, b = max(0, k - 2), min(len(rows) - 1, k + 2)
            seconds = (rows["frame"][b] - rows["frame"][a]) / fps
            moved = np.hypot(centre[b] - centre[a], bottom[b] - bottom[a])
            out[(person, rows["frame"][k])] = moved / seconds / rows["h"][k] if b > a else np.nan
    return out


def fit_over_time(person: np.ndarray, frame: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """(P,) each pair's box bottom (image px) as a straight line fitted to the same person's box
    bottoms over ±`FIT_SAMPLES` of their paired frames gives it; the raw bottom where fewer than
    3 are there."""
    out = bottom.copy()
    for someone in np.unique(person):
        mine = np.nonzero(person == someone)[0]
        mine = mine[np.argsort(frame[mine])]
        for k, pair in enumerate(mine):
            near = mine[max(0, k - FIT_SAMPLES) : k + FIT_SAMPLES + 1]
            if len(near) >= 3:
                out[pair] = np.polyval(np.polyfit(frame[near], bottom[near], 1), frame[pair])
    return out


def feet_rows(video: Path, gt_txt: Path, model: str, every: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's annotated (person id, frame, bottom, height) (P, 4) and the feet's row by each
    of `METHODS` (P, len(METHODS)), image px."""
    detector = Detector.load(find_model(model).path, score_threshold=SCORE)
    background = median_background(video).astype(np.int16)
    subtractors = [cv2.createBackgroundSubtractorMOG2(), cv2.createBackgroundSubtractorKNN()]
    annotated = annotated_frames(video, gt_txt, every)
    wanted = next(annotated, None)
    truth, rows = [], []
    for index, image in enumerate(video_frames(video)):
        labels = [subtractor.apply(image) for subtractor in subtractors]  # 255 person, 127 shadow
        if wanted is None or wanted[1]["frame"][0] != index + 1:  # gt frames start at 1
            continue
        _, gt_rows, boxes = wanted
        wanted = next(annotated, None)
        gt_rows, annotated_boxes, detected = frame_pairs(image, gt_rows, boxes, detector)
        if not len(detected):
            continue
        different = np.abs(image.astype(np.int16) - background).max(axis=2) > DIFF_LEVELS
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        for g, box in enumerate(detected):
            bottom = box[3]
            masks = (different, labels[0] == 255, labels[1] == 255, labels[0] > 0)
            found = [lowest_foreground_row(mask, box) for mask in masks]
            median, mog2, knn, mog2_shadows = (bottom if row is None else row for row in found)
            gradient = strongest_gradient_row(gray, box)
            rows.append([bottom, median, mog2, knn, mog2_shadows, gradient, (bottom + median) / 2])
            top, bottom_true = annotated_boxes[g, 1], annotated_boxes[g, 3]
            truth.append([gt_rows["id"][g], gt_rows["frame"][g], bottom_true, bottom_true - top])
    truth_array, rows_array = np.array(truth).reshape(-1, 4), np.array(rows).reshape(-1, len(METHODS) - 1)
    fitted = fit_over_time(truth_array[:, 0], truth_array[:, 1], rows_array[:, 0])
    return truth_array, np.column_stack([rows_array, fitted])


def summary(error: np.ndarray) -> str:
    """Median |error|, its 90th percentile and the quartiles of `error` (shares of a height)."""
    if not len(error):
        return "no pairs"
    q1, q3 = np.percentile(error, [25, 75])
    magnitude = np.abs(error)
    return f"{np.median(magnitude):4.1%} (p90 {np.percentile(magnitude, 90):4.1%}; {q1:+.1%} .. {q3:+.1%})"


def main() -> None:
    parser = scene_options(__doc__ or "")
    parser.add_argument("--fps", type=float, help="the scenes' frame rate (default: their seqinfo.ini)")
    args = parser.parse_args()
    print(
        "feet's row against the annotated bottom, share of the height: median |error| (90th "
        "percentile; quartiles)"
    )
    for video, gt_txt in scenes(args):
        speed = speeds(mot_gt(gt_txt), frame_rate(gt_txt, args.fps))
        for model in args.models:
            truth, rows = feet_rows(video, gt_txt, model, args.every)
            slow = np.array([speed[(person, frame)] < SLOW_HEIGHTS_PER_S for person, frame, *_ in truth])
            print(f"{video.name} {model}: {len(truth)} pairs, {slow.sum()} slow, {(~slow).sum()} fast")
            for k, name in enumerate(METHODS):
                error = (rows[:, k] - truth[:, 2]) / truth[:, 3]
                split = f"slow {summary(error[slow])}   fast {summary(error[~slow])}"
                print(f"  {name:32s} {summary(error)}   {split}")
            box, median = ((rows[:, k] - truth[:, 2]) / truth[:, 3] for k in (0, 1))
            correlation, apart = np.corrcoef(box, median)[0, 1], np.median(np.abs(box - median))
            print(
                f"  the box's and the median background's errors: correlation {correlation:+.2f}, "
                f"{apart:.1%} apart (median); annotated height {np.median(truth[:, 3]):.0f} px (median)"
            )


if __name__ == "__main__":
    main()
