"""The sweep grid: every distance at every physical error rate (at one round count, or at
several: ``rounds_factors``), and the one seed rule.

Seeds: the point (d, p) of a grid with seed ``S`` samples with its own seed derived from
``(S, distance, rounds, p)``, so the points are statistically independent (the intervals
and the bootstrap assume it) and every command that names the same grid (``qec sweep``,
``threshold``, ``lambda``, ``compare``) draws the same blocks. The derived seed is part of
each workload's spec and printed with it; ``sov qec run --seed`` with that value replays
the same shots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verifier.errors import UsageError
from verifier.qec.codes import check_code
from verifier.qec.limits import check_distance, check_rounds, check_shots
from verifier.qec.workload import MemoryWorkload

def point_seed(seed: int, distance: int, rounds: int, p: float) -> int:
    """The sampling seed of one sweep point: independent across points, fixed by ``seed``."""
    words = [int(seed) & 0xFFFFFFFF, int(seed) >> 32, int(distance), int(rounds),
             int(round(float(p) * 1e12)) & 0xFFFFFFFF, int(round(float(p) * 1e12)) >> 32]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class SweepSpec:
    """A grid of memory workloads (the rotated surface code unless ``code`` says otherwise):
    every distance at every physical error rate."""

    distances: tuple[int, ...]
    ps: tuple[float, ...]
    shots: int
    seed: int = 0
    rounds: int | None = None  # None: rounds = distance
    basis: str = "z"
    noise: str = "uniform"
    # several round counts per distance, rounds = factor x distance (Λ's google
    # convention); None: the one round count of ``rounds``
    rounds_factors: tuple[int, ...] | None = None
    code: str = "surface"  # verifier.qec.codes

    def __post_init__(self) -> None:
        if not self.distances:
            raise UsageError("--distances is empty: give e.g. --distances 3,5,7")
        if not self.ps:
            raise UsageError("--p is empty: give e.g. --p 0.004,0.006,0.008")
        if len(set(self.distances)) != len(self.distances):
            raise UsageError(f"--distances lists a distance twice: {list(self.distances)}")
        if len(set(self.ps)) != len(self.ps):
            raise UsageError(f"--p lists a rate twice: {list(self.ps)}")
        # the maxima (verifier.qec.limits) before any point is built
        check_shots(self.shots)
        for d in self.distances:
            check_distance(d, "--distances")
            check_code(self.code, d, self.basis, "--distances")
        if self.rounds is not None:
            check_rounds(self.rounds)
        if self.rounds_factors is not None:
            if self.rounds is not None:
                raise UsageError("--rounds fixes one round count: it does not go with --rounds-factors")
            if not self.rounds_factors or len(set(self.rounds_factors)) != len(self.rounds_factors):
                raise UsageError(f"--rounds-factors must list distinct factors, got {list(self.rounds_factors)}")
            for d in self.distances:
                for f in self.rounds_factors:
                    check_rounds(f * d, "--rounds-factors")

    def rounds_of(self, distance: int) -> tuple[int, ...]:
        """The round counts of ``distance``'s experiments."""
        if self.rounds_factors is not None:
            return tuple(sorted(f * distance for f in self.rounds_factors))
        return (self.rounds or distance,)

    def workloads(self) -> list[MemoryWorkload]:
        out = []
        for d in self.distances:
            for r in self.rounds_of(d):
                for p in self.ps:
                    out.append(MemoryWorkload(d, r, self.basis, self.noise, float(p), self.shots,
                                              point_seed(self.seed, d, r, p), code=self.code))
        return out

    def to_json(self) -> dict:
        out = {**({} if self.code == "surface" else {"code": self.code}), "distances": list(self.distances), "p": list(self.ps), "shots": self.shots,
               "seed": self.seed, "rounds": self.rounds or "distance", "basis": self.basis,
               "noise": self.noise}
        if self.rounds_factors is not None:
            out.update(rounds="distance x rounds_factors", rounds_factors=list(self.rounds_factors))
        return out


def parse_int_list(text: str, *, flag: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in _items(text))
    except ValueError:
        raise UsageError(f"{flag} must be a comma-separated list of integers, got {text!r}") from None
    if not vals:
        raise UsageError(f"{flag} is empty")
    return vals


def parse_float_list(text: str, *, flag: str) -> tuple[float, ...]:
    """``0.004,0.005`` or a range ``lo:hi:n`` (n rates, evenly spaced on a log scale)."""
    items = _items(text)
    try:
        if len(items) == 1 and items[0].count(":") == 2:
            lo, hi, n = items[0].split(":")
            lo_f, hi_f, n_i = float(lo), float(hi), int(n)
            if not (0 < lo_f < hi_f) or n_i < 2:
                raise ValueError
            return tuple(float(f"{x:.6g}") for x in np.geomspace(lo_f, hi_f, n_i))
        vals = tuple(float(x) for x in items)
    except ValueError:
        raise UsageError(f"{flag} must be a comma-separated list of numbers or lo:hi:n, got {text!r}") from None
    if not vals:
        raise UsageError(f"{flag} is empty")
    return vals


def _items(text: str) -> list[str]:
    return [x.strip() for x in str(text).split(",") if x.strip()]
