"""Additive task statistics and the binomial intervals that travel with every rate.

A :class:`Stats` is what one chunk of shots produced; chunks, worker processes and
resumed runs simply add up (as sinter's ``AnonTaskStats``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Stats:
    shots: int = 0
    errors: int = 0
    seconds: float = 0.0  # wall seconds spent decoding (model inference + matching)
    sample_seconds: float = 0.0  # wall seconds spent sampling or reading the shots

    def __add__(self, other: "Stats") -> "Stats":
        if not isinstance(other, Stats):
            return NotImplemented
        return Stats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __radd__(self, other: object) -> "Stats":
        if other == 0:  # lets sum() start from 0
            return self
        return NotImplemented  # type: ignore[return-value]

    @property
    def ler(self) -> float:
        return self.errors / self.shots if self.shots else float("nan")

    @property
    def shots_per_second(self) -> float:
        return self.shots / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def clopper_pearson(errors: int, shots: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval; ``(0, 1 - (alpha/2)**(1/n))`` when errors = 0."""
    if shots <= 0:
        return (float("nan"), float("nan"))
    from scipy.special import betaincinv  # = scipy.stats.beta.ppf, without importing scipy.stats (~0.5 s)

    alpha = 1.0 - confidence
    lo = 0.0 if errors == 0 else float(betaincinv(errors, shots - errors + 1, alpha / 2))
    hi = 1.0 if errors == shots else float(betaincinv(errors + 1, shots - errors, 1 - alpha / 2))
    return (lo, hi)


def wilson(errors: int, shots: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (good coverage, closed form, correct at 0 errors)."""
    if shots <= 0:
        return (float("nan"), float("nan"))
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = errors / shots
    denom = 1 + z * z / shots
    centre = (p + z * z / (2 * shots)) / denom
    half = z * math.sqrt(p * (1 - p) / shots + z * z / (4 * shots * shots)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def per_round(p_shot: float, rounds: int | None) -> float | None:
    """Per-round logical error from 1 - 2 P_L = (1 - 2 eps)^rounds (Google's convention).

    Returns ``None`` without a round count; 0.5 once P_L reaches 1/2."""
    if rounds is None or rounds < 1 or p_shot != p_shot:
        return None
    base = 1.0 - 2.0 * p_shot
    if base <= 0:
        return 0.5
    return 0.5 * (1.0 - base ** (1.0 / rounds))
