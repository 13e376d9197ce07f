"""Files the calibration page opens by a path that a config or a request names: only inside
directories the installer chose, so that neither an edited store YAML nor a request can make the
page read (or tell whether there is) any other file on the device."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def confined(path: Path | str, roots: Sequence[Path]) -> Path | None:
    """`path` made absolute with symbolic links followed, if it lies inside one of `roots` (also
    resolved); None otherwise. A link inside a root that leads out of it is outside."""
    real = Path(path).expanduser().resolve()
    return real if any(real.is_relative_to(Path(root).resolve()) for root in roots) else None
