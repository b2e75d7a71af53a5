"""Is a recorded shot file plausibly the detection events of its circuit?

Before recorded shots are scored, one block of the detection-event file (at most
:data:`SAMPLE_SHOTS` records from the start, never the whole file) is compared with what
the circuit's detector error model expects. Detector ``k`` fires when an odd number of the
mechanisms that flip it occur, so its expected density is ``(1 - prod(1 - 2 p_i)) / 2``
over those mechanisms ``i``; summed over the detectors it is the expected number of
detection events per shot. The measured mean per shot is set against it as a ratio and as
a z score (the standard error from the measured per-shot spread, never below the
independent-detector spread ``sqrt(sum q_k (1 - q_k))``):

- refused (exit 2, one line): the ratio is beyond :data:`REFUSE_RATIO` either way *and*
  ``|z| > REFUSE_Z`` -- an observables file given as ``--dets`` (a detector fires on a
  few percent of shots at most: ratio ~0.01-0.1), random bytes (ratio 5-50 below
  threshold; and whatever the ratio, a density of 0.5 +- :data:`COIN_TOLERANCE` on every
  detector where the model expects under :data:`COIN_EXPECTED`), all-zero or all-one data,
  data of another circuit;
- warned (one line on stderr, the run goes on): beyond :data:`WARN_RATIO` and
  ``|z| > WARN_Z`` -- hardware data whose noise is not the circuit's model, data taken at
  another physical error rate.

A file of fewer than :data:`MIN_JUDGED_SHOTS` shots is never refused, only warned about:
a handful of shots says little, and a test fixture of a few shots is not hardware data.

Real devices are not their circuit's noise model: genuine data is routinely 10-50 % off
the DEM's density, which is thousands of sigma on a large file. So the decision is on
the ratio, and the z score only keeps a few shots from being judged. See docs/cli.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verifier.errors import UsageError

SAMPLE_SHOTS = 4096
REFUSE_RATIO = 3.0
REFUSE_Z = 10.0
WARN_RATIO = 1.5
WARN_Z = 5.0
MIN_JUDGED_SHOTS = 100  # a smaller file is never refused (at most warned about)
COIN_TOLERANCE = 0.02  # |density - 0.5| of random bytes: 0.01 (1 sigma) on 2,400 bits, less on more
COIN_EXPECTED = 0.35  # ... refused as random where the model expects a density below this


@dataclass(frozen=True)
class Plausibility:
    shots: int  # records looked at
    detectors: int
    expected: float  # expected detection events per shot (the DEM)
    measured: float  # measured mean per shot
    z: float

    @property
    def ratio(self) -> float:
        if self.expected > 0:
            return self.measured / self.expected
        return 1.0 if self.measured == 0 else math.inf

    def off_by(self, limit: float) -> bool:
        r = self.ratio
        return r > limit or r < 1 / limit

    @property
    def coin_flips(self) -> bool:
        """Every detector fires on half the shots, as random bytes do (within
        :data:`COIN_TOLERANCE`), where the model expects far fewer: no circuit below
        threshold gives that."""
        return (self.shots >= MIN_JUDGED_SHOTS and abs(self.measured / self.detectors - 0.5) < COIN_TOLERANCE
                and self.expected / self.detectors < COIN_EXPECTED)

    @property
    def verdict(self) -> str:
        """``refuse``, ``warn`` or ``ok``."""
        judged = self.shots >= MIN_JUDGED_SHOTS
        if judged and ((self.off_by(REFUSE_RATIO) and abs(self.z) > REFUSE_Z) or self.coin_flips):
            return "refuse"
        if self.off_by(WARN_RATIO) and abs(self.z) > WARN_Z:
            return "warn"
        return "ok"

    def describe(self) -> str:
        return (f"{self.measured:.3g} detection events per shot in its first {self.shots} shots, "
                f"where the circuit's error model expects {self.expected:.3g} "
                f"({self.ratio:.2g}x, z = {self.z:+.0f})")


def expected_densities(dem) -> np.ndarray:
    """Per detector, the probability that it fires under the error model ``dem`` (a
    decomposed DEM flips the same detectors: ``^`` only separates its pieces)."""
    keep = np.ones(dem.num_detectors)  # prod(1 - 2 p) over the mechanisms flipping each detector
    for inst in dem.flattened():
        if inst.type != "error":
            continue
        p = inst.args_copy()[0]
        ids = [t.val for t in inst.targets_copy() if t.is_relative_detector_id()]
        if ids:
            keep[ids] *= 1.0 - 2.0 * p
    return (1.0 - keep) / 2.0


def measure(dem, dets: np.ndarray) -> Plausibility:
    """``dets``: bit-packed detection events (``verifier.qec.workload``'s layout)."""
    q = expected_densities(dem)
    n = int(dets.shape[0])
    bits = np.unpackbits(dets, axis=1, bitorder="little", count=dem.num_detectors)
    per_shot = bits.sum(axis=1, dtype=np.int64)
    measured = float(per_shot.mean()) if n else 0.0
    expected = float(q.sum())
    spread = max(float(per_shot.std(ddof=1)) if n > 1 else 0.0, math.sqrt(float((q * (1 - q)).sum())))
    se = spread / math.sqrt(max(n, 1))
    z = (measured - expected) / se if se > 0 else (0.0 if measured == expected else math.copysign(math.inf, measured - expected))
    return Plausibility(n, dem.num_detectors, expected, measured, z)


def check_recorded(dem, dets_path: Path, dets: np.ndarray, *, warn=None) -> Plausibility:
    """Refuse (:class:`UsageError`) or warn about a detection-event file that its circuit
    cannot have produced. ``dets``: its first records, bit-packed; ``warn(line)`` gets the
    one-line warning (default: stderr)."""
    res = measure(dem, dets)
    v = res.verdict
    if v == "refuse":
        raise UsageError(f"{dets_path} does not look like detection events of this circuit: {res.describe()}; "
                         "wrong file (--obs given as --dets?), circuit or --data-format?")
    if v == "warn":
        import sys

        line = (f"sov: warning: {dets_path}: {res.describe()}: the data's noise is not the circuit's "
                "model, which model-based decoders decode against")
        (warn or (lambda s: sys.stderr.write(s + "\n")))(line)
    return res
