"""The flat QEC contracts: ``qec.decoder`` (the model predicts the observables) and
``qec.predecoder.flat`` (the model returns ``pre_L | residual`` and PyMatching decodes
the residual). Their static check is ``adapters.contracts.check_qec_io``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.finisher import compile_finisher, match_residual
from adapters.onnx_model import ModelInfo
from adapters.runner import BatchedRunner, RunnerTransport
from adapters.runtime import RuntimeOptions
from verifier.errors import IntegrityError, UsageError
from verifier.qec.decoder import pack_bits, unpack_bits


def _binary(y: np.ndarray, name: str) -> np.ndarray:
    """0/1 from a uint8/bool output, or from float logits (flip iff > 0)."""
    if y.dtype.kind == "f":
        return (y > 0).astype(np.uint8)
    if y.dtype == np.bool_:
        return y.astype(np.uint8)
    if y.size and y.max() > 1:
        raise IntegrityError(f"{name} returned values other than 0 and 1")
    return y.astype(np.uint8, copy=False)


@dataclass
class CompiledFullDecoder(RunnerTransport):
    runner: BatchedRunner
    num_detectors: int
    num_observables: int
    input_dtype: str

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        x = unpack_bits(dets, self.num_detectors)
        if self.input_dtype == "bool":
            x = x.astype(bool)
        y = _binary(self.runner.run(x), self.runner.name)
        if y.ndim != 2 or y.shape[1] != self.num_observables:
            raise UsageError(f"{self.runner.name}: output shape {list(y.shape)}, expected "
                             f"[batch, {self.num_observables}]")
        return pack_bits(y)


@dataclass
class CompiledFlatPredecoder(RunnerTransport):
    runner: BatchedRunner
    matching: Any  # baselines.pymatching_decoder.CompiledMatching
    num_detectors: int
    num_observables: int

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        x = unpack_bits(dets, self.num_detectors)
        y = _binary(self.runner.run(x), self.runner.name)
        D, O = self.num_detectors, self.num_observables
        if y.ndim != 2 or y.shape[1] != O + D:
            raise UsageError(f"{self.runner.name}: output shape {list(y.shape)}, expected [batch, {O + D}]")
        pre_l, residual = y[:, :O], np.ascontiguousarray(y[:, O:])
        return pack_bits(pre_l ^ match_residual(self.matching, residual, x, self.runner.name))


def compile_full(info: ModelInfo, session, options: RuntimeOptions, workload) -> CompiledFullDecoder:
    return CompiledFullDecoder(BatchedRunner(session, info, options), workload.num_detectors,
                               workload.num_observables, info.inputs[0].dtype)


def compile_flat(info: ModelInfo, session, options: RuntimeOptions, workload) -> CompiledFlatPredecoder:
    return CompiledFlatPredecoder(BatchedRunner(session, info, options),
                                  compile_finisher(options.finisher, workload),
                                  workload.num_detectors, workload.num_observables)
