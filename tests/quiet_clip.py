"""A quiet-then-busy recording made from PETS09-S2L1: first `empty_s` seconds of the empty
walkway, then the real clip. Real shops are empty for long stretches (opening, lunch, night)
but none of the shared recordings is, so the speed levers that act on empty or still scenes
(edge.gating, edge.adaptive) are measured on this clip as well as on the real one.

The empty walkway is the per-pixel median of every 8th frame of the whole clip (walkers move,
the median keeps the background), with Gaussian sensor noise (`noise_sd` grey levels, new every
frame) and JPEG compression, like a real still camera picture. Nobody is in it, so every
ground-truth figure of the clip (tests/gt.py) holds for the whole recording, shifted by
`empty_s` seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from footfall_core.store import StoreConfig
from models.footage import video_frames
from tests.gt import PETS_FPS

PATTERN = "seq_%06d.jpg"
# The detector sees a person (score 0.45) in the blue sign at the top left of the empty walkway,
# on every frame: a camera showing this scene masks it out (image px), as an installer would, or
# the empty scene never looks empty to the adaptive rate.
SIGN_MASKED_PX = [(0.0, 150.0), (60.0, 150.0), (60.0, 0.0), (768.0, 0.0), (768.0, 576.0), (0.0, 576.0)]


def pets09_stream(assets: Path, count: int | None = None) -> Iterator[np.ndarray]:
    """The first `count` (default all 795) decoded frames of vtest.avi, BGR uint8, one by one."""
    return video_frames(assets / "datasets/pets09_s2l1/vtest.avi", count)


def pets09_frames(assets: Path, count: int | None = None) -> list[np.ndarray]:
    """The first `count` (default all 795) decoded frames of vtest.avi, in memory (1.3 MB each)."""
    return list(pets09_stream(assets, count))


def empty_background(frames: list[np.ndarray], every: int = 8) -> np.ndarray:
    """Per-pixel median of every `every`th frame: the scene without the people walking through it."""
    return np.median(np.stack(frames[::every]), axis=0).astype(np.uint8)


def write_quiet_clip(
    assets: Path,
    out_dir: Path,
    empty_s: float,
    count: int | None = None,
    noise_sd: float = 2.0,
    seed: int = 0,
) -> tuple[str, int]:
    """JPEG frames in `out_dir`: `empty_s` seconds of the empty walkway, then the first `count`
    frames of the clip. Returns (image pattern for a camera source, number of empty frames)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # from the whole recording whatever `count`: the median of fewer frames keeps a ghost of
    # someone who stands still for a while (the detector finds one in the first 200 frames')
    sampled = [image for i, image in enumerate(pets09_stream(assets)) if i % 8 == 0]
    background = empty_background(sampled, every=1).astype(np.float32)
    rng = np.random.default_rng(seed)
    empty = round(empty_s * PETS_FPS)
    for index in range(empty):
        noisy = np.clip(background + rng.normal(0, noise_sd, background.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(out_dir / (PATTERN % (index + 1))), noisy, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for index, image in enumerate(pets09_stream(assets, count), start=empty + 1):
        cv2.imwrite(str(out_dir / (PATTERN % index)), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return str(out_dir / PATTERN), empty


def quiet_config(config: StoreConfig, camera: str, pattern: str) -> StoreConfig:
    """`config` (examples/pets09.yaml) with `camera` reading the quiet clip, the sign masked."""
    update = {"source": pattern, "start_index": 1, "image_mask_px": SIGN_MASKED_PX}
    cameras = [c.model_copy(update=update) if c.name == camera else c for c in config.cameras]
    return config.model_copy(update={"cameras": cameras})
