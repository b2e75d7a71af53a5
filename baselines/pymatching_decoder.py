"""PyMatching baselines: minimum-weight perfect matching on the workload's detector
error model (``verifier.qec.dem``: a shipped ``--dem`` or the circuit's own), plain or with
PyMatching's correlated matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verifier.environment import package_version
from verifier.errors import UsageError, first_line

NAMES = ("pymatching", "pymatching-correlated")  # their entries: baselines.registry

NOT_GRAPHLIKE = ("PyMatching needs a graphlike detector error model (every error mechanism "
                 "with at most two detectors after stim's decompose_errors=True), and {what}: "
                 "{why}; decode it with --decoder bposd or --decoder tesseract (any DEM; "
                 "--decoder chromobius for an annotated color code), a decoder of your own "
                 "(--decoder FILE.onnx), or give a circuit whose errors decompose (e.g. a "
                 "surface or repetition code)")
COLOR_CODE = ("PyMatching cannot decode the color code (its errors flip three detectors and do not "
              "decompose into graphlike pieces): decode it with --decoder chromobius (or "
              "--decoder tesseract / --decoder bposd)")


def detector_error_model(source):
    """The DEM to match on: a ``stim.DetectorErrorModel`` as given, a workload's own
    (``QecWorkload.detector_error_model``), or a ``stim.Circuit``'s as sov builds it
    (``verifier.qec.dem``). Errors that cannot be split into graphlike pieces are a usage
    error (exit 2), not a crash."""
    from verifier.qec.dem import circuit_dem

    if hasattr(source, "compile_sampler") and not hasattr(source, "compile_detector_sampler"):
        return source
    try:
        if hasattr(source, "compile_detector_sampler"):
            return circuit_dem(source)
        return source.detector_error_model()
    except ValueError as e:
        if "decompose" not in str(e):
            raise UsageError(f"cannot build the circuit's detector error model: {first_line(e)}") from None
        raise UsageError(NOT_GRAPHLIKE.format(what="this circuit's errors cannot be decomposed",
                                              why=first_line(e))) from None


def build_matching(source, *, correlated: bool = False):
    """PyMatching on ``source``'s DEM (see :func:`detector_error_model`)."""
    import pymatching

    dem = detector_error_model(source)
    try:
        return pymatching.Matching.from_detector_error_model(dem, enable_correlations=correlated)
    except ValueError as e:
        raise UsageError(NOT_GRAPHLIKE.format(what="PyMatching refused this one",
                                              why=first_line(e))) from None


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
        if name not in NAMES:
            raise UsageError(f"--decoder {name}: PyMatching takes no options (give {' or '.join(NAMES)})")
        return cls(correlated=name.endswith("correlated"), name=name)

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "pymatching", "correlated": self.correlated,
                "pymatching": package_version("pymatching"), "stim": package_version("stim"),
                "dem": "decompose_errors=True"}

    def check(self, workload) -> None:
        if getattr(workload, "code", None) == "color":
            raise UsageError(COLOR_CODE)

    def compile_for(self, workload) -> CompiledMatching:
        return CompiledMatching(build_matching(workload, correlated=self.correlated),
                                self.correlated)
