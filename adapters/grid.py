"""The ``qec.predecoder.grid`` contract: a bare 3D-CNN pre-decoder (Ising Decoding layout).

Input and output are float32 ``[batch, 4, T, D, D]`` (see docs/contracts.md). With the
circuit's geometry (``adapters.grid_geometry``) this module turns a batch of detection
events into the model input with precomputed index arrays, turns the logits into
``pre_L`` and predicted detection events with one sparse GF(2) product, and finishes the
residual with PyMatching: ``final = pre_L XOR matching(events XOR predicted)``.

A model whose every logit is negative predicts nothing, so the pipeline is then exactly
PyMatching.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.contracts import batch_size_of, check_tensor
from adapters.grid_geometry import CHANNELS, CONTRACT, GridGeometry, geometry_for
from adapters.onnx_model import ModelInfo
from adapters.runner import BatchedRunner, RunnerTransport
from adapters.runtime import RuntimeOptions
from adapters.finisher import compile_finisher, match_residual
from verifier.errors import UsageError
from verifier.qec.decoder import pack_bits, unpack_bits

MAX_BATCH_ELEMENTS = 1 << 23  # cap shots per inference call so a batch stays ~32 MB of input


def check_grid(info: ModelInfo, contract: str, workload) -> None:
    """Before any shot: tensors, fixed dims against T and D, and the workload's layout."""
    name = info.file_name
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise UsageError(f"{name}: {contract} needs exactly 1 input and 1 output, found "
                         f"{len(info.inputs)} and {len(info.outputs)}")
    geo = workload_geometry(info, workload)
    T, D = geo.rounds, geo.distance
    for role, t in (("input", info.inputs[0]), ("output", info.outputs[0])):
        check_tensor(t, model=name, role=role, dtypes=("float32",), dims=(CHANNELS, T, D, D))
    b_in, b_out = batch_size_of(info.inputs[0]), batch_size_of(info.outputs[0])
    if b_in is not None and b_out is not None and b_in != b_out:
        raise UsageError(f"{name}: fixed batch {b_in} in but {b_out} out")


_ISING_HINT = ("; a model in NVIDIA Ising Decoding's layout gets its map with "
               "`python -m adapters.ising_layout CIRCUIT.stim MODEL.onnx OUT.onnx`")


def workload_geometry(info: ModelInfo, workload) -> GridGeometry:
    dmap = info.metadata.get("sov.detector_map")
    if not getattr(workload, "has_circuit", True):
        raise UsageError(f"{info.file_name}: {CONTRACT} derives its grid from the circuit: give the "
                         "circuit the shots come from (--circuit FILE.stim)")
    circuit = workload._circuit
    try:
        geo = geometry_for(circuit, dmap, mask_map_text=info.metadata.get("sov.mask_map"),
                           model=info.file_name)
    except UsageError as e:
        if dmap is None and getattr(workload, "kind", None) != "memory":
            raise UsageError(f"{info.file_name}: {CONTRACT} needs a rotated surface-code memory "
                             f"workload (--distance/--rounds/--basis) or a model with "
                             f"sov.detector_map metadata; this circuit does not fit: {e}"
                             f"{_ISING_HINT if 'QUBIT_COORDS' in str(e) else ''}") from None
        raise
    if getattr(workload, "kind", None) == "memory":
        if (geo.distance, geo.rounds) != (workload.distance, workload.rounds):
            raise UsageError(f"{info.file_name}: circuit geometry D={geo.distance}, T={geo.rounds} "
                             f"differs from the workload's distance {workload.distance}, rounds {workload.rounds}")
    return geo


@dataclass
class GridCounters:
    """Per-process tallies for scorecards: events before/after the pre-decoder, time."""

    shots: int = 0
    raw_events: int = 0
    residual_events: int = 0
    corrections: int = 0
    model_seconds: float = 0.0
    matching_seconds: float = 0.0
    total_seconds: float = 0.0


@dataclass
class CompiledGridPredecoder(RunnerTransport):
    runner: BatchedRunner
    matching: Any  # baselines.pymatching_decoder.CompiledMatching
    geometry: GridGeometry
    counters: GridCounters = dataclasses.field(default_factory=GridCounters)

    def residual(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unpacked events -> (pre_L, residual events, correction mask) without matching."""
        import time

        g = self.geometry
        t0 = time.perf_counter()
        x = g.tensorize(events)
        y = self.runner.run(x)
        self.counters.model_seconds += time.perf_counter() - t0
        n = events.shape[0]
        if y.shape != (n,) + g.shape:
            raise UsageError(f"{self.runner.name}: output shape {list(y.shape)}, expected "
                             f"[batch, {', '.join(map(str, g.shape))}]")
        if y.dtype.kind != "f":
            raise UsageError(f"{self.runner.name}: output dtype {y.dtype}, expected float32 logits")
        corr = y.reshape(n, -1) > 0
        pre_l, predicted = g.predicted(corr)
        return pre_l, events ^ predicted, corr

    def decode_bits(self, events: np.ndarray) -> np.ndarray:
        import time

        t0 = time.perf_counter()
        pre_l, residual, corr = self.residual(events)
        t1 = time.perf_counter()
        out = pre_l ^ match_residual(self.matching, np.ascontiguousarray(residual), events, self.runner.name)
        t2 = time.perf_counter()
        c = self.counters
        c.shots += events.shape[0]
        c.raw_events += int(events.sum())
        c.residual_events += int(residual.sum())
        c.corrections += int(corr.sum())
        c.matching_seconds += t2 - t1
        c.total_seconds += t2 - t0
        return out

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        return pack_bits(self.decode_bits(unpack_bits(dets, self.geometry.num_detectors)))


def dem_detectors(dem, num_detectors: int) -> np.ndarray:
    """bool ``[num_detectors]``: the detectors some error mechanism of ``dem`` flips."""
    touched = np.zeros(num_detectors, dtype=bool)
    for inst in dem.flattened():
        if inst.type == "error":
            ids = [t.val for t in inst.targets_copy() if t.is_relative_detector_id()]
            touched[[k for k in ids if k < num_detectors]] = True
    return touched


def compile_grid(info: ModelInfo, session, options: RuntimeOptions, workload) -> CompiledGridPredecoder:
    """The runtime on ``workload``. A correction's effect is restricted to the detectors of
    the workload's detector error model: a detector no mechanism flips is deterministic
    under that model, so a correction cannot be told apart from no correction there
    (Ising's pipeline passes such final detectors through unchanged), and an event put
    on it could never be matched."""
    geo = workload_geometry(info, workload)
    geo = geo.restricted_to(dem_detectors(workload.detector_error_model(), geo.num_detectors))
    cap = max(1, MAX_BATCH_ELEMENTS // geo.cells)
    if options.batch_size > cap:
        options = dataclasses.replace(options, batch_size=cap)
    return CompiledGridPredecoder(BatchedRunner(session, info, options),
                                  compile_finisher(options.finisher, workload), geo)
