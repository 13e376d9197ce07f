"""A copy of a batch-1 detector graph that takes N images in one call (fixed N or dynamic).

The shared models are exported with batch 1 everywhere: the input and output dims, the
intermediate shapes recorded in `value_info`, and the Reshape targets of the head
(`[1, 85, -1]`). The copy declares the batch dim as N (or the symbolic "batch"), drops the
recorded intermediate shapes (onnxruntime infers them again) and rewrites a Reshape target's
leading 1 to 0, ONNX's "copy this dim from the input". Other ops (Slice on H/W, Resize with
per-axis scales, Concat on channels) do not depend on the batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

DYNAMIC = "batch"


def _reshape_targets(model: onnx.ModelProto) -> set[str]:
    return {node.input[1] for node in model.graph.node if node.op_type == "Reshape"}


def batched(model: onnx.ModelProto, batch: int | None) -> onnx.ModelProto:
    """The model with batch dim `batch` (None: dynamic); raises ValueError when a Reshape target
    is not a constant starting with batch 1, or the model is not batch 1."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for value in (*graph.input, *graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if dim.dim_value != 1:
            raise ValueError(f"{value.name}: expected batch dim 1, got {dim}")
        if batch is None:
            dim.dim_param = DYNAMIC
        else:
            dim.dim_value = batch
    del graph.value_info[:]
    targets = _reshape_targets(model)
    constants = {init.name: init for init in graph.initializer}
    constants.update(
        {
            node.output[0]: node.attribute[0].t
            for node in graph.node
            if node.op_type == "Constant" and node.output[0] in targets
        }
    )
    for name in targets:
        if name not in constants:
            raise ValueError(f"Reshape target {name} is computed, not a constant: cannot rewrite its batch")
        shape = numpy_helper.to_array(constants[name])
        if shape[0] != 1:
            raise ValueError(f"Reshape target {name} = {shape.tolist()}: expected a leading batch 1")
        constants[name].CopyFrom(
            numpy_helper.from_array(
                np.concatenate([[0], shape[1:]]).astype(shape.dtype), constants[name].name
            )
        )
    onnx.checker.check_model(model)
    return model


def write_batched(model_path: Path, out_path: Path, batch: int | None) -> Path:
    """Write the batched copy of `model_path` to `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(batched(onnx.load(str(model_path)), batch), str(out_path))
    return out_path
