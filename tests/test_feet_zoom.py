"""bench/feet_zoom.py's second look: a box re-detected on a zoomed crop comes back in the frame's
own pixels, on the same person, so the figures it prints compare like with like."""

from __future__ import annotations

import numpy as np
import pytest

from bench.feet_offset import iou_matrix
from bench.feet_zoom import zoomed_box
from edge.detector import Detector
from models.registry import find_model
from tests.quiet_clip import pets09_frames


@pytest.mark.parametrize("zoom", [0.4, 0.8])
def test_a_zoomed_look_finds_the_same_people_where_they_are(assets, zoom):
    detector = Detector.load(find_model("yolox_nano.onnx").path, score_threshold=0.3)
    image = pets09_frames(assets, 1)[0]
    first = detector(image).detections.xyxy.astype(np.float64)
    assert len(first) >= 4  # PETS09's first frame shows several people
    side_px = detector.model.input_size_px
    again = [zoomed_box(detector.model, image, box, zoom * side_px, margin=0.25) for box in first]
    found = [(box, box_again) for box, box_again in zip(first, again, strict=True) if box_again is not None]
    assert len(found) >= 0.75 * len(first)
    overlaps = [iou_matrix(box[None], box_again[None])[0, 0] for box, box_again in found]
    # mapped back wrongly (by the zoom, or the crop's corner) a box would overlap its person by far less
    assert np.median(overlaps) > 0.8
    heights = np.array([(b[3] - b[1]) / (a[3] - a[1]) for a, b in found])
    assert np.all(np.abs(heights - 1) < 0.3)
