"""Reference ONNX models built with ``onnx.helper``: the shipped identity pre-decoder
(used by ``sov demo`` and as the control in tests) and the checked-model helper the
other builders (``adapters.calibration_models``, the tests' fixtures) finish with."""

from __future__ import annotations

OPSET = 18


def _finish(graph, metadata: dict[str, str], *, opset: int = OPSET, producer_version: str = "reference"):
    """A checked opset-``opset`` model of ``graph`` with ``metadata`` as metadata_props."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="sov", producer_version=producer_version)
    model.ir_version = 9
    for k, v in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    onnx.checker.check_model(model)
    return model


def identity_predecoder_flat(num_observables: int = 1, *, metadata: dict[str, str] | None = None):
    """``qec.predecoder.flat`` that returns ``[0 | dets]``: any number of detectors.

    It must give exactly PyMatching's predictions, shot for shot."""
    from onnx import TensorProto, helper

    o = num_observables
    nodes = [
        helper.make_node("Cast", ["dets"], ["b"], to=TensorProto.BOOL),
        helper.make_node("Slice", ["b", "zero", "o", "one"], ["head"]),
        helper.make_node("Xor", ["head", "head"], ["none"]),
        helper.make_node("Concat", ["none", "b"], ["cat"], axis=1),
        helper.make_node("Cast", ["cat"], ["L_and_residual_dets"], to=TensorProto.UINT8),
    ]
    inits = [helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
             helper.make_tensor("o", TensorProto.INT64, [1], [o]),
             helper.make_tensor("one", TensorProto.INT64, [1], [1])]
    graph = helper.make_graph(
        nodes, "identity_predecoder",
        [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["batch", "num_detectors"])],
        [helper.make_tensor_value_info("L_and_residual_dets", TensorProto.UINT8,
                                       ["batch", "num_outputs"])],
        initializer=inits)
    md = {"sov.contract": "qec.predecoder.flat",
          "sov.description": "identity pre-decoder: [0 | dets]; PyMatching does all the work"}
    md.update(metadata or {})
    return _finish(graph, md)


def save(model, path) -> str:
    import onnx

    onnx.save(model, str(path))
    return str(path)


