"""Where models and sample footage live: `FOOTFALL_ASSETS`, else `../shared` beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    env = os.environ.get("FOOTFALL_ASSETS")
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared").resolve()


def expand(text: str) -> str:
    """Expand `${FOOTFALL_ASSETS}` (defaulted as above) and other environment variables."""
    env = dict(os.environ)
    env.setdefault("FOOTFALL_ASSETS", str(assets_dir()))
    for key, value in env.items():
        text = text.replace("${" + key + "}", value)
    return text
