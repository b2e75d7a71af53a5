"""``onnx.helper`` builders for calibration models: the exporters of the shipped trained
models (an MLP ``cal.fit`` model, a linear ``cal.discriminator``). The small controls
that obey or break a contract are test fixtures (``tests/fixtures/calibration.py``)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

OPSET = 18


def finish(graph, metadata: dict[str, str]):
    from adapters.reference_models import _finish

    return _finish(graph, metadata, opset=OPSET, producer_version="calibration")


def fit_io(n_points: int | str, k: int):
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_points]),
           helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_points])]
    out = helper.make_tensor_value_info("params", TensorProto.FLOAT, ["batch", k])
    return ins, out


def initializer(name: str, a) -> "object":
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f"
                                   else np.asarray(a), name)


def mlp_fit_model(experiment: str, n_points: int, mu: np.ndarray, sd: np.ndarray,
                  weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], *,
                  metadata: dict[str, str] | None = None, per_sweep: bool = False):
    """``cal.fit``: params = exp(MLP((y' - mu) / sd)) * max(x) along the sweep, where y' is
    y itself or, with ``per_sweep``, y standardized within each sweep (so that probabilities,
    readout-scaled populations and arbitrary units look alike to the MLP).

    The MLP (ReLU hidden layers, linear output) predicts log(parameter / sweep end), so one
    model serves any sweep with the trained number of points and shape."""
    from onnx import helper

    inits = [initializer("mu", mu.reshape(1, -1)), initializer("inv_sd", (1.0 / sd).reshape(1, -1)),
             initializer("axes", np.array([1], dtype=np.int64))]
    nodes, y = [], "y"
    if per_sweep:
        inits.append(initializer("eps", np.array([[1e-12]], dtype=np.float32)))
        nodes += [helper.make_node("ReduceMean", ["y", "axes"], ["ym"], keepdims=1),
                  helper.make_node("Sub", ["y", "ym"], ["yd"]),
                  helper.make_node("Mul", ["yd", "yd"], ["yd2"]),
                  helper.make_node("ReduceMean", ["yd2", "axes"], ["yv"], keepdims=1),
                  helper.make_node("Add", ["yv", "eps"], ["yve"]),
                  helper.make_node("Sqrt", ["yve"], ["ys"]),
                  helper.make_node("Div", ["yd", "ys"], ["yn"])]
        y = "yn"
    nodes += [helper.make_node("Sub", [y, "mu"], ["yc"]),
              helper.make_node("Mul", ["yc", "inv_sd"], ["h0"])]
    h = "h0"
    for i, (w, b) in enumerate(zip(weights, biases)):
        inits += [initializer(f"W{i}", w), initializer(f"b{i}", b.reshape(1, -1))]
        nodes += [helper.make_node("MatMul", [h, f"W{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [f"a{i}"], [f"h{i + 1}"]))
            h = f"h{i + 1}"
    last = f"a{len(weights) - 1}"
    nodes += [helper.make_node("Exp", [last], ["ratio"]),
              helper.make_node("ReduceMax", ["x", "axes"], ["xmax"], keepdims=1),
              helper.make_node("Mul", ["ratio", "xmax"], ["params"])]
    ins, out = fit_io(n_points, int(weights[-1].shape[1]))
    graph = helper.make_graph(nodes, f"{experiment}_mlp", ins, [out], initializer=inits)
    md = {"sov.contract": "cal.fit", "sov.experiment": experiment}
    md.update(metadata or {})
    return finish(graph, md)


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
        initializer=[initializer("W", W), initializer("B", B)])
    md = {"sov.contract": "cal.discriminator", "sov.experiment": "readout"}
    md.update(metadata or {})
    return finish(graph, md)


def save(model, path) -> str:
    import onnx

    onnx.save(model, str(path))
    return str(path)
