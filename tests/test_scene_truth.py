"""The benches' truth (tests/scene_truth.py): annotated ids split where they move faster than
anyone walks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tests.scene_truth import split_fast_ids

GT_DTYPE = [(n, "f8") for n in ("frame", "id", "x", "y", "w", "h", "wx", "wy")]
FPS = 10.0


def track(person: int, frames: Sequence[int], wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    rows = [(f, person, 0, 0, 1, 1, x, y) for f, x, y in zip(frames, wx, wy, strict=True)]
    return np.array(rows, dtype=GT_DTYPE)


def test_an_id_that_jumps_is_split_once_and_a_walker_is_untouched():
    frames = range(1, 21)
    walker = track(1, frames, 0.2 * np.arange(20), np.zeros(20))  # 2 m/s
    # id 2 walks 1 m/s, then jumps 20 m across 5 frames (interpolated: 40 m/s), then walks on
    x = np.r_[0.1 * np.arange(8), 0.7 + 4.0 * np.arange(1, 6), 20.7 + 0.1 * np.arange(1, 8)]
    jumper = track(2, frames, x, np.full(20, 5.0))
    gt = np.concatenate([walker, jumper])

    split, ids_split = split_fast_ids(gt, FPS, above_m_s=10.0)

    assert ids_split == 1
    assert np.array_equal(split[split["id"] == 1], walker)
    before = split[split["id"] == 2]
    assert list(before["frame"]) == list(range(1, 9))
    after = split[~np.isin(split["id"], (1, 2))]
    assert len(np.unique(after["id"])) == 1, "one jump, one new id"
    assert list(after["frame"]) == list(range(13, 21)), "the positions across the jump are nobody's"
    assert after["wx"][0] == x[12]


def test_a_gap_in_the_annotation_is_judged_by_the_time_it_spans():
    """Someone unannotated for a second who comes back 3 m on walked 3 m/s: not split."""
    frames = [*range(1, 6), *range(16, 21)]
    x = np.r_[0.1 * np.arange(5), 3.4 + 0.1 * np.arange(5)]
    gt = track(7, frames, x, np.zeros(10))

    split, ids_split = split_fast_ids(gt, FPS, above_m_s=10.0)

    assert ids_split == 0
    assert np.array_equal(split, gt)
    _, split_at_2 = split_fast_ids(gt, FPS, above_m_s=2.0)
    assert split_at_2 == 1
