"""Belief-matching (Higgott, Bohdanowicz, Kubica, Flammia and Campbell, PRX 2023): belief
propagation on the full (hyperedge) DEM, whose marginals reweight the edges of PyMatching's
graph before matching. It decodes what PyMatching decodes (a DEM that decomposes into
graphlike pieces) and uses the Y-correlations matching drops.

Installed with the optional extra ``[belief]``: beliefmatching's dependencies pin numpy
below the version sov's other dependencies install."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baselines.options import parse_options, split_spec
from baselines.pymatching_decoder import detector_error_model
from baselines.unpacked import UnpackedBatchDecoder
from verifier.environment import package_version

DEFAULTS = {"max_bp_iters": 20}


@dataclass(frozen=True)
class BeliefMatchingDecoder:
    options: tuple = tuple(DEFAULTS.items())
    name: str = field(default="belief-matching")
    model_sha256: None = None

    @classmethod
    def named(cls, spec: str) -> "BeliefMatchingDecoder":
        name, text = split_spec(spec)
        return cls(tuple(parse_options(name, text, DEFAULTS).items()), spec)

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "belief-matching", "beliefmatching": package_version("beliefmatching"),
                "pymatching": package_version("pymatching"), "stim": package_version("stim"),
                "options": dict(self.options), "dem": "decompose_errors=True"}

    def check(self, workload) -> None:
        return None

    def compile_for(self, workload) -> UnpackedBatchDecoder:
        from beliefmatching import BeliefMatching

        dem = detector_error_model(workload)
        dec = BeliefMatching(dem, **dict(self.options))
        return UnpackedBatchDecoder(dec.decode_batch, dem.num_detectors, dem.num_observables)
