"""Deterministic fault injection for the fault-matrix tests (tests/test_faults.py).

`FOOTFALL_FAULT=<point>[@<n>]` in a process's environment kills it with SIGKILL the n-th time
(default: the first) it passes `point(<point>)`: no cleanup, no goodbye, exactly as a power cut
or the OOM killer would, but at a chosen instant. Unset, `point` is one dictionary lookup.

Points:
- `ingest.after_commit`: a batch is committed to the database, nothing of it is confirmed to
  the edge nor acknowledged to the broker yet.
"""

from __future__ import annotations

import os
import signal

_POINT, _, _NTH = os.environ.get("FOOTFALL_FAULT", "").partition("@")
_passes: dict[str, int] = {}


def point(name: str) -> None:
    if name != _POINT:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] == int(_NTH or 1):
        os.kill(os.getpid(), signal.SIGKILL)
