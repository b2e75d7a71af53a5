"""Belief-matching (Higgott, Bohdanowicz, Kubica, Flammia and Campbell, PRX 2023): belief
propagation on the full (hyperedge) DEM, whose marginals reweight the edges of PyMatching's
graph before matching. It decodes what PyMatching decodes (a DEM that decomposes into
graphlike pieces) and uses the Y-correlations matching drops.

Installed with the optional extra ``[belief]``: beliefmatching's dependencies pin numpy
below the version sov's other dependencies install."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from baselines.options import OptionedBaseline
from baselines.pymatching_decoder import detector_error_model
from baselines.unpacked import UnpackedBatchDecoder
from verifier.environment import package_version

DEFAULTS = {"max_bp_iters": 20}


@dataclass(frozen=True)
class BeliefMatchingDecoder(OptionedBaseline):
    DEFAULTS: ClassVar[dict[str, Any]] = DEFAULTS

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "belief-matching", "beliefmatching": package_version("beliefmatching"),
                "pymatching": package_version("pymatching"), "stim": package_version("stim"),
                "options": self.opts(), "dem": "decompose_errors=True"}

    def compile_for(self, workload) -> UnpackedBatchDecoder:
        from beliefmatching import BeliefMatching

        dem = detector_error_model(workload)
        dec = BeliefMatching(dem, **self.opts())
        return UnpackedBatchDecoder(dec.decode_batch, dem.num_detectors, dem.num_observables)
