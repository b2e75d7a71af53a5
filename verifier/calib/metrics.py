"""Figures of a calibration model against the simulator's truth.

Fit experiments, per parameter: ``truth_median``, ``rel_error_median`` / ``rel_error_p95``
(|estimate - truth| / |truth|), ``norm_error_median`` / ``norm_error_p95`` (the error the
gates use: relative to the truth, or for absolute frequencies relative to the line's
half-width, because a frequency error relative to ~6 GHz says nothing), ``abs_error_median``,
``bias`` (median signed relative error), ``failures`` (no estimate or non-finite).

Readout's figures (assignment fidelity on held-out shots) are in
``verifier.calib.experiments.readout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from verifier.calib.experiments.base import Experiment


@dataclass
class FitOutcome:
    """A model's estimates for every repeat ([R, k], NaN where it failed)."""

    estimates: np.ndarray
    failures: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def quantile(v: np.ndarray, q: float) -> float | None:
    """The ``q`` quantile of the finite values (failed fits are counted apart), None if none."""
    v = v[np.isfinite(v)]
    return float(np.quantile(v, q)) if v.size else None


def median_interval(v: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """The median of ``v`` (a failure is ``inf``: infinitely wrong) and its distribution-free
    interval: the order statistics X(j), X(k) with P(X(j) <= median <= X(k)) >= ``confidence``
    (the number of values below the median is Binomial(n, 1/2)), as in a sign test. With too
    few values for the confidence the interval is (X(1), X(n)) and does not reach it."""
    from math import comb

    x = np.sort(np.where(np.isnan(v), np.inf, np.asarray(v, float)))
    n = x.size
    if n == 0:
        return (float("nan"),) * 3
    cdf = np.cumsum([comb(n, i) for i in range(n + 1)]) / 2.0 ** n  # P(B <= i), B ~ Bin(n, 1/2)
    alpha = (1 - confidence) / 2
    j = int(np.searchsorted(cdf, alpha, side="right"))  # largest j with P(B <= j - 1) <= alpha
    j = max(1, min(j, (n + 1) // 2))
    return float(np.median(x)), float(x[j - 1]), float(x[n - j])


def errors(exp: Experiment, truth: np.ndarray, est: np.ndarray, context: dict) -> dict[str, np.ndarray]:
    """Per-parameter per-repeat errors: ``rel`` (relative to the truth), ``norm`` (the
    gate's error), ``signed`` (signed relative error), ``abs``. NaN where the model failed."""
    out: dict[str, np.ndarray] = {}
    for j, p in enumerate(exp.params):
        t, e = truth[:, j], est[:, j]
        d = e - t
        scale = np.abs(t)
        if p.scale == "linewidth" and "linewidth_hz" in context:
            scale = np.asarray(context["linewidth_hz"], dtype=float)
        out[f"{p.name}.rel"] = np.abs(d) / np.abs(t)
        out[f"{p.name}.norm"] = np.abs(d) / scale
        out[f"{p.name}.signed"] = d / np.abs(t)
        out[f"{p.name}.abs"] = np.abs(d)
    return out


def fit_figures(exp: Experiment, truth: np.ndarray, est: np.ndarray, context: dict) -> dict[str, dict]:
    errs = errors(exp, truth, est, context)
    figs: dict[str, dict] = {}
    for j, p in enumerate(exp.params):
        ok = np.isfinite(est[:, j])
        figs[p.name] = {
            "unit": p.unit,
            "truth_median": float(np.median(truth[:, j])),
            "rel_error_median": quantile(errs[f"{p.name}.rel"], 0.5),
            "rel_error_p95": quantile(errs[f"{p.name}.rel"], 0.95),
            "norm_error_median": quantile(errs[f"{p.name}.norm"], 0.5),
            "norm_error_p95": quantile(errs[f"{p.name}.norm"], 0.95),
            "norm_error_scale": "linewidth" if p.scale == "linewidth" else "truth",
            "abs_error_median": quantile(errs[f"{p.name}.abs"], 0.5),
            "bias": quantile(errs[f"{p.name}.signed"], 0.5),
            "failures": int((~ok).sum()),
            "repeats": int(len(ok)),
        }
    return figs
