"""The detector options of the accuracy benches. `--model`: the same bench on another registered
detector model with every other setting as the store config or the bench has it (the score
threshold included), so that what changes in the figures is the model's share alone.
`--track-score`: boxes from that score up to the score threshold go to the tracker, to continue
people it follows (`detector.track_score_threshold`)."""

from __future__ import annotations

import argparse

from footfall_core.store import Detector, StoreConfig
from models.registry import MODELS


def add_model_option(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """`--model NAME`, one of the registry's files; `default` None means the config's own."""
    fallback = default or "the config's detector.model"
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default=default,
        help=f"registered detector model file (default: {fallback})",
    )
    parser.add_argument(
        "--track-score",
        type=float,
        help="detector.track_score_threshold: boxes from this score up to the score threshold "
        "continue people the tracker follows (default: the config's, off)",
    )


def scores(detector: Detector) -> str:
    """The detector's thresholds as the benches print them."""
    low = detector.track_score_threshold
    return f"score {detector.score_threshold:g}" + (f" (from {low:g} to continue a track)" if low else "")


def with_model(config: StoreConfig, model: str | None, track_score: float | None = None) -> StoreConfig:
    """`config` whose `detector.model` is `model` and `detector.track_score_threshold`
    `track_score` (None keeps the config's), in the store's detector and in a camera's own; the
    threshold, NMS, letterbox and the cameras' tiling stay the config's. A value the store file
    would refuse (a track score not under the score threshold) raises ValueError naming it."""
    update = {k: v for k, v in (("model", model), ("track_score_threshold", track_score)) if v is not None}
    if not update:
        return config

    def changed(detector: Detector) -> Detector:
        return Detector.model_validate({**detector.model_dump(), **update})

    cameras = [
        camera.model_copy(update={"detector": changed(camera.detector)}) if camera.detector else camera
        for camera in config.cameras
    ]
    return config.model_copy(update={"detector": changed(config.detector), "cameras": cameras})
