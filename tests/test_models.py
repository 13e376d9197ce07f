"""Model registry: the shared weights verify; missing and altered files are named clearly."""
from __future__ import annotations

import shutil

import pytest

from models.__main__ import main
from models.registry import (
    MODELS,
    ModelAlteredError,
    ModelError,
    ModelMissingError,
    file_sha256,
    find_model,
)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shared_models_verify(assets, name):
    found = find_model(name)
    assert found.path == assets / "models" / name
    assert found.spec is MODELS[name]


def test_missing_file_names_file_hash_and_directory(tmp_path):
    spec = MODELS["yolox_nano.onnx"]
    with pytest.raises(ModelMissingError) as err:
        find_model("yolox_nano.onnx", tmp_path)
    message = str(err.value)
    assert spec.file in message and spec.sha256 in message and str(tmp_path) in message


def test_altered_file_names_both_hashes(assets, tmp_path):
    name = "person_detector_192.onnx"
    copy = tmp_path / name
    shutil.copyfile(assets / "models" / name, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelAlteredError) as err:
        find_model(name, tmp_path)
    message = str(err.value)
    assert str(copy) in message and MODELS[name].sha256 in message and file_sha256(copy) in message


def test_hash_is_recomputed_when_file_changes(assets, tmp_path):
    name = "person_detector_192.onnx"
    copy = tmp_path / name
    shutil.copyfile(assets / "models" / name, copy)
    assert find_model(name, tmp_path).path == copy
    copy.write_bytes(copy.read_bytes() + b"\0")  # new size: the cached hash must not be reused
    with pytest.raises(ModelAlteredError):
        find_model(name, tmp_path)


def test_unknown_model_lists_known():
    with pytest.raises(ModelError, match="yolox_nano.onnx"):
        find_model("yolov99.onnx")


def test_cli_verify(assets, tmp_path, capsys):
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok ") == len(MODELS)
    assert main(["verify", "--models-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().out.count("missing") == len(MODELS)
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in MODELS)
