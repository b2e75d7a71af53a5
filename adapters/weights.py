"""The soft-output contract ``qec.predecoder.weights``: per shot, the model returns a
probability for every error mechanism of the workload's detector error model, in the DEM's
order (``dem.flattened()``, one per ``error`` instruction), and sov decodes that shot with
PyMatching on the DEM whose probabilities are the model's.

This is how soft-output pre-decoders (a CNN that turns a syndrome into per-edge
probabilities for matching) are verified: matching's edge weights become
``ln((1 - p) / p)`` of the model's ``p`` instead of the prior. A model that returns the
DEM's own priors is therefore PyMatching, shot for shot.

Each shot needs its own matching graph, so this contract decodes shot by shot: far slower
than batch matching (documented with figures in docs/contracts.md). Probabilities must lie
in (0, 1); 0 and 1 (an edge made impossible or certain) are clipped to 1e-300 and
1 - 1e-16, NaN or Inf is the model's integrity failure (exit 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.contracts import check_tensor
from adapters.onnx_model import ModelInfo
from adapters.runner import BatchedRunner, RunnerTransport
from adapters.runtime import RuntimeOptions
from verifier.errors import IntegrityError, UsageError
from verifier.qec.decoder import pack_bits, unpack_bits

CONTRACT = "qec.predecoder.weights"


def mechanisms(dem) -> list[tuple[float, str]]:
    """The DEM's error mechanisms in contract order: (prior, targets as stim prints them)."""
    out = []
    for inst in dem.flattened():
        if inst.type == "error":
            text = str(inst)
            out.append((float(inst.args_copy()[0]), text[text.index(")") + 1:].strip()))
    return out


def check_weights(info: ModelInfo, contract: str, workload) -> None:
    name = info.file_name
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise UsageError(f"{name}: {CONTRACT} takes one input and one output")
    try:
        dem = workload.detector_error_model()
    except ValueError as e:  # not graphlike: matching cannot decode it, reweighted or not
        raise UsageError(f"{name}: {CONTRACT} finishes with PyMatching, which needs a graphlike "
                         f"detector error model: {str(e).splitlines()[0]}") from None
    check_tensor(info.inputs[0], model=name, role="input", dtypes=("uint8", "bool"),
                 dims=(workload.num_detectors,))
    check_tensor(info.outputs[0], model=name, role="output", dtypes=("float32", "float64"),
                 dims=(len(mechanisms(dem)),))


@dataclass
class CompiledWeights(RunnerTransport):
    runner: BatchedRunner
    lines: list[str]  # the DEM's error targets, in contract order
    tail: str  # the DEM's other instructions (detector and observable declarations)
    num_detectors: int
    num_observables: int
    input_dtype: str

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        import pymatching
        import stim

        x = unpack_bits(dets, self.num_detectors)
        p = np.asarray(self.runner.run(x.astype(bool) if self.input_dtype == "bool" else x), dtype=np.float64)
        if p.ndim != 2 or p.shape != (x.shape[0], len(self.lines)):
            raise IntegrityError(f"{self.runner.name}: returned {list(p.shape)}, expected "
                                 f"[{x.shape[0]}, {len(self.lines)}] mechanism probabilities")
        if p.size and (p.min() < 0 or p.max() > 1):
            raise IntegrityError(f"{self.runner.name}: returned probabilities outside [0, 1]")
        p = np.clip(p, 1e-300, 1 - 1e-16)
        out = np.zeros((x.shape[0], self.num_observables), dtype=np.uint8)
        for k in range(x.shape[0]):
            text = "\n".join(f"error({q!r}) {t}" for q, t in zip(p[k].tolist(), self.lines)) + self.tail
            m = pymatching.Matching.from_detector_error_model(stim.DetectorErrorModel(text))
            out[k] = m.decode(x[k])
        return pack_bits(out)


def compile_weights(info: ModelInfo, session, options: RuntimeOptions, workload) -> CompiledWeights:
    dem = workload.detector_error_model()
    lines = [t for _, t in mechanisms(dem)]
    tail = "".join(f"\n{inst}" for inst in dem.flattened() if inst.type != "error")
    if dem.num_detectors:
        tail += f"\ndetector D{dem.num_detectors - 1}"
    if dem.num_observables:
        tail += f"\nlogical_observable L{dem.num_observables - 1}"
    return CompiledWeights(BatchedRunner(session, info, options), lines, tail, workload.num_detectors,
                           workload.num_observables, info.inputs[0].dtype)


def priors_of(workload) -> np.ndarray:
    """The DEM's priors in contract order (what a model equal to PyMatching returns)."""
    return np.array([p for p, _ in mechanisms(workload.detector_error_model())], dtype=np.float64)


def identity_weights_model(priors: np.ndarray, num_detectors: int) -> Any:
    """A ``qec.predecoder.weights`` model that returns ``priors`` for every shot (the control
    that must equal PyMatching shot for shot)."""
    from onnx import TensorProto, helper, numpy_helper

    from adapters.reference_models import _finish

    m = len(priors)
    nodes = [helper.make_node("Cast", ["dets"], ["f"], to=TensorProto.DOUBLE),
             helper.make_node("ReduceSum", ["f", "axes"], ["s"], keepdims=1),  # [batch, 1]
             helper.make_node("Mul", ["s", "zero"], ["z"]),
             helper.make_node("Add", ["z", "priors"], ["weights"])]  # broadcast to [batch, m]
    graph = helper.make_graph(
        nodes, "identity_weights",
        [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["batch", num_detectors])],
        [helper.make_tensor_value_info("weights", TensorProto.DOUBLE, ["batch", m])],
        initializer=[numpy_helper.from_array(np.asarray(priors, dtype=np.float64).reshape(1, m), "priors"),
                     numpy_helper.from_array(np.zeros((1, 1), dtype=np.float64), "zero"),
                     numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    return _finish(graph, {"sov.contract": CONTRACT})
