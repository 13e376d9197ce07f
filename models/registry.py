"""The registry of person-detection models Footfall knows, and where their weights are.

Weights are never in the repository: they live in a models directory (default
`assets_dir()/"models"`, i.e. `${FOOTFALL_ASSETS}/models`) and are named here by file name and
sha256, so a missing or altered file is caught before the detector loads it. The sha256 of a
file is computed once per (path, mtime, size): a long-running edge process, or tests that build
several detectors, do not re-read tens of megabytes each time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from footfall_core.assets import assets_dir

Layout = Literal["yolox", "ultralytics"]


class ModelError(Exception):
    """A model that cannot be used: unknown name, missing file or altered file."""


class ModelMissingError(ModelError, FileNotFoundError):
    """The registered file is not in the models directory."""


class ModelAlteredError(ModelError):
    """The file's sha256 is not the registered one (corrupt download, wrong file)."""


@dataclass(frozen=True)
class ModelSpec:
    """What the detector needs to know about a model besides its weights.

    `input_size_px` is the square letterbox side (pixels); `layout` is the raw output layout:
    "yolox" = [1, N, 5 + C] (grid-relative boxes, objectness, class scores), "ultralytics" =
    [1, 4 + C, N] (cx, cy, w, h in input pixels, then class scores, no objectness).
    """

    file: str
    sha256: str
    input_size_px: int
    layout: Layout
    num_classes: int
    person_class: int
    license: str
    origin: str


@dataclass(frozen=True)
class ModelFile:
    """A registered model whose file was found and verified."""

    spec: ModelSpec
    path: Path


MODELS: dict[str, ModelSpec] = {
    spec.file: spec
    for spec in (
        ModelSpec(
            file="yolox_nano.onnx",
            sha256="695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
            input_size_px=416,
            layout="yolox",
            num_classes=80,
            person_class=0,
            license="Apache-2.0",
            origin="Megvii YOLOX-Nano (COCO), ONNX export from Kazuhito00/YOLOX-ONNX-TFLite-Sample",
        ),
        ModelSpec(
            file="person_detector_192.onnx",
            sha256="4bf5f704cd3bd900645a4303e0934ede13d9fb2135058b38005f4c2886c68576",
            input_size_px=192,
            layout="yolox",
            num_classes=1,
            person_class=0,
            license="Apache-2.0",
            origin="Kazuhito00/Person-Detection-using-RaspberryPi-CPU (person-only, YOLOX-style head)",
        ),
    )
}

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Hex sha256 of `path`, cached per (resolved path, mtime ns, size)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
        digest = _HASH_CACHE[key] = hasher.hexdigest()
    return digest


def default_models_dir() -> Path:
    return assets_dir() / "models"


def get_spec(name: str) -> ModelSpec:
    """The registered spec for a model file name; unknown names list the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ModelError(f"unknown model {name!r}: registered models are {known}") from None


def find_model(name: str, models_dir: Path | str | None = None) -> ModelFile:
    """Find registered model `name` in `models_dir` (default `assets_dir()/"models"`) and check
    its sha256. Raises ModelMissingError or ModelAlteredError naming the file and the hashes."""
    spec = get_spec(name)
    directory = Path(models_dir) if models_dir is not None else default_models_dir()
    path = directory / spec.file
    if not path.is_file():
        raise ModelMissingError(
            f"model file {spec.file} not found in {directory} (expected sha256 {spec.sha256}; "
            f"set detector.models_dir or FOOTFALL_ASSETS)"
        )
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise ModelAlteredError(
            f"model file {path} is altered: expected sha256 {spec.sha256}, actual {actual}"
        )
    return ModelFile(spec, path)


def model_status(name: str, models_dir: Path | str | None = None) -> str:
    """ "ok", "missing" or "altered" for a registered model, for `python -m models verify`."""
    try:
        find_model(name, models_dir)
    except ModelMissingError:
        return "missing"
    except ModelAlteredError:
        return "altered"
    return "ok"
