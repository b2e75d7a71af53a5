"""Tesseract (tesseract-decoder, Google Quantum AI): an A* search for the most likely set of
error mechanisms of the DEM that explains the detection events, pruned by a beam on the
number of residual detection events and run over several detector orderings. It takes any
DEM (no graphlike decomposition), so it decodes surface, color and qLDPC circuits alike; it
is much slower than matching and more accurate on circuit-level noise (it uses the
Y-correlations matching drops).

Defaults: the library's own ``tesseract-short-beam`` sinter preset (det-beam 15, beam
climbing, 16 detector orders by index with its seed, priority-queue limit 200,000)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from baselines.dem_source import decoding_dem
from baselines.options import OptionedBaseline
from baselines.unpacked import UnpackedBatchDecoder
from verifier.environment import package_version

DEFAULTS = {"det_beam": 15, "beam_climbing": True, "det_orders": 16, "det_order_seed": 2384753,
            "pqlimit": 200_000, "no_revisit_dets": True}


@dataclass(frozen=True)
class TesseractDecoder(OptionedBaseline):
    DEFAULTS: ClassVar[dict[str, Any]] = DEFAULTS

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "tesseract", "tesseract-decoder": package_version("tesseract-decoder"),
                "stim": package_version("stim"), "options": self.opts(),
                "dem": "workload DEM (undecomposed where decomposition fails)"}

    def compile_for(self, workload) -> UnpackedBatchDecoder:
        from tesseract_decoder import tesseract, utils

        o = self.opts()
        dem = decoding_dem(workload)
        orders = utils.build_det_orders(dem, o["det_orders"], utils.DetOrder.DetIndex,
                                        seed=o["det_order_seed"]) if o["det_orders"] else []
        config = tesseract.TesseractConfig(dem=dem, det_beam=o["det_beam"], beam_climbing=o["beam_climbing"],
                                           no_revisit_dets=o["no_revisit_dets"], pqlimit=o["pqlimit"],
                                           det_orders=orders)
        dec = config.compile_decoder()
        return UnpackedBatchDecoder(dec.decode_batch, dem.num_detectors, dem.num_observables)
