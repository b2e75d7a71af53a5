"""ONNX models for the comparison tests, built with onnx.helper (no files shipped)."""

from __future__ import annotations

from onnx import TensorProto, helper, numpy_helper

from adapters.reference_models import _finish, identity_predecoder_flat, save


def degraded_predecoder_flat(drop: int = 2):
    """``qec.predecoder.flat`` returning ``[0 | dets with the last `drop` detectors zeroed]``:
    PyMatching then misses those detection events, so it is measurably worse at any
    distance (the detectors dropped are final data-measurement ones)."""
    nodes = [
        helper.make_node("Cast", ["dets"], ["b"], to=TensorProto.BOOL),
        helper.make_node("Slice", ["b", "zero", "one", "one"], ["head"]),
        helper.make_node("Xor", ["head", "head"], ["none"]),
        helper.make_node("Slice", ["b", "zero", "negk", "one"], ["keep"]),
        helper.make_node("Slice", ["b", "negk", "big", "one"], ["tail"]),
        helper.make_node("Xor", ["tail", "tail"], ["tail0"]),
        helper.make_node("Concat", ["none", "keep", "tail0"], ["cat"], axis=1),
        helper.make_node("Cast", ["cat"], ["L_and_residual_dets"], to=TensorProto.UINT8),
    ]
    inits = [helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
             helper.make_tensor("one", TensorProto.INT64, [1], [1]),
             helper.make_tensor("negk", TensorProto.INT64, [1], [-drop]),
             helper.make_tensor("big", TensorProto.INT64, [1], [2**62])]
    g = helper.make_graph(
        nodes, "degraded_predecoder",
        [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["batch", "num_detectors"])],
        [helper.make_tensor_value_info("L_and_residual_dets", TensorProto.UINT8, ["batch", "num_outputs"])],
        initializer=inits)
    return _finish(g, {"sov.contract": "qec.predecoder.flat",
                       "sov.description": f"test model: drops the last {drop} detection events"})


def nan_decoder(num_observables: int = 1):
    """``qec.decoder`` whose float output is NaN everywhere (must be an integrity failure)."""
    import numpy as np

    nodes = [helper.make_node("Shape", ["dets"], ["shape"], start=0, end=1),
             helper.make_node("Concat", ["shape", "o"], ["oshape"], axis=0),
             helper.make_node("ConstantOfShape", ["oshape"], ["logits"],
                              value=numpy_helper.from_array(np.array([np.nan], dtype=np.float32)))]
    g = helper.make_graph(
        nodes, "nan_decoder",
        [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["batch", "num_detectors"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", num_observables])],
        initializer=[helper.make_tensor("o", TensorProto.INT64, [1], [num_observables])])
    return _finish(g, {"sov.contract": "qec.decoder"})


def write_pair(folder) -> tuple[str, str]:
    """a.onnx (identity pre-decoder) and b.onnx (degraded pre-decoder) in ``folder``."""
    return (save(identity_predecoder_flat(1), folder / "a.onnx"),
            save(degraded_predecoder_flat(2), folder / "b.onnx"))
