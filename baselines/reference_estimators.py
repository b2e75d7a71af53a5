"""sov's own reference estimators, one beside each Qibocal fit ("sov-reference").

Each one finds the nonlinear parameter by a grid search with the linear parameters
solved exactly at every grid point (variable projection), then refines everything with
an unweighted ``scipy.optimize.curve_fit`` in normalized units. Unweighted fits do not
fall into the zero-error-point trap, and grid starts do not depend on a guessed period.
The readout reference is Fisher's linear discriminant with the threshold that maximizes
the assignment fidelity on the training shots.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

NAME = "sov-reference"


def _lin(basis: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    r = y - basis @ coef
    return coef, float(r @ r)


def _grid(y: np.ndarray, grid: np.ndarray, basis_fn: Callable[[float], np.ndarray]):
    best = (np.inf, None, None)
    for g in grid:
        coef, cost = _lin(basis_fn(g), y)
        if cost < best[0]:
            best = (cost, g, coef)
    return best[1], best[2]


def _refine(f, x, y, p0, bounds=(-np.inf, np.inf)):
    from scipy.optimize import curve_fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            popt, _ = curve_fit(f, x, y, p0=p0, bounds=bounds, maxfev=5000)
            return popt
        except (RuntimeError, ValueError):
            return np.asarray(p0, dtype=float)


def _lorentz_fit(x, y, *, dip: bool):
    """Centre of a Lorentzian (dip or peak) on a linear background, x in Hz."""
    xc = x.mean()
    xs = (x - xc) / 1e6  # MHz
    span = xs[-1] - xs[0]
    widths = np.geomspace(0.05, span / 2, 14)
    best = (np.inf, None)
    for w in widths:
        for c in np.linspace(xs[0], xs[-1], 49):
            L = 1 / (1 + ((xs - c) / w) ** 2)
            coef, cost = _lin(np.stack([np.ones_like(xs), xs, L], 1), y)
            if (coef[2] < 0) == dip and cost < best[0]:
                best = (cost, (coef[0], coef[1], coef[2], c, w))
    if best[1] is None:
        return np.nan

    def f(t, a, b, h, c, w):
        return a + b * t + h / (1 + ((t - c) / w) ** 2)

    p = _refine(f, xs, y, best[1], bounds=([-np.inf, -np.inf, -np.inf, xs[0], 1e-3],
                                           [np.inf, np.inf, np.inf, xs[-1], span]))
    return xc + p[3] * 1e6


def _resonator(x, y, ctx):
    return [_lorentz_fit(x, y, dip=True)]


def _qubit_spec(x, y, ctx):
    return [_lorentz_fit(x, y, dip=False)]


def _rabi_amp(x, y, ctx):
    span = x.max()
    grid = np.linspace(0.02 * span, span, 300)
    ap, coef = _grid(y, grid, lambda g: np.stack([np.ones_like(x), np.cos(np.pi * x / g)], 1))

    def f(t, o, a, g):
        return o + a * np.cos(np.pi * t / g)

    p = _refine(f, x / span, y, [coef[0], coef[1], ap / span])
    return [abs(p[2]) * span]


def _rabi_len(x, y, ctx):
    span = x.max()
    grid = np.linspace(0.02 * span, span, 300)
    tp, coef = _grid(y, grid, lambda g: np.stack([np.ones_like(x), np.cos(np.pi * x / g)], 1))

    def f(t, o, a, g, k):
        return o + a * np.cos(np.pi * t / g) * np.exp(-t * k)

    p = _refine(f, x / span, y, [coef[0], coef[1], tp / span, 0.0],
                bounds=([-np.inf, -np.inf, 1e-3, 0], [np.inf, np.inf, 10, 50]))
    return [abs(p[2]) * span]


def _exp_decay(x, y, ctx):
    span = x.max()
    xs = x / span
    grid = np.geomspace(0.02, 20, 200)
    tau, coef = _grid(y, grid, lambda g: np.stack([np.ones_like(xs), np.exp(-xs / g)], 1))

    def f(t, o, a, g):
        return o + a * np.exp(-t / g)

    p = _refine(f, xs, y, [coef[0], coef[1], tau], bounds=([-1, -2, 1e-3], [2, 2, 1e3]))
    return [p[2] * span]


def _ramsey(x, y, ctx):
    span = x.max() - x.min()
    xs = (x - x.min()) / span
    n = len(xs)
    yc = y - y.mean()
    spec = np.abs(np.fft.rfft(yc * np.hanning(n), 16 * n))
    freqs = np.fft.rfftfreq(16 * n, d=xs[1] - xs[0])
    k = int(np.argmax(spec[1:]) + 1)
    f0 = freqs[k]
    best = (np.inf, None)
    for fr in np.linspace(f0 * 0.9, f0 * 1.1, 21):
        for tau in np.geomspace(0.05, 20, 24):
            env = np.exp(-xs / tau)
            B = np.stack([np.ones_like(xs), env * np.cos(2 * np.pi * fr * xs), env * np.sin(2 * np.pi * fr * xs)], 1)
            coef, cost = _lin(B, y)
            if cost < best[0]:
                best = (cost, (coef[0], coef[1], coef[2], fr, tau))

    def f(t, o, a, b, fr, tau):
        env = np.exp(-t / tau)
        return o + env * (a * np.cos(2 * np.pi * fr * t) + b * np.sin(2 * np.pi * fr * t))

    p = _refine(f, xs, y, best[1], bounds=([-1, -2, -2, 0, 1e-3], [2, 2, 2, n / 2, 1e3]))
    return [p[3] / span * 1e9, p[4] * span]


ESTIMATORS: dict[str, Callable[[np.ndarray, np.ndarray, dict], list[float]]] = {
    "resonator_spectroscopy": _resonator, "qubit_spectroscopy": _qubit_spec,
    "rabi_amplitude": _rabi_amp, "rabi_length": _rabi_len, "t1": _exp_decay,
    "ramsey": _ramsey, "spin_echo": _exp_decay,
}


@dataclass(frozen=True)
class ReferenceFit:
    experiment: str
    name: str = NAME

    def fingerprint_spec(self) -> dict[str, Any]:
        import scipy

        return {"model": NAME, "experiment": self.experiment, "scipy": scipy.__version__, "version": 1}

    def estimate_data(self, data):
        from verifier.calib.metrics import FitOutcome
        from verifier.calib.experiments import experiment as get

        fn = ESTIMATORS[self.experiment]
        R, k = data.repeats, len(get(self.experiment).params)
        est = np.full((R, k), np.nan)
        failures: dict[int, str] = {}
        t0 = time.perf_counter()
        for i in range(R):
            try:
                v = np.asarray(fn(data.x[i], data.y[i], {}), dtype=float)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as e:
                failures[i] = f"{type(e).__name__}: {e}"
                continue
            if not np.all(np.isfinite(v)):
                failures[i] = "no fit"
                continue
            est[i] = v
        return FitOutcome(est, failures, time.perf_counter() - t0)


@dataclass(frozen=True)
class ReferenceReadout:
    """Fisher's linear discriminant, threshold chosen on the training shots."""

    name: str = NAME
    experiment: str = "readout"

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"model": NAME, "experiment": "readout", "classifier": "fisher-lda", "version": 1}

    @staticmethod
    def train(iq: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, float]:
        a, b = iq[states == 0], iq[states == 1]
        m0, m1 = a.mean(0), b.mean(0)
        cov = (np.cov(a.T) * (len(a) - 1) + np.cov(b.T) * (len(b) - 1)) / (len(a) + len(b) - 2)
        w = np.linalg.solve(cov + 1e-12 * np.eye(2), m1 - m0)
        pa, pb = np.sort(a @ w), np.sort(b @ w)
        cand = np.concatenate([pa, pb])
        # fidelity(t) = 1 - (P(p0 > t) + P(p1 <= t)) / 2
        err0 = 1 - np.searchsorted(pa, cand, side="right") / len(pa)
        err1 = np.searchsorted(pb, cand, side="right") / len(pb)
        t = cand[int(np.argmin(err0 + err1))]
        return w, float(t)

    def classify_data(self, data) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        pred = np.zeros(data.state_test.shape, np.int64)
        for i in range(data.repeats):
            w, t = self.train(data.iq_train[i], data.state_train[i])
            pred[i] = (data.iq_test[i] @ w > t).astype(np.int64)
        return pred, {}
