"""`python -m models list | verify [--models-dir D]`: the registered models and their files' state
("ok", "missing" or "altered"); `list` adds what each model is, `verify` the expected sha256.

`verify` exits 1 when any registered model is missing or altered, so scripts can gate on it.

`python -m models quantize MODEL --out DIR [options]` writes an INT8 copy of a registered model,
calibrated on the shared footage (models/quantize.py); `python -m models batch MODEL --out DIR
[--batch N]` writes a copy that takes N images per call, or any number without --batch
(models/batch.py). Both print the path and sha256 of what they wrote; neither is used by the
edge unless configured to (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.registry import MODELS, default_models_dir, file_sha256, find_model, model_status


def _show(args: argparse.Namespace, directory: Path) -> int:
    bad = 0
    for name, spec in MODELS.items():
        status = model_status(name, directory)
        bad += status != "ok"
        if args.command == "list":
            print(
                f"{name:28s} {status:8s} input {spec.input_size_px}px  layout {spec.layout:11s} "
                f"classes {spec.num_classes:3d} person={spec.person_class}  {spec.license}  {spec.origin}"
            )
        else:
            print(f"{name:28s} {status:8s} sha256 {spec.sha256}")
    return 1 if bad and args.command == "verify" else 0


def _quantize(args: argparse.Namespace, directory: Path) -> int:
    from models.footage import calibration_blobs
    from models.quantize import QuantizeOptions, quantize

    found = find_model(args.model, directory)
    options = QuantizeOptions(
        format=args.format,
        calibration=args.calibration,
        per_channel=not args.per_tensor,
        float_head=args.float_head,
        float_convs=args.float_convs,
    )
    blobs = calibration_blobs(found.spec.input_size_px, args.pets_frames, args.mall_frames)
    out = quantize(found.path, args.out / f"{found.path.stem}.int8.{options.tag}.onnx", blobs, options)
    print(f"{out} sha256 {file_sha256(out)} ({len(blobs)} calibration inputs)")
    return 0


def _batch(args: argparse.Namespace, directory: Path) -> int:
    from models.batch import write_batched

    found = find_model(args.model, directory)
    out = write_batched(found.path, args.out / f"{found.path.stem}.batch{args.batch or ''}.onnx", args.batch)
    print(f"{out} sha256 {file_sha256(out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="directory holding the weights (default ${FOOTFALL_ASSETS}/models)",
    )
    for name in ("list", "verify"):
        commands.add_parser(name, parents=[common]).set_defaults(run=_show)
    derived = argparse.ArgumentParser(add_help=False, parents=[common])
    derived.add_argument("model", choices=sorted(MODELS))
    derived.add_argument("--out", type=Path, required=True, help="directory to write the new model to")
    quantize = commands.add_parser("quantize", parents=[derived], help="INT8 copy calibrated on the footage")
    quantize.add_argument("--format", choices=["qdq", "qoperator"], default="qdq")
    quantize.add_argument("--calibration", choices=["minmax", "entropy", "percentile"], default="minmax")
    quantize.add_argument(
        "--per-tensor", action="store_true", help="one weight scale per tensor (default per channel)"
    )
    quantize.add_argument(
        "--float-head", action="store_true", help="keep the head's last convolutions in float"
    )
    quantize.add_argument(
        "--float-convs",
        type=int,
        default=2,
        help="keep the first N convolutions (and their inputs) in float (default 2)",
    )
    quantize.add_argument(
        "--pets-frames", type=int, default=40, help="PETS09 calibration frames (default 40)"
    )
    quantize.add_argument(
        "--mall-frames", type=int, default=20, help="Mall calibration frames, 4 tiles each (default 20)"
    )
    quantize.set_defaults(run=_quantize)
    batch = commands.add_parser("batch", parents=[derived], help="copy taking several images per call")
    batch.add_argument("--batch", type=int, default=None, help="fixed batch size (default dynamic)")
    batch.set_defaults(run=_batch)
    args = parser.parse_args(argv)
    directory = args.models_dir or default_models_dir()
    print(f"models directory: {directory}")
    return args.run(args, directory)


if __name__ == "__main__":
    sys.exit(main())
