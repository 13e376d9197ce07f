"""People hidden behind someone in front: still counted while they are plausibly occluded.

Why: occupancy counts every person the detector finds, and at eye level the detector finds a
person more than 60 % hidden behind others only about one time in three (TUD-Campus; 83 % of
those 30-60 % hidden; docs/accuracy.md, "Partly hidden people at eye level"). A crowded zone's
occupancy then reads low. The image tracker knows whom it was following and where it predicts
them; when one of them is not found, and a person found in this frame stands in front of
where they should be, they are most likely behind that person, not gone.

The rule, per person the tracker followed (a confirmed id) and did not find in this frame:
- lost at most `analysis.hidden_hold_s` ago (`Tracker.lost`): the default, 0.7 s, is how long
  one walker hides another as they pass, two body widths (0.5 m each) at a walking pace
  (1.5 m/s); longer, the person in front is walking along with them or standing, and the
  hidden one may as well have left;
- the box the tracker predicts for them is mostly covered, more than half of it (`COVERED`), by
  one box found in this frame whose bottom is lower in the image: someone standing nearer the
  camera, in front of them on the floor (the detector's finds fall off past half hidden, above);
- of two such predicted boxes overlapping more than the detector's own NMS IoU, which would
  have been one box, only the one seen last counts (a person the tracker followed twice).

Such a person counts for occupancy and heat at their predicted box's feet, as a row without a
track id: not for lines, dwell or flows, whose counts must not come from a prediction.
"""

from __future__ import annotations

import numpy as np

COVERED = 0.5  # least share of a predicted box inside one box in front: mostly hidden


def hidden(lost_xyxy: np.ndarray, lost_s: np.ndarray, found_xyxy: np.ndarray, nms_iou: float) -> np.ndarray:
    """(K,) bool: which lost people, their predicted boxes `lost_xyxy` (K, 4) image px and the
    seconds since each was seen `lost_s` (K,), are hidden behind one of this frame's boxes
    `found_xyxy` (M, 4) px (see the module docstring); `nms_iou` is the detector's. On Python
    floats: a frame has a few lost people and a few dozen found, and numpy's calls on arrays
    that small cost several times the arithmetic."""
    keep = np.zeros(len(lost_xyxy), bool)
    found = found_xyxy.tolist()
    lost = lost_xyxy.tolist()
    kept: list[list[float]] = []
    for k in sorted(range(len(lost)), key=lost_s.tolist().__getitem__):  # the one seen last first
        x0, y0, x1, y1 = lost[k]
        least = COVERED * max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
        if any(
            fy1 > y1 and max(min(x1, fx1) - max(x0, fx0), 0.0) * max(y1 - max(y0, fy0), 0.0) > least
            for fx0, fy0, fx1, fy1 in found
        ) and all(_iou(lost[k], other) <= nms_iou for other in kept):
            keep[k] = True
            kept.append(lost[k])
    return keep


def _iou(a: list[float], b: list[float]) -> float:
    """IoU of two xyxy boxes."""
    overlap = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0
