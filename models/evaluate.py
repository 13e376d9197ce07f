"""How far a derived model's people (INT8, batched) are from the original's and the ground truth:
one-to-one box matches at IoU >= 0.5, greedy by IoU, as recall and precision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

IOU = 0.5


def matches(found: np.ndarray, truth: np.ndarray, iou_min: float = IOU) -> int:
    """One-to-one matches between (N, 4) and (K, 4) xyxy boxes at IoU >= `iou_min`."""
    if len(found) == 0 or len(truth) == 0:
        return 0
    top_left = np.maximum(found[:, None, :2], truth[None, :, :2])
    bottom_right = np.minimum(found[:, None, 2:], truth[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    found_area = (found[:, 2:] - found[:, :2]).prod(axis=1)
    truth_area = (truth[:, 2:] - truth[:, :2]).prod(axis=1)
    iou = inter / (found_area[:, None] + truth_area[None, :] - inter)
    count = 0
    while iou.max() >= iou_min:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        iou[i, :], iou[:, j] = -1, -1
        count += 1
    return count


def recall_precision(found: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> tuple[float, float]:
    """(recall, precision) of per-frame boxes `found` against per-frame boxes `truth`."""
    hits = sum(matches(f, t) for f, t in zip(found, truth, strict=True))
    return hits / max(1, sum(len(t) for t in truth)), hits / max(1, sum(len(f) for f in found))
