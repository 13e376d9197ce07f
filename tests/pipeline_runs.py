"""Pipeline runs over the shared footage, cached per process so that every test module that
needs one (accuracy, privacy) pays for it once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from edge.pipeline import CameraPipeline, Heartbeat, recording_config
from footfall_core.assets import REPO_ROOT
from footfall_core.store import StoreConfig, Tiling, load_config

START = "2024-05-01T09:00:00Z"  # a fixed first-frame time: buckets are reproducible


@dataclass(frozen=True)
class Run:
    config: StoreConfig
    messages: tuple  # every message the pipeline yielded, heartbeats left out
    frames_read: int
    frames_analysed: int
    wall_s: float


def example(name: str, camera: str, **analysis) -> StoreConfig:
    """examples/<name>.yaml replaying `camera` from START, with analysis settings overridden."""
    config = recording_config(load_config(REPO_ROOT / "examples" / f"{name}.yaml"), camera, start=START)
    if analysis:
        config = config.model_copy(update={"analysis": config.analysis.model_copy(update=analysis)})
    return config


@cache
def run_example(name: str, camera: str, tiling: Tiling | None | str = "as shipped", **analysis) -> Run:
    """Replay one example camera through the whole pipeline; `tiling` replaces the cameras'
    tiling (None turns it off)."""
    config = example(name, camera, **analysis)
    if tiling != "as shipped":
        cameras = [c.model_copy(update={"tiling": tiling}) for c in config.cameras]
        config = config.model_copy(update={"cameras": cameras})
    pipeline = CameraPipeline(config, camera)
    started = time.perf_counter()
    messages = tuple(m for m in pipeline.run() if not isinstance(m, Heartbeat))
    wall_s = time.perf_counter() - started
    return Run(config, messages, pipeline.frames_read, pipeline.frames_analysed, wall_s)
