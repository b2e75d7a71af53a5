"""A compiled baseline whose library decodes unpacked boolean shots (Tesseract, BP+OSD,
belief-matching): the engine's bit-packed blocks are unpacked for it and its predictions
packed again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from verifier.qec.decoder import pack_bits, unpack_bits


@dataclass(frozen=True)
class UnpackedBatchDecoder:
    decode_batch: Callable[[np.ndarray], Any]  # bool[n, D] -> [n, O] of 0/1
    num_detectors: int
    num_observables: int

    def decode_bits(self, dets: np.ndarray) -> np.ndarray:
        """Unpacked ``[n, D]`` 0/1 events -> unpacked ``[n, O]`` predictions (uint8), as
        ``CompiledMatching.decode_bits``: what a pre-decoder's finisher is called with."""
        bits = np.asarray(dets, dtype=bool).reshape(len(dets), self.num_detectors)
        return np.asarray(self.decode_batch(bits), dtype=np.uint8).reshape(len(dets), self.num_observables)

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        if len(dets) == 0:
            return np.zeros((0, (self.num_observables + 7) // 8), dtype=np.uint8)
        bits = unpack_bits(dets, self.num_detectors).astype(bool)
        pred = np.asarray(self.decode_batch(bits)).reshape(len(dets), self.num_observables)
        return pack_bits(pred)
