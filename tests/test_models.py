"""Model registry: the shared weights verify; missing and altered files are named clearly.
Derived models: a batched copy gives the batch-1 model's outputs on real frames; an INT8 copy
loads and finds the float model's people on held-out footage."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge.detector import Detector
from edge.model import PersonModel
from models.__main__ import main
from models.batch import batched, write_batched
from models.evaluate import recall_precision
from models.footage import PETS_SPLIT, calibration_blobs, mall_frames, pets09_frames, tile_crops
from models.letterbox import letterbox
from models.quantize import QuantizeOptions, head_nodes, leading_nodes, quantize
from models.registry import (
    MODELS,
    ModelAlteredError,
    ModelError,
    ModelMissingError,
    file_sha256,
    find_model,
)
from tests.gt import pets09_gt


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


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("batch", [4, None])
def test_batched_copy_gives_the_batch_1_outputs(assets, tmp_path, name, batch):
    size = MODELS[name].input_size_px
    [(_, frame)] = pets09_frames(range(PETS_SPLIT, PETS_SPLIT + 1))
    [(_, mall)] = mall_frames(range(1, 2))
    inputs = np.concatenate([letterbox(crop, size)[0] for crop in [frame, *tile_crops(mall)[:3]]])
    single = _session(assets / "models" / name)
    copy = _session(write_batched(assets / "models" / name, tmp_path / "batched.onnx", batch))
    assert copy.get_inputs()[0].shape[0] == (batch or "batch")
    expected = np.concatenate([single.run(None, {"images": blob[None]})[0] for blob in inputs])
    np.testing.assert_allclose(copy.run(None, {"images": inputs})[0], expected, rtol=0, atol=1e-5)
    if batch is None:  # any batch size, e.g. one camera
        np.testing.assert_allclose(copy.run(None, {"images": inputs[:1]})[0], expected[:1], rtol=0, atol=1e-5)


def test_batched_refuses_a_model_without_batch_1(assets):
    model = batched(onnx.load(str(assets / "models/person_detector_192.onnx")), 4)
    with pytest.raises(ValueError, match="expected batch dim 1"):
        batched(model, 2)


def test_head_and_leading_nodes(assets):
    model = onnx.load(str(assets / "models/yolox_nano.onnx"))
    kinds = {node.name: node.op_type for node in model.graph.node}
    head = head_nodes(model)
    assert [kinds[n] for n in head].count("Conv") == 9  # box, objectness and class convs at 3 strides
    assert model.graph.node[-1].name in head
    assert leading_nodes(model, 0) == []
    first = leading_nodes(model, 2)
    assert [kinds[n] for n in first].count("Conv") == 2 and first[0] == model.graph.node[0].name


@pytest.mark.slow
def test_int8_finds_the_float_models_people_on_held_out_frames(assets, tmp_path):
    """Calibrated on PETS09 frames before PETS_SPLIT and Mall frames after its split, scored
    after PETS_SPLIT: the INT8 model (stem kept in float) finds the float model's people, and
    as many of the annotated ones."""
    source = assets / "models/yolox_nano.onnx"
    blobs = calibration_blobs(416, pets_count=10, mall_count=3)
    path = quantize(source, tmp_path / "int8.onnx", blobs, QuantizeOptions())
    indices = range(PETS_SPLIT, 795, 40)
    frames = [frame for _, frame in pets09_frames(indices)]
    gt = pets09_gt(assets)
    truth = [
        np.stack([r["x"], r["y"], r["x"] + r["w"], r["y"] + r["h"]], axis=1)
        for r in (gt[gt["frame"] == i + 1] for i in indices)
    ]
    reference = [Detector.load(source)(frame).detections.xyxy for frame in frames]
    found = [Detector.load(path)(frame).detections.xyxy for frame in frames]
    recall, precision = recall_precision(found, reference)
    assert sum(map(len, reference)) >= 40
    assert recall >= 0.85 and precision >= 0.85, (recall, precision)
    float_recall, int8_recall = recall_precision(reference, truth)[0], recall_precision(found, truth)[0]
    assert float_recall >= 0.8 and int8_recall >= float_recall - 0.05, (float_recall, int8_recall)


def test_cli_quantize_and_batch_write_loadable_models(assets, tmp_path, capsys):
    name = "person_detector_192.onnx"
    assert main(["batch", name, "--out", str(tmp_path), "--batch", "2"]) == 0
    written = tmp_path / "person_detector_192.batch2.onnx"
    assert f"{written} sha256 {file_sha256(written)}" in capsys.readouterr().out
    assert _session(written).get_inputs()[0].shape == [2, 3, 192, 192]
    assert main(["quantize", name, "--out", str(tmp_path), "--pets-frames", "4", "--mall-frames", "1"]) == 0
    written = tmp_path / "person_detector_192.int8.qdq-pc-minmax-qh-f2.onnx"
    assert str(written) in capsys.readouterr().out
    model = PersonModel(written)
    assert (model.layout, model.num_classes) == ("yolox", 1)
