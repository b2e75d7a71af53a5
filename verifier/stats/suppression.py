"""Error suppression: the suppression factor Λ from the per-round errors ε_d.

Below threshold ε falls exponentially with the distance, ``ε_d = C / Λ^((d + 1) / 2)``, so
``Λ = ε_d / ε_{d+2}``. Over several distances Λ comes from a weighted least-squares line
through ``ln ε_d`` against ``d``: ``Λ = exp(-2 slope)``, each distance weighted by the
variance of its ``ln ε_d``. How ε_d is measured (``verifier.stats.epsilon``) is the
convention: ``google`` (several round counts per distance, A free; the default of
``sov qec lambda``) or ``single-round-count`` (one experiment per distance, A = 1).

Intervals: Λ's is a parametric bootstrap over the binomial counts (every experiment's
errors redrawn from Binomial(shots, errors / shots), every ε_d and the line refitted),
reported as the percentile interval, alongside the line's own standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from verifier.stats.binomial import CONFIDENCE
from verifier.stats.epsilon import (GOOGLE, SINGLE, EpsilonEstimate, EpsilonPoint, epsilon_interval,
                                    epsilon_of, estimate_epsilon, eps_of_slope, fit_rounds, infer_convention,
                                    log_eps_var_of_slope, single_log_eps_var, wls_rows)

__all__ = ["EpsilonPoint", "LambdaFit", "epsilon_interval", "epsilon_of", "fit_lambda", "points_from_results"]

BOOTSTRAP = 2000
_MODEL = {GOOGLE: "per distance: 1 - 2 P_L(n) = A (1 - 2 eps_d)^n, A free (weighted fit over n); "
                  "then ln eps_d = a - d ln(Lambda) / 2 (weighted least squares)",
          SINGLE: "per distance: 1 - 2 P_L = (1 - 2 eps_d)^rounds (one round count, A = 1); "
                  "then ln eps_d = a - d ln(Lambda) / 2 (weighted least squares)"}


@dataclass(frozen=True)
class LambdaFit:
    lam: float | None
    lam_ci: tuple[float | None, float | None]
    lam_se: float | None  # standard error of Λ from the weighted line (delta method)
    intercept: float | None  # ln ε at d = 0 of the fitted line
    points: tuple[EpsilonPoint, ...]  # every experiment, by distance then rounds
    pairwise: tuple[dict, ...] = ()  # ε_d / ε_{d+2} for successive distances with intervals
    confidence: float = CONFIDENCE
    status: str = "ok"  # ok | no_errors | too_few_distances | above_threshold
    message: str = ""
    bootstrap: int = 0
    extra: dict = field(default_factory=dict)
    convention: str = SINGLE
    estimates: tuple[EpsilonEstimate, ...] = ()  # ε_d per distance

    def epsilon_fit(self, d: float | np.ndarray) -> float | np.ndarray | None:
        """The fitted ε at distance ``d``."""
        if self.lam is None or self.intercept is None:
            return None
        return np.exp(self.intercept - np.asarray(d, dtype=float) * math.log(self.lam) / 2.0)

    def to_json(self) -> dict:
        return {"lambda": self.lam, "lambda_ci": list(self.lam_ci), "lambda_se": self.lam_se,
                "convention": self.convention, "confidence": self.confidence, "status": self.status,
                "message": self.message,
                "fit": {"model": _MODEL[self.convention], "a": self.intercept,
                        "bootstrap_resamples": self.bootstrap},
                "epsilon": [e.to_json() for e in self.estimates],
                "pairwise": list(self.pairwise), **self.extra}


def _by_distance(points: Sequence[EpsilonPoint]) -> list[list[EpsilonPoint]]:
    groups: dict[int, list[EpsilonPoint]] = {}
    for q in points:
        groups.setdefault(q.distance, []).append(q)
    return [sorted(groups[d], key=lambda q: q.rounds) for d in sorted(groups)]


def fit_lambda(points: Sequence[EpsilonPoint], *, confidence: float = CONFIDENCE,
               bootstrap: int = BOOTSTRAP, seed: int = 0, convention: str | None = None) -> LambdaFit:
    """Λ from memory experiments at several distances (one physical error rate).

    ``convention``: google (each distance at two or more round counts) or
    single-round-count (one experiment per distance); ``None``: read from the points."""
    pts = tuple(sorted(points, key=lambda q: (q.distance, q.rounds)))
    conv = convention or infer_convention(pts)
    groups = _by_distance(pts)
    est = tuple(estimate_epsilon(g, conv) for g in groups)
    pairwise = tuple(_pair(a, b, confidence) for a, b in zip(est, est[1:]))
    base = dict(points=pts, pairwise=pairwise, confidence=confidence, convention=conv, estimates=est)
    if len(est) < 2:
        return LambdaFit(None, (None, None), None, None, status="too_few_distances",
                         message="Λ needs at least two distances", **base)
    zero = [e.distance for e in est if e.status == "no_errors"]
    if zero:
        return LambdaFit(None, (None, None), None, None, status="no_errors",
                         message=f"ε not measured at distance {', '.join(map(str, zero))} (no logical errors"
                                 + (", or none growing with the rounds" if conv == GOOGLE else "")
                                 + "): run more shots to measure ε there", **base)
    if any(e.status == "above_threshold" for e in est):
        return LambdaFit(None, (None, None), None, None, status="above_threshold",
                         message="a logical error rate reached 1/2: ε is not defined", **base)
    d = np.array([e.distance for e in est], dtype=float)
    a, b, se_b = wls_rows(d, np.log([e.epsilon for e in est]), np.array([e.log_eps_var for e in est]))
    lam = math.exp(-2.0 * float(b))
    lams = _bootstrap(groups, conv, bootstrap, seed)
    alpha = 1.0 - confidence
    lo, hi = ((float(x) for x in np.quantile(lams, [alpha / 2, 1 - alpha / 2])) if len(lams) else (None, None))
    status, msg = "ok", ""
    if lam <= 1.0:
        status, msg = "above_threshold", f"Λ = {lam:.3g} ≤ 1: ε does not fall with distance (above threshold?)"
    return LambdaFit(lam, (lo, hi), 2.0 * lam * float(se_b), float(a), status=status, message=msg,
                     bootstrap=len(lams), **base)


def _bootstrap(groups: list[list[EpsilonPoint]], conv: str, bootstrap: int, seed: int) -> np.ndarray:
    """Λ of ``bootstrap`` parametric resamples of every experiment's count (all distances
    at once, one row per resample). A resample in which ε is not measured at some
    distance (P_L at 1/2, or no errors in google) is dropped."""
    if bootstrap <= 0:
        return np.array([])
    rng = np.random.default_rng(seed)
    log_eps, var = [], []
    for g in groups:
        shots = np.array([q.shots for q in g], dtype=float)
        n = np.array([q.rounds for q in g], dtype=float)
        e = rng.binomial(np.array([q.shots for q in g], dtype=np.int64), [q.ler for q in g],
                         size=(bootstrap, len(g))).astype(float)
        if conv == SINGLE:
            e = np.maximum(e, 0.5)  # a resample with no errors: half an error (continuity)
            lb = e[:, 0] / shots[0]
            ok = lb < 0.5
            lb = np.where(ok, lb, 0.25)
            eps, v = epsilon_of(lb, n[0]), single_log_eps_var(lb, shots[0], n[0])
        else:
            ok = np.all(e / shots < 0.5, axis=1)
            f = fit_rounds(n, shots, np.where(ok[:, None], e, 0.0))
            ok &= f["b"] < 0
            b = np.where(ok, f["b"], -1.0)
            eps, v = eps_of_slope(b), log_eps_var_of_slope(b, f["se_b"])
        log_eps.append(np.where(ok, np.log(np.maximum(eps, 1e-300)), np.nan))
        var.append(v)
    y, v = np.stack(log_eps, axis=1), np.stack(var, axis=1)
    keep = ~np.isnan(y).any(axis=1)
    d = np.array([g[0].distance for g in groups], dtype=float)
    _, bb, _ = wls_rows(d, y[keep], v[keep])
    return np.exp(-2.0 * bb)


def _pair(a: EpsilonEstimate, b: EpsilonEstimate, confidence: float) -> dict:
    """ε_a / ε_b with a conservative interval from the two ε intervals at sqrt(confidence)
    each (so both hold together with probability >= confidence)."""
    conf_each = math.sqrt(confidence)
    alo, ahi = a.ci(conf_each)
    blo, bhi = b.ci(conf_each)
    ratio = a.epsilon / b.epsilon if a.epsilon is not None and b.epsilon else None
    lo = alo / bhi if alo is not None and bhi else None
    hi = ahi / blo if ahi is not None and blo else None
    return {"from": a.distance, "to": b.distance, "lambda": ratio, "lambda_ci": [lo, hi]}


def points_from_results(results) -> list[EpsilonPoint]:
    """EpsilonPoints from sweep TaskResults (one physical error rate)."""
    return [EpsilonPoint(r.workload.distance, r.workload.rounds, r.stats.shots, r.stats.errors)
            for r in results]
