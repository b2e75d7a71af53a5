"""PyMatching baselines: minimum-weight perfect matching on the workload's detector
error model (``decompose_errors=True``), plain or with PyMatching's correlated matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verifier.environment import package_version

BASELINES = {
    "pymatching": "PyMatching (MWPM) on the circuit's detector error model",
    "pymatching-correlated": "PyMatching with correlated matching (enable_correlations=True)",
}


def detector_error_model(circuit):
    return circuit.detector_error_model(decompose_errors=True)


def build_matching(circuit, *, correlated: bool = False):
    import pymatching

    return pymatching.Matching.from_detector_error_model(detector_error_model(circuit),
                                                         enable_correlations=correlated)


@dataclass(frozen=True)
class CompiledMatching:
    matching: Any
    correlated: bool

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        return self.matching.decode_batch(dets, bit_packed_shots=True, bit_packed_predictions=True,
                                          enable_correlations=self.correlated)

    def decode_bits(self, dets: np.ndarray) -> np.ndarray:
        """Unpacked ``[n, D]`` 0/1 events -> unpacked ``[n, O]`` predictions (uint8)."""
        return self.matching.decode_batch(dets, enable_correlations=self.correlated)


@dataclass(frozen=True)
class PyMatchingDecoder:
    """The open baseline every model is measured against."""

    correlated: bool = False
    name: str = field(default="pymatching")
    model_sha256: None = None

    @classmethod
    def named(cls, name: str) -> "PyMatchingDecoder":
        if name not in BASELINES:
            raise KeyError(name)
        return cls(correlated=name.endswith("correlated"), name=name)

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "pymatching", "correlated": self.correlated,
                "pymatching": package_version("pymatching"), "stim": package_version("stim"),
                "dem": "decompose_errors=True"}

    def check(self, workload) -> None:
        return None

    def compile_for(self, workload) -> CompiledMatching:
        return CompiledMatching(build_matching(workload.circuit(), correlated=self.correlated),
                                self.correlated)
