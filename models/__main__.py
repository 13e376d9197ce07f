"""`python -m models list | verify [--models-dir D]`: the registered models and their files' state
("ok", "missing" or "altered"); `list` adds what each model is, `verify` the expected sha256.

`verify` exits 1 when any registered model is missing or altered, so scripts can gate on it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.registry import MODELS, default_models_dir, model_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    parser.add_argument("command", choices=["list", "verify"])
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="directory holding the weights (default ${FOOTFALL_ASSETS}/models)")
    args = parser.parse_args(argv)
    directory = args.models_dir or default_models_dir()
    print(f"models directory: {directory}")
    bad = 0
    for name, spec in MODELS.items():
        status = model_status(name, directory)
        bad += status != "ok"
        if args.command == "list":
            print(f"{name:28s} {status:8s} input {spec.input_size_px}px  layout {spec.layout:11s} "
                  f"classes {spec.num_classes:3d} person={spec.person_class}  {spec.license}  {spec.origin}")
        else:
            print(f"{name:28s} {status:8s} sha256 {spec.sha256}")
    return 1 if bad and args.command == "verify" else 0


if __name__ == "__main__":
    sys.exit(main())
