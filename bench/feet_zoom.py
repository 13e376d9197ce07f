"""Does a second, closer look place the feet better? Each detection re-detected on a zoomed crop.

The model sees a 768×576 PETS09 frame letterboxed to 416 px (yolox_nano) or 192 px
(person_detector_192): a person 60-130 px tall is 30-70 model px, and the box's bottom, where
the edge puts the feet, spreads a few percent of the height around them (bench/feet_offset.py).
This bench pairs each detection with the annotated box as bench/feet_offset.py does, then runs
the model once more on a crop around the detection (the box plus `--margin` × its height above
and below, at least 0.8 × its height wide), scaled so the person is `--zoom` × the model's input
side tall, and keeps the re-detected box that overlaps the first most (IoU at least
`LEAST_IOU`; else the first box stays, counted as not found again). Printed per scene, model
and zoom: the bottom's median |error| as a share of the annotated height, its quartiles and 90th
percentile, against the same pairs' first boxes. One extra model pass per person looked at.

    .venv/bin/python bench/feet_zoom.py              # PETS09 and TUD-Campus, both models, ~2 min
    .venv/bin/python bench/feet_zoom.py --zoom 0.5 --margin 0.5 --models yolox_nano.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feet_offset import (
    LEAST_IOU,
    SCORE,
    annotated_frames,
    frame_pairs,
    iou_matrix,
    scene_options,
    scenes,
)
from edge.detector import Detector
from edge.model import PersonModel
from models.letterbox import PAD_VALUE, as_blob, stride_ceil
from models.registry import find_model

LEAST_WIDTH = 0.8  # a crop is at least this share of the box's height wide: room for arms and legs


def zoomed_box(
    model: PersonModel, image: np.ndarray, box: np.ndarray, person_px: float, margin: float
) -> np.ndarray | None:
    """(4,) xyxy image px: the box the model finds on a crop around `box` scaled so the box is
    `person_px` model px tall, the one overlapping `box` most; None if none overlaps it by
    `LEAST_IOU`."""
    height_px, width_px = image.shape[:2]
    x0, y0, x1, y1 = box
    box_h = y1 - y0
    centre_x = (x0 + x1) / 2
    half_w = max((x1 - x0) / 2 + margin * box_h, LEAST_WIDTH / 2 * box_h)
    cx0, cy0 = int(max(0, np.floor(centre_x - half_w))), int(max(0, np.floor(y0 - margin * box_h)))
    cx1 = int(min(width_px, np.ceil(centre_x + half_w)))
    cy1 = int(min(height_px, np.ceil(y1 + margin * box_h)))
    crop = image[cy0:cy1, cx0:cx1]
    zoom = person_px / box_h
    out_w, out_h = max(1, round(crop.shape[1] * zoom)), max(1, round(crop.shape[0] * zoom))
    canvas = np.full((stride_ceil(out_h), stride_ceil(out_w), 3), PAD_VALUE, np.uint8)
    canvas[:out_h, :out_w] = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    found, _ = model.boxes(as_blob(canvas), 1.0)
    if not len(found):
        return None
    scale = np.array([out_w / crop.shape[1], out_h / crop.shape[0]] * 2)
    back = found.astype(np.float64) / scale + np.array([cx0, cy0, cx0, cy0])
    overlap = iou_matrix(box[None], back)[0]
    best = int(np.argmax(overlap))
    return back[best] if overlap[best] >= LEAST_IOU else None


def main() -> None:
    parser = scene_options(__doc__ or "")
    parser.add_argument(
        "--zoom", type=float, nargs="+", default=[0.4, 0.6, 0.8], help="person height / model input side"
    )
    parser.add_argument(
        "--margin", type=float, default=0.25, help="crop margin above and below, share of the height"
    )
    args = parser.parse_args()
    print(
        f"detected against annotated boxes, score >= {SCORE}, IoU >= {LEAST_IOU}, boxes off the edges; "
        f"crop margin {args.margin}"
    )
    for video, gt_txt in scenes(args):
        for model_name in args.models:
            detector = Detector.load(find_model(model_name).path, score_threshold=SCORE)
            side_px = detector.model.input_size_px
            errors: dict[str, list[float]] = {"first box": [], **{f"zoom {z}": [] for z in args.zoom}}
            lost = dict.fromkeys(args.zoom, 0)
            for image, rows, boxes in annotated_frames(video, gt_txt, args.every):
                _, annotated_boxes, detected = frame_pairs(image, rows, boxes, detector)
                for annotated, first in zip(annotated_boxes, detected, strict=True):
                    annotated_h = annotated[3] - annotated[1]
                    errors["first box"].append((first[3] - annotated[3]) / annotated_h)
                    for zoom in args.zoom:
                        again = zoomed_box(detector.model, image, first, zoom * side_px, args.margin)
                        lost[zoom] += again is None
                        errors[f"zoom {zoom}"].append(
                            ((first if again is None else again)[3] - annotated[3]) / annotated_h
                        )
            pairs = len(errors["first box"])
            print(f"{video.name} {model_name}: {pairs} pairs, model side {side_px} px")
            for name, values in errors.items():
                if not values:
                    continue
                spread = np.abs(np.array(values))
                q1, median, q3, p90 = np.percentile(spread, [25, 50, 75, 90])
                not_found = "" if name == "first box" else f"; not found again {lost[float(name.split()[1])]}"
                print(
                    f"  {name:9s} bottom |error| median {median:.2%} (quartiles {q1:.2%} .. {q3:.2%}, "
                    f"p90 {p90:.2%}){not_found}"
                )


if __name__ == "__main__":
    main()
