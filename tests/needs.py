"""What a test needs from the machine: a skip on a developer's machine that lacks it, a failure
under CI (`CI` set, as `.ci/run` does), where a missing tool must never pass as a skipped test."""

from __future__ import annotations

import os

import pytest


def need(available: bool, what: str) -> None:
    """Skip (outside CI) or fail (under CI) the calling test unless `available`; `what` says
    what is missing and how to get it."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI runs every test: nothing may be skipped)")
    pytest.skip(what)
