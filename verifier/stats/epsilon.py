"""The per-round logical error ε_d of one distance, in two conventions.

* ``google`` (the default of ``sov qec lambda``): memory experiments of the same code at
  several round counts n, fitted by ``1 - 2 P_L(n) = A (1 - 2 ε)^n`` with the amplitude A
  free. A absorbs what the first and last rounds (state preparation and the final
  readout) add or remove once per experiment, so ε measures the error of a round in the
  middle of a long memory, the quantity whose ratio across distances is Λ.
* ``single-round-count``: one experiment (rounds = d unless told otherwise) with A fixed
  to 1, ``1 - 2 P_L = (1 - 2 ε)^rounds``. The time boundaries then count as part of the
  rounds, which lowers the apparent ε more at large d and reads Λ high.

The ``google`` fit is weighted least squares of ``ln(1 - 2 P_L(n)) = ln A + n ln(1 - 2 ε)``,
iteratively reweighted: the variance of each point, ``4 P(1 - P) / (N (1 - 2 P)^2)``
(delta method on the binomial), is taken at the fitted P rather than the observed one,
so a point's weight does not depend on its own noise. ε's interval is the Wald interval
of the slope mapped through the monotone ``ε = (1 - e^slope) / 2``; its coverage is
measured on synthetic binomial counts in ``tests/test_lambda.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

from verifier.stats.binomial import CONFIDENCE, clopper_pearson, per_round

GOOGLE = "google"
SINGLE = "single-round-count"
CONVENTIONS = (GOOGLE, SINGLE)
ROUNDS_FACTORS = (1, 3, 9)  # the google convention's default round counts: n = d, 3d, 9d
_IRLS_STEPS = 4


def epsilon_of(p_shot: float | np.ndarray, rounds: int | np.ndarray) -> float | np.ndarray:
    """Per-round error from the per-shot error, A = 1 (array-friendly; 0.5 at and above P_L = 1/2)."""
    base = np.clip(1.0 - 2.0 * np.asarray(p_shot, dtype=float), 0.0, 1.0)
    return 0.5 * (1.0 - base ** (1.0 / rounds))


def epsilon_interval(errors: int, shots: int, rounds: int | None,
                     confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """A = 1: the Clopper-Pearson interval of P_L mapped through :func:`epsilon_of`."""
    if not rounds or shots <= 0:
        return (None, None)
    lo, hi = clopper_pearson(errors, shots, confidence)
    return (float(epsilon_of(lo, rounds)), float(epsilon_of(hi, rounds)))


def z_value(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


@dataclass(frozen=True)
class EpsilonPoint:
    """One memory experiment: ``errors`` logical errors in ``shots`` shots of ``rounds`` rounds."""

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


def wls_rows(x: np.ndarray, y: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares ``y = a + b x`` along the last axis (one fit per row);
    returns (a, b, se(b)) with the variances taken as known."""
    w = 1.0 / var
    W = w.sum(-1, keepdims=True)
    xm = (w * x).sum(-1, keepdims=True) / W
    ym = (w * y).sum(-1, keepdims=True) / W
    sxx = (w * (x - xm) ** 2).sum(-1)
    b = (w * (x - xm) * (y - ym)).sum(-1) / sxx
    a = ym[..., 0] - b * xm[..., 0]
    return a, b, np.sqrt(1.0 / sxx)


def _point_var(p: np.ndarray, shots: np.ndarray) -> np.ndarray:
    """Delta-method variance of ln(1 - 2 P) from the binomial variance of P; floored at one
    error's worth so a point without errors keeps a finite weight."""
    p = np.clip(p, 0.0, 0.499)
    var_p = np.maximum(p * (1.0 - p), 1.0 / shots) / shots
    return 4.0 * var_p / (1.0 - 2.0 * p) ** 2


def fit_rounds(n: np.ndarray, shots: np.ndarray, errors: np.ndarray) -> dict[str, np.ndarray]:
    """The google fit along the last axis (rows: independent fits, e.g. bootstrap
    resamples). Every P_L must be below 1/2. Returns arrays ``a`` (ln A), ``b``
    (ln(1 - 2 ε)), ``se_b``, ``chi2``."""
    p = errors / shots
    y = np.log(1.0 - 2.0 * p)
    var = _point_var(p, shots)
    for _ in range(_IRLS_STEPS):
        a, b, se_b = wls_rows(n, y, var)
        fitted = 0.5 * (1.0 - np.exp(a[..., None] + b[..., None] * n))
        var = _point_var(fitted, shots)
    a, b, se_b = wls_rows(n, y, var)
    chi2 = (((y - a[..., None] - b[..., None] * n) ** 2) / var).sum(-1)
    return {"a": a, "b": b, "se_b": se_b, "chi2": chi2}


def eps_of_slope(b: float | np.ndarray) -> float | np.ndarray:
    return 0.5 * (1.0 - np.exp(b))


def log_eps_var_of_slope(b: float | np.ndarray, se_b: float | np.ndarray) -> float | np.ndarray:
    """Delta-method variance of ln ε from the slope's: d ln ε / d b = -e^b / (1 - e^b)."""
    eb = np.exp(b)
    return (eb / np.maximum(1.0 - eb, 1e-300)) ** 2 * se_b ** 2


def single_log_eps_var(ler: np.ndarray, shots: np.ndarray, rounds: np.ndarray) -> np.ndarray:
    """A = 1: delta-method variance of ln ε from the binomial variance of P_L."""
    eps = epsilon_of(ler, rounds)
    deps = (np.clip(1 - 2 * ler, 1e-12, 1.0) ** (1.0 / rounds - 1.0)) / rounds
    var_p = np.maximum(ler * (1 - ler), 1.0 / shots) / shots  # floor keeps a 0-error point finite
    return (deps ** 2) * var_p / np.maximum(eps, 1e-150) ** 2


@dataclass(frozen=True)
class EpsilonEstimate:
    """ε_d of one distance from its experiments, in ``convention``."""

    distance: int
    points: tuple[EpsilonPoint, ...]  # by round count
    convention: str
    epsilon: float | None
    log_eps_var: float | None  # variance of ln ε (weights of the fit over distances)
    amplitude: float | None = 1.0  # A; fixed to 1 in the single-round-count convention
    slope_se: float | None = None  # se of ln(1 - 2 ε) (google)
    chi2: float | None = None
    status: str = "ok"  # ok | no_errors | above_threshold

    @property
    def rounds(self) -> list[int]:
        return [q.rounds for q in self.points]

    def ci(self, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
        if self.convention == SINGLE:
            q = self.points[0]
            return epsilon_interval(q.errors, q.shots, q.rounds, confidence)
        if self.epsilon is None or self.slope_se is None:
            return (None, None)
        b, h = math.log(1.0 - 2.0 * self.epsilon), z_value(confidence) * self.slope_se
        return (max(0.0, float(eps_of_slope(b + h))), float(eps_of_slope(b - h)))

    def to_json(self) -> dict:
        lo, hi = self.ci()
        out = {"distance": self.distance, "convention": self.convention, "epsilon": self.epsilon,
               "epsilon_ci": [lo, hi], "status": self.status}
        if self.convention == SINGLE:
            return {**self.points[0].to_json(), **out}
        dof = len(self.points) - 2
        return {**out, "rounds": self.rounds, "A": self.amplitude, "chi2": self.chi2, "dof": dof,
                "shots": sum(q.shots for q in self.points), "errors": sum(q.errors for q in self.points),
                "points": [{k: v for k, v in q.to_json().items() if k != "distance"} for q in self.points]}


def estimate_epsilon(points: Sequence[EpsilonPoint], convention: str) -> EpsilonEstimate:
    """ε of one distance: ``points`` are its experiments (one in single-round-count, at
    least two distinct round counts in google)."""
    pts = tuple(sorted(points, key=lambda q: q.rounds))
    d = pts[0].distance
    if convention == SINGLE:
        if len(pts) != 1:
            raise ValueError(f"the single-round-count convention takes one experiment per distance (d = {d})")
        q = pts[0]
        if q.ler >= 0.5:
            return EpsilonEstimate(d, pts, SINGLE, None, None, status="above_threshold")
        var = float(single_log_eps_var(np.array(q.ler), np.array(float(q.shots)), np.array(float(q.rounds))))
        return EpsilonEstimate(d, pts, SINGLE, q.epsilon, var, status="no_errors" if q.errors == 0 else "ok")
    if len({q.rounds for q in pts}) < 2 or len({q.rounds for q in pts}) != len(pts):
        raise ValueError(f"the google convention needs experiments at two or more distinct round counts (d = {d})")
    n, shots, errors = (np.array([getattr(q, k) for q in pts], dtype=float) for k in ("rounds", "shots", "errors"))
    if np.any(errors / shots >= 0.5):
        return EpsilonEstimate(d, pts, GOOGLE, None, None, None, status="above_threshold")
    if not errors.any():
        return EpsilonEstimate(d, pts, GOOGLE, 0.0, None, None, status="no_errors")
    f = fit_rounds(n, shots, errors)
    b, se_b = float(f["b"]), float(f["se_b"])
    if b >= 0:  # the fitted error does not grow with the rounds
        return EpsilonEstimate(d, pts, GOOGLE, 0.0, None, math.exp(float(f["a"])), se_b, float(f["chi2"]),
                               status="no_errors")
    return EpsilonEstimate(d, pts, GOOGLE, float(eps_of_slope(b)), float(log_eps_var_of_slope(b, se_b)),
                           math.exp(float(f["a"])), se_b, float(f["chi2"]))


def infer_convention(points: Sequence[EpsilonPoint]) -> str:
    """google when every distance has two or more round counts, single-round-count when
    every distance has one; a mix is refused."""
    counts = {}
    for q in points:
        counts.setdefault(q.distance, set()).add(q.rounds)
    sizes = {len(v) > 1 for v in counts.values()}
    if sizes == {True}:
        return GOOGLE
    if sizes == {False}:
        return SINGLE
    raise ValueError("some distances have one round count and others several: give one convention")
