"""Chromobius (Gidney and Jones, "New circuits and an open source decoder for the color
code", 2023): the color code's detection events lifted to a matching problem on a "mobius"
doubled graph, decoded by PyMatching, the solution projected back. It needs every detector
annotated with its color and basis (the 4th detector coordinate: 0, 1, 2 = red, green, blue
X-type; 3, 4, 5 = the same Z-type; -1 = ignored), which sov's ``--code color`` circuits carry
(``verifier.qec.codes``); stim's own ``color_code:memory_xyz`` circuits do not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines.dem_source import decoding_dem
from baselines.options import split_spec
from verifier.environment import package_version
from verifier.errors import UsageError, first_line
from verifier.qec.decoder import pack_bits, unpack_bits

REFUSE = ("Chromobius decodes color codes whose detectors say their color and basis (a 4th "
          "detector coordinate in -1..5, as sov's --code color circuits have), and {why}; "
          "decode it with --decoder tesseract or --decoder bposd, which take any DEM")


def unannotated(dem) -> int | None:
    """The first detector without a color/basis annotation, or None."""
    for k, coords in sorted(dem.get_detector_coordinates().items()):
        if len(coords) < 4 or coords[3] not in (-1, 0, 1, 2, 3, 4, 5):
            return k
    return None


@dataclass(frozen=True)
class CompiledChromobius:
    decoder: Any
    num_observables: int

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        return np.asarray(self.decoder.predict_obs_flips_from_dets_bit_packed(np.ascontiguousarray(dets)),
                          dtype=np.uint8).reshape(len(dets), -1)

    def decode_bits(self, dets: np.ndarray) -> np.ndarray:
        """Unpacked events -> unpacked predictions (uint8), as ``CompiledMatching.decode_bits``."""
        return unpack_bits(self.decode_packed(pack_bits(dets)), self.num_observables)


@dataclass(frozen=True)
class ChromobiusDecoder:
    name: str = field(default="chromobius")
    model_sha256: None = None

    @classmethod
    def named(cls, spec: str) -> "ChromobiusDecoder":
        name, text = split_spec(spec)
        if text:
            raise UsageError(f"--decoder {name} takes no options, got {text!r}")
        return cls(spec)

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "chromobius", "chromobius": package_version("chromobius"),
                "stim": package_version("stim"),
                "dem": "workload DEM (undecomposed where decomposition fails)"}

    def check(self, workload) -> None:
        if getattr(workload, "code", None) in ("surface", "repetition"):
            raise UsageError(f"Chromobius decodes color codes, and this is a {workload.code} code "
                             "memory: decode it with --decoder pymatching (or pymatching-correlated, "
                             "tesseract)")
        bad = unannotated(decoding_dem(workload))
        if bad is not None:
            raise UsageError(REFUSE.format(why=f"detector {bad} of this workload has no such annotation"))

    def compile_for(self, workload) -> CompiledChromobius:
        import chromobius

        dem = decoding_dem(workload)
        try:
            return CompiledChromobius(chromobius.compile_decoder_for_dem(dem), dem.num_observables)
        except ValueError as e:
            raise UsageError(REFUSE.format(why=f"Chromobius refused this DEM: {first_line(e)}")) from None
