"""INT8 static quantization of a registered detector with onnxruntime, calibrated on footage.

The shared models are opset 11, where onnxruntime refuses per-channel weight scales, so the
graph is first upgraded (onnx.version_converter) to `opset`; per-tensor weights lose most people.
The first two convolutions are kept in float by default: with the stem's output (16 channels
at half the input resolution) in 8 bits, YOLOX-Nano loses a third of its people on Mall's
tiles and the 192 px model nearly all of them (bench/edge_models.py). The detection head (last
convolutions and what follows) can be kept in float too; on the shared models that changes
nothing but the speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

Calibration = Literal["minmax", "entropy", "percentile"]
Format = Literal["qdq", "qoperator"]
METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
FORMATS = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}


@dataclass(frozen=True)
class QuantizeOptions:
    """How to quantize. Defaults: QDQ, per-channel weights (int8) and uint8 activations (what
    onnxruntime recommends for x86 with VNNI), MinMax ranges, the stem (first 2 convolutions and
    what precedes them: `float_convs`) in float; `float_head` keeps the head's last convolutions
    in float too."""

    format: Format = "qdq"
    calibration: Calibration = "minmax"
    per_channel: bool = True
    float_head: bool = False
    float_convs: int = 2
    opset: int = 13

    @property
    def tag(self) -> str:
        """Short file-name tag, e.g. "qdq-pc-minmax-qh-f2"."""
        return "-".join(
            [
                self.format,
                "pc" if self.per_channel else "pt",
                self.calibration,
                "fh" if self.float_head else "qh",
                f"f{self.float_convs}",
            ]
        )


class _Blobs(CalibrationDataReader):
    def __init__(self, input_name: str, blobs: Sequence[np.ndarray]):
        self._feeds = iter([{input_name: blob} for blob in blobs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def upgrade_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """The model converted to `opset` (default domain); unchanged when already there or above."""
    current = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return model if current >= opset else version_converter.convert_version(model, opset)


def head_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes from the graph's outputs back to, and including, the last Conv on
    each path: the detection head's output convolutions and what follows them."""
    producer = {out: node for node in model.graph.node for out in node.output}
    head, pending, seen = [], [o.name for o in model.graph.output], set()
    while pending:
        node = producer.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        head.append(node.name)
        if node.op_type != "Conv":
            pending.extend(node.input)
    return head


def leading_nodes(model: onnx.ModelProto, convs: int) -> list[str]:
    """Names of the nodes before the graph's (convs + 1)-th Conv (nodes are in topological
    order): the first `convs` convolutions, their activations and what precedes them."""
    starts = [i for i, node in enumerate(model.graph.node) if node.op_type == "Conv"]
    end = starts[convs] if convs < len(starts) else len(model.graph.node)
    return [node.name for node in model.graph.node[:end]] if convs else []


def quantize(
    model_path: Path,
    out_path: Path,
    blobs: Sequence[np.ndarray],
    options: QuantizeOptions = QuantizeOptions(),
) -> Path:
    """Write the INT8 model of `model_path` to `out_path`, ranges calibrated on `blobs` (model
    inputs, e.g. `models.footage.calibration_blobs`)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model = upgrade_opset(onnx.load(str(model_path)), options.opset)
    for node in model.graph.node:  # the converter leaves some nodes unnamed; exclusion needs names
        node.name = node.name or f"{node.op_type}_{node.output[0]}"
    upgraded = out_path.with_suffix(".float.onnx")
    prepared = out_path.with_suffix(".prep.onnx")
    onnx.save(model, str(upgraded))
    try:
        quant_pre_process(str(upgraded), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared))
        exclude = leading_nodes(graph, options.float_convs)
        exclude += head_nodes(graph) if options.float_head else []
        quantize_static(
            str(prepared),
            str(out_path),
            _Blobs(model.graph.input[0].name, blobs),
            quant_format=FORMATS[options.format],
            calibrate_method=METHODS[options.calibration],
            per_channel=options.per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            extra_options={"CalibMaxIntermediateOutputs": 16},
        )
    finally:
        upgraded.unlink(missing_ok=True)
        prepared.unlink(missing_ok=True)
    return out_path
