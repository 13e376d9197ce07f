"""Ground truth of the shared footage, read straight from the dataset files (tests only)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

PETS_FPS = 7.0  # seqinfo.ini frameRate: each GT frame stands for 1/7 s


def pets09_gt(assets: Path) -> np.ndarray:
    """PETS09-S2L1 gt.txt rows with flag=1, as a structured array: frame (1-based), id, box
    x, y, w, h (image px) and wx, wy (ground-plane metres, the examples/pets09.yaml floor)."""
    raw = np.loadtxt(assets / "datasets/pets09_s2l1/gt/gt.txt", delimiter=",")
    raw = raw[raw[:, 6] == 1]
    names = ["frame", "id", "x", "y", "w", "h", "wx", "wy"]
    out = np.zeros(len(raw), dtype=[(n, "f8") for n in names])
    for k, n in enumerate(["frame", "id", "x", "y", "w", "h"]):
        out[n] = raw[:, k]
    out["wx"], out["wy"] = raw[:, 7], raw[:, 8]
    return out
