"""Additive task statistics and the binomial intervals that travel with every rate.

A :class:`Stats` is what one chunk of shots produced; chunks, worker processes and
resumed runs simply add up (as sinter's ``AnonTaskStats``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache

# The one confidence level of every interval sov reports (two-sided), and of its gates.
CONFIDENCE = 0.95


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

@lru_cache(maxsize=4096)  # pure, and asked for the same counts by every table and report
def clopper_pearson(errors: int, shots: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided binomial interval; ``(0, 1 - (alpha/2)**(1/n))`` when errors = 0."""
    if shots <= 0:
        return (float("nan"), float("nan"))
    alpha = 1.0 - confidence
    lo = 0.0 if errors == 0 else beta_ppf(alpha / 2, errors, shots - errors + 1)
    hi = 1.0 if errors == shots else beta_ppf(1 - alpha / 2, errors + 1, shots - errors)
    return (lo, hi)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 200_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            return h
    raise ArithmeticError(f"incomplete beta I_{x}({a}, {b}) did not converge")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """Quantile of the Beta(a, b) distribution (``scipy.stats.beta.ppf``), by bisection on
    :func:`betainc`; agrees with scipy to ~1e-9 relative. Pure Python, so the CLI does not
    import scipy.special / scipy.stats (0.3 - 1 s) to print an interval."""
    lo, hi = 0.0, 1.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 4e-16 * hi:
            break
    return 0.5 * (lo + hi)


def per_round(p_shot: float, rounds: int | None) -> float | None:
    """Per-round logical error from 1 - 2 P_L = (1 - 2 eps)^rounds (Google's convention).

    Returns ``None`` without a round count; 0.5 once P_L reaches 1/2."""
    if rounds is None or rounds < 1 or p_shot != p_shot:
        return None
    base = 1.0 - 2.0 * p_shot
    if base <= 0:
        return 0.5
    return 0.5 * (1.0 - base ** (1.0 / rounds))
