"""Error suppression: the per-round logical error ε_d and the suppression factor Λ.

Convention of Google's below-threshold experiments: a memory experiment of ``r`` rounds
with logical error probability P_L per shot has per-round error ε given by
``1 - 2 P_L = (1 - 2 ε)^r``. Below threshold ε falls exponentially with the distance,
``ε_d = C / Λ^((d + 1) / 2)``, so ``Λ = ε_d / ε_{d+2}``. Over several distances Λ comes
from a weighted least-squares line through ``ln ε_d`` against ``d``: ``Λ = exp(-2 slope)``.

Intervals: ε_d's interval is the Clopper-Pearson interval of P_L mapped through the
(monotone) conversion; Λ's interval is a parametric bootstrap over the binomial counts
(each distance's errors redrawn from Binomial(shots, P_L), the fit redone), reported as
the percentile interval, alongside the fit's own standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from verifier.stats.binomial import CONFIDENCE, clopper_pearson, per_round

BOOTSTRAP = 2000


def epsilon_of(p_shot: float | np.ndarray, rounds: int | np.ndarray) -> float | np.ndarray:
    """Per-round error from the per-shot error (array-friendly; 0.5 at and above P_L = 1/2)."""
    base = np.clip(1.0 - 2.0 * np.asarray(p_shot, dtype=float), 0.0, 1.0)
    return 0.5 * (1.0 - base ** (1.0 / rounds))


def epsilon_interval(errors: int, shots: int, rounds: int | None,
                     confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    if not rounds or shots <= 0:
        return (None, None)
    lo, hi = clopper_pearson(errors, shots, confidence)
    return (float(epsilon_of(lo, rounds)), float(epsilon_of(hi, rounds)))


@dataclass(frozen=True)
class EpsilonPoint:
    distance: int
    rounds: int
    shots: int
    errors: int

    @property
    def ler(self) -> float:
        return self.errors / self.shots

    @property
    def epsilon(self) -> float:
        return float(per_round(self.ler, self.rounds))

    def to_json(self) -> dict:
        lo, hi = clopper_pearson(self.errors, self.shots)
        elo, ehi = epsilon_interval(self.errors, self.shots, self.rounds)
        return {"distance": self.distance, "rounds": self.rounds, "shots": self.shots,
                "errors": self.errors, "ler": self.ler, "ler_ci": [lo, hi],
                "epsilon": self.epsilon, "epsilon_ci": [elo, ehi]}


@dataclass(frozen=True)
class LambdaFit:
    lam: float | None
    lam_ci: tuple[float | None, float | None]
    lam_se: float | None  # standard error of Λ from the weighted fit (delta method)
    intercept: float | None  # ln ε at d = 0 of the fitted line
    points: tuple[EpsilonPoint, ...]
    pairwise: tuple[dict, ...] = ()  # ε_d / ε_{d+2} for successive distances with intervals
    confidence: float = CONFIDENCE
    status: str = "ok"  # ok | no_errors | too_few_distances | above_threshold
    message: str = ""
    bootstrap: int = 0
    extra: dict = field(default_factory=dict)

    def epsilon_fit(self, d: float | np.ndarray) -> float | np.ndarray | None:
        """The fitted ε at distance ``d``."""
        if self.lam is None or self.intercept is None:
            return None
        return np.exp(self.intercept - np.asarray(d, dtype=float) * math.log(self.lam) / 2.0)

    def to_json(self) -> dict:
        return {"lambda": self.lam, "lambda_ci": list(self.lam_ci), "lambda_se": self.lam_se,
                "confidence": self.confidence, "status": self.status, "message": self.message,
                "fit": {"model": "ln eps_d = a - d ln(Lambda) / 2 (weighted least squares)",
                        "a": self.intercept, "bootstrap_resamples": self.bootstrap},
                "epsilon": [p.to_json() for p in self.points],
                "pairwise": list(self.pairwise), **self.extra}


def _weighted_line(d: np.ndarray, y: np.ndarray, var: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares y = a + b d; returns (a, b, se(b))."""
    w = 1.0 / var
    W = w.sum()
    dm = (w * d).sum() / W
    ym = (w * y).sum() / W
    sxx = (w * (d - dm) ** 2).sum()
    b = (w * (d - dm) * (y - ym)).sum() / sxx
    a = ym - b * dm
    return float(a), float(b), float(math.sqrt(1.0 / sxx))


def _log_eps_var(ler: np.ndarray, shots: np.ndarray, rounds: np.ndarray) -> np.ndarray:
    """Delta-method variance of ln ε from the binomial variance of P_L."""
    eps = epsilon_of(ler, rounds)
    deps = (np.clip(1 - 2 * ler, 1e-12, 1.0) ** (1.0 / rounds - 1.0)) / rounds
    var_p = np.maximum(ler * (1 - ler), 1.0 / shots) / shots  # floor keeps a 0-error point finite
    return (deps ** 2) * var_p / np.maximum(eps, 1e-300) ** 2


def fit_lambda(points: Sequence[EpsilonPoint], *, confidence: float = CONFIDENCE,
               bootstrap: int = BOOTSTRAP, seed: int = 0) -> LambdaFit:
    """Λ from per-round errors at several distances (one physical error rate)."""
    pts = tuple(sorted(points, key=lambda q: q.distance))
    if len({q.distance for q in pts}) != len(pts):
        raise ValueError("one point per distance")
    pairwise = []
    for a, b in zip(pts, pts[1:]):
        pairwise.append(_pair(a, b, confidence))
    if len(pts) < 2:
        return LambdaFit(None, (None, None), None, None, pts, tuple(pairwise), confidence,
                         "too_few_distances", "Λ needs at least two distances")
    zero = [q.distance for q in pts if q.errors == 0]
    if zero:
        return LambdaFit(None, (None, None), None, None, pts, tuple(pairwise), confidence, "no_errors",
                         f"no logical errors at distance {', '.join(map(str, zero))}: "
                         "run more shots to measure ε there")
    d = np.array([q.distance for q in pts], dtype=float)
    shots = np.array([q.shots for q in pts], dtype=float)
    errors = np.array([q.errors for q in pts], dtype=float)
    rounds = np.array([q.rounds for q in pts], dtype=float)
    ler = errors / shots
    if np.any(ler >= 0.5):
        return LambdaFit(None, (None, None), None, None, pts, tuple(pairwise), confidence,
                         "above_threshold", "a logical error rate reached 1/2: ε is not defined")
    eps = epsilon_of(ler, rounds)
    a, b, se_b = _weighted_line(d, np.log(eps), _log_eps_var(ler, shots, rounds))
    lam = math.exp(-2.0 * b)
    lam_se = 2.0 * lam * se_b

    # parametric bootstrap over the binomial counts
    rng = np.random.default_rng(seed)
    lams = []
    for _ in range(bootstrap):
        e = rng.binomial(shots.astype(np.int64), ler).astype(float)
        if np.any(e == 0):
            e = np.maximum(e, 0.5)  # a resample with no errors: half an error (continuity)
        lb = e / shots
        if np.any(lb >= 0.5):
            continue
        eb = epsilon_of(lb, rounds)
        _, bb, _ = _weighted_line(d, np.log(eb), _log_eps_var(lb, shots, rounds))
        lams.append(math.exp(-2.0 * bb))
    alpha = 1.0 - confidence
    if lams:
        lo, hi = (float(x) for x in np.quantile(lams, [alpha / 2, 1 - alpha / 2]))
    else:
        lo = hi = None
    status, msg = "ok", ""
    if lam <= 1.0:
        status, msg = "above_threshold", f"Λ = {lam:.3g} ≤ 1: ε does not fall with distance (above threshold?)"
    return LambdaFit(lam, (lo, hi), lam_se, a, pts, tuple(pairwise), confidence, status, msg,
                     bootstrap=len(lams))


def _pair(a: EpsilonPoint, b: EpsilonPoint, confidence: float) -> dict:
    """ε_a / ε_b with a conservative interval from the two ε intervals at sqrt(confidence)
    each (so both hold together with probability >= confidence)."""
    conf_each = math.sqrt(confidence)
    alo, ahi = epsilon_interval(a.errors, a.shots, a.rounds, conf_each)
    blo, bhi = epsilon_interval(b.errors, b.shots, b.rounds, conf_each)
    ratio = a.epsilon / b.epsilon if b.errors else None
    lo = alo / bhi if bhi else None
    hi = ahi / blo if blo else None
    return {"from": a.distance, "to": b.distance, "lambda": ratio,
            "lambda_ci": [lo, hi]}


def points_from_results(results) -> list[EpsilonPoint]:
    """EpsilonPoints from sweep TaskResults (one physical error rate)."""
    return [EpsilonPoint(r.workload.distance, r.workload.rounds, r.stats.shots, r.stats.errors)
            for r in results]
