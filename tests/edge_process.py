"""`python -m edge run` as its own process, for the tests of how it starts, stops and reconnects."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from footfall_core.assets import REPO_ROOT


@contextmanager
def edge_run(config: Path, *args: str, **popen) -> Iterator[subprocess.Popen]:
    """`python -m edge run --config CONFIG ARGS` (`popen`: Popen's keywords, e.g. where its
    output goes) in a process group of its own, killed with every process left in it on the way
    out, so that a failed test leaves no camera running."""
    command = [sys.executable, "-m", "edge", "run", "--config", str(config), *args]
    process = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True, **popen)
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
