"""``onnx.helper`` builders for calibration models: the exporters of the shipped trained
models (an MLP ``cal.fit`` model, a linear ``cal.discriminator``) and small reference
models that obey or break a contract (a peak-picking Rabi model scaled by a factor, a
constant discriminator, a model that returns NaN) used as controls in tests and docs."""

from __future__ import annotations

from typing import Sequence

import numpy as np

OPSET = 18


def _finish(graph, metadata: dict[str, str]):
    from adapters.reference_models import _finish as finish

    return finish(graph, metadata, opset=OPSET, producer_version="calibration")


def _fit_io(n_points: int | str, k: int):
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_points]),
           helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_points])]
    out = helper.make_tensor_value_info("params", TensorProto.FLOAT, ["batch", k])
    return ins, out


def _init(name: str, a) -> "object":
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f"
                                   else np.asarray(a), name)


def mlp_fit_model(experiment: str, n_points: int, mu: np.ndarray, sd: np.ndarray,
                  weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], *,
                  metadata: dict[str, str] | None = None):
    """``cal.fit``: params = exp(MLP((y - mu) / sd)) * max(x) along the sweep.

    The MLP (ReLU hidden layers, linear output) predicts log(parameter / sweep end), so one
    model serves any sweep with the trained number of points and shape."""
    from onnx import helper

    inits = [_init("mu", mu.reshape(1, -1)), _init("inv_sd", (1.0 / sd).reshape(1, -1)),
             _init("axes", np.array([1], dtype=np.int64))]
    nodes = [helper.make_node("Sub", ["y", "mu"], ["yc"]),
             helper.make_node("Mul", ["yc", "inv_sd"], ["h0"])]
    h = "h0"
    for i, (w, b) in enumerate(zip(weights, biases)):
        inits += [_init(f"W{i}", w), _init(f"b{i}", b.reshape(1, -1))]
        nodes += [helper.make_node("MatMul", [h, f"W{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [f"a{i}"], [f"h{i + 1}"]))
            h = f"h{i + 1}"
    last = f"a{len(weights) - 1}"
    nodes += [helper.make_node("Exp", [last], ["ratio"]),
              helper.make_node("ReduceMax", ["x", "axes"], ["xmax"], keepdims=1),
              helper.make_node("Mul", ["ratio", "xmax"], ["params"])]
    ins, out = _fit_io(n_points, int(weights[-1].shape[1]))
    graph = helper.make_graph(nodes, f"{experiment}_mlp", ins, [out], initializer=inits)
    md = {"sov.contract": "cal.fit", "sov.experiment": experiment}
    md.update(metadata or {})
    return _finish(graph, md)


def peak_rabi_model(factor: float = 1.0, *, n_points: int | str = "n_points",
                    metadata: dict[str, str] | None = None):
    """``cal.fit`` for rabi_amplitude: ``factor`` x the sweep point of maximum signal (the
    first maximum of P(1) is at the pi pulse). ``factor=1.3`` is a model that is 30 % off."""
    from onnx import helper

    nodes = [helper.make_node("ArgMax", ["y"], ["idx"], axis=1, keepdims=1),
             helper.make_node("GatherElements", ["x", "idx"], ["peak"], axis=1),
             helper.make_node("Mul", ["peak", "factor"], ["params"])]
    ins, out = _fit_io(n_points, 1)
    graph = helper.make_graph(nodes, "peak_rabi", ins, [out], initializer=[_init("factor", np.array([factor]))])
    md = {"sov.contract": "cal.fit", "sov.experiment": "rabi_amplitude",
          "sov.description": f"{factor:g} x the amplitude of maximum excited population"}
    md.update(metadata or {})
    return _finish(graph, md)


def nan_fit_model(experiment: str = "rabi_amplitude", k: int = 1):
    """``cal.fit`` that returns NaN (0/0): must be refused with exit 4."""
    from onnx import helper

    nodes = [helper.make_node("ReduceSum", ["y", "axes"], ["s"], keepdims=1),
             helper.make_node("Sub", ["s", "s"], ["z"]),
             helper.make_node("Div", ["z", "z"], ["nan1"]),
             helper.make_node("Tile", ["nan1", "reps"], ["params"])]
    ins, out = _fit_io("n_points", k)
    graph = helper.make_graph(nodes, "nan_fit", ins, [out],
                              initializer=[_init("axes", np.array([1], np.int64)),
                                           _init("reps", np.array([1, k], np.int64))])
    return _finish(graph, {"sov.contract": "cal.fit", "sov.experiment": experiment})


def linear_discriminator(w: np.ndarray, b: float, *, metadata: dict[str, str] | None = None):
    """``cal.discriminator``: scores [-z/2, z/2] with z = w . (I, Q) + b."""
    from onnx import TensorProto, helper

    w = np.asarray(w, dtype=np.float32).reshape(2)
    W = np.stack([-w / 2, w / 2], axis=1)  # [2, 2]
    B = np.array([[-b / 2, b / 2]], dtype=np.float32)
    nodes = [helper.make_node("MatMul", ["iq", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["scores"])]
    graph = helper.make_graph(
        nodes, "linear_discriminator",
        [helper.make_tensor_value_info("iq", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 2])],
        initializer=[_init("W", W), _init("B", B)])
    md = {"sov.contract": "cal.discriminator", "sov.experiment": "readout"}
    md.update(metadata or {})
    return _finish(graph, md)


def constant_discriminator(state: int = 0):
    """``cal.discriminator`` that always answers ``state`` (assignment fidelity 0.5)."""
    w = np.zeros(2)
    return linear_discriminator(w, 1.0 if state == 1 else -1.0,
                                metadata={"sov.description": f"always |{state}>"})


def save(model, path) -> str:
    import onnx

    onnx.save(model, str(path))
    return str(path)
