"""The `--model` option of the accuracy benches: the same bench on another registered detector
model with every other setting as the store config or the bench has it (the score threshold
included), so that what changes in the figures is the model's share alone."""

from __future__ import annotations

import argparse

from footfall_core.store import StoreConfig
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


def with_model(config: StoreConfig, model: str | None) -> StoreConfig:
    """`config` whose `detector.model` is `model` (None keeps the config's); the threshold, NMS,
    letterbox and the cameras' tiling stay the config's."""
    if model is None:
        return config
    return config.model_copy(update={"detector": config.detector.model_copy(update={"model": model})})
