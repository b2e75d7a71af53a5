"""The reference estimators' shared method: a grid search over the nonlinear parameter
with the linear parameters solved exactly at every grid point (variable projection),
then an unweighted ``scipy.optimize.curve_fit`` refinement in normalized units."""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np


def lin(basis: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    r = y - basis @ coef
    return coef, float(r @ r)


def grid(y: np.ndarray, values: np.ndarray, basis_fn: Callable[[float], np.ndarray]):
    best = (np.inf, None, None)
    for g in values:
        coef, cost = lin(basis_fn(g), y)
        if cost < best[0]:
            best = (cost, g, coef)
    return best[1], best[2]


def refine(f, x, y, p0, bounds=(-np.inf, np.inf)):
    from scipy.optimize import curve_fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            popt, _ = curve_fit(f, x, y, p0=p0, bounds=bounds, maxfev=5000)
            return popt
        except (RuntimeError, ValueError):
            return np.asarray(p0, dtype=float)


def lorentz_centre(x, y, *, dip: bool | None = None):
    """Centre of a Lorentzian (dip, peak, or with ``dip=None`` whichever fits better: a
    lab's line may be either) on a linear background, x in Hz."""
    xc = x.mean()
    xs = (x - xc) / 1e6  # MHz
    span = xs[-1] - xs[0]
    widths = np.geomspace(0.05, span / 2, 14)
    best = (np.inf, None)
    for w in widths:
        for c in np.linspace(xs[0], xs[-1], 49):
            L = 1 / (1 + ((xs - c) / w) ** 2)
            coef, cost = lin(np.stack([np.ones_like(xs), xs, L], 1), y)
            if (dip is None or (coef[2] < 0) == dip) and cost < best[0]:
                best = (cost, (coef[0], coef[1], coef[2], c, w))
    if best[1] is None:
        return np.nan

    def f(t, a, b, h, c, w):
        return a + b * t + h / (1 + ((t - c) / w) ** 2)

    p = refine(f, xs, y, best[1], bounds=([-np.inf, -np.inf, -np.inf, xs[0], 1e-3],
                                          [np.inf, np.inf, np.inf, xs[-1], span]))
    return xc + p[3] * 1e6


def decay_time(x, y):
    """Time constant of an exponential approach o + a exp(-t / tau) (T1 decay, echo rise)."""
    span = x.max()
    xs = x / span
    tau, coef = grid(y, np.geomspace(0.02, 20, 200), lambda g: np.stack([np.ones_like(xs), np.exp(-xs / g)], 1))

    def f(t, o, a, g):
        return o + a * np.exp(-t / g)

    p = refine(f, xs, y, [coef[0], coef[1], tau], bounds=([-1, -2, 1e-3], [2, 2, 1e3]))
    return p[2] * span
