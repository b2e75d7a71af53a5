"""BP+OSD (stimbposd over the ldpc package): belief propagation on the DEM's check matrix,
and, when BP does not converge to a solution, ordered-statistics decoding (OSD-CS) on the
columns BP ranks most likely. It takes any DEM (no graphlike decomposition) and is the
usual baseline for qLDPC memories (bivariate bicycle, hypergraph product), where matching
does not apply.

Defaults: stimbposd's (30 BP iterations, product-sum BP, OSD-CS of order 60)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from baselines.dem_source import decoding_dem
from baselines.options import OptionedBaseline
from baselines.unpacked import UnpackedBatchDecoder
from verifier.environment import package_version

DEFAULTS = {"max_bp_iters": 30, "bp_method": "product_sum", "osd_order": 60, "osd_method": "osd_cs"}


@dataclass(frozen=True)
class BpOsdDecoder(OptionedBaseline):
    DEFAULTS: ClassVar[dict[str, Any]] = DEFAULTS

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "bposd", "stimbposd": package_version("stimbposd"),
                "ldpc": package_version("ldpc"), "stim": package_version("stim"),
                "options": self.opts(),
                "dem": "workload DEM (undecomposed where decomposition fails)"}

    def compile_for(self, workload) -> UnpackedBatchDecoder:
        from stimbposd import BPOSD

        dem = decoding_dem(workload)
        dec = BPOSD(dem, **self.opts())
        return UnpackedBatchDecoder(dec.decode_batch, dem.num_detectors, dem.num_observables)
