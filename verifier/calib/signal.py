"""Is there a signal, and does the line shape fit? Asked of every sweep before any fit is
trusted.

Each experiment expects a feature, declared in its own module (``Experiment.line_shape``,
from ``verifier.calib.line_shapes``): an oscillation (Rabi amplitude and length), a decay
(T1, spin echo), a decaying oscillation (Ramsey), a Lorentzian line, peak or dip (qubit and
resonator spectroscopy). sov fits that line shape and a flat line to the sweep, both
weighted by the per-point noise ``sigma``:

- noise: for excited-state probabilities with a known shot count, binomial,
  ``sigma^2 = max(p (1 - p), 1/N) / N`` with ``p`` the fitted line (the ``1/N`` floor keeps
  points at p = 0 or 1, which real emulators produce, from weighing infinitely); otherwise
  (arbitrary units, or an unknown shot count) the robust scatter of neighbouring points,
  ``1.4826 MAD(diff(y)) / sqrt(2)``, which a localized line or a slow decay barely moves, or
  the line shape's residual scatter (on ``n - k`` degrees of freedom) where that is smaller
  (a fast oscillation inflates the neighbours' scatter);
- **feature test**: ``delta = chi2_flat - chi2_shape`` against a chi-square with the
  shape's extra parameters; the shape's position or frequency is searched, so the bar is
  high: a signal needs ``p < 1e-9`` (about a 6-sigma feature) **and** a fitted swing of at
  least 5 ``sigma``. Otherwise the verdict is ``no signal``;
- **residual test**: ``chi2_shape`` on ``n - k`` degrees of freedom; ``poor fit`` when its
  p-value is below 1e-6 and the reduced chi-square exceeds 2 (only with binomial noise:
  with noise estimated from the data the residual scale is circular and not judged).

Verdicts: ``signal``, ``no signal``, ``poor fit``. A model that reports a finite parameter
on a ``no signal`` sweep is marked ``confident on no signal`` by the replay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verifier.calib.experiments import experiment as get_experiment

P_SIGNAL = 1e-9
MIN_SWING_SIGMA = 5.0
P_POOR_FIT = 1e-6
MAX_REDUCED_CHI2 = 2.0
PROBABILITY_EXPERIMENTS = ("rabi_amplitude", "rabi_length", "t1", "ramsey", "spin_echo")


@dataclass(frozen=True)
class SignalCheck:
    verdict: str  # signal | no signal | poor fit
    feature: str
    delta_chi2: float
    p_flat: float  # p-value of "no feature"
    swing_sigma: float  # fitted swing of the feature / noise
    reduced_chi2: float | None  # of the line shape (None: noise estimated from the data)
    p_shape: float | None
    noise: str  # binomial | scatter
    detail: str = ""

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "feature": self.feature, "delta_chi2": _r(self.delta_chi2),
                "p_no_feature": _r(self.p_flat), "swing_sigma": _r(self.swing_sigma),
                "reduced_chi2": _r(self.reduced_chi2), "p_line_shape": _r(self.p_shape),
                "noise": self.noise, "detail": self.detail}


def _r(v):
    return None if v is None or not np.isfinite(v) else float(f"{v:.4g}")


def scatter_noise(y: np.ndarray) -> float:
    d = np.diff(y)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)) if d.size else 0.0


def _best_fit(shape, guesses, x, y, sigma):
    import warnings

    from scipy.optimize import curve_fit

    best = None
    for p0 in guesses(x, y):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = curve_fit(shape, x, y, p0=p0, sigma=sigma, maxfev=4000)
        except (RuntimeError, ValueError, TypeError):
            continue
        yhat = shape(x, *p)
        if not np.all(np.isfinite(yhat)):
            continue
        chi2 = float(np.sum(((y - yhat) / sigma) ** 2))
        if best is None or chi2 < best[0]:
            best = (chi2, p, yhat)
    return best


def _sigma(experiment: str, yhat: np.ndarray, y: np.ndarray, nshots: int | None) -> tuple[np.ndarray, str]:
    if experiment in PROBABILITY_EXPERIMENTS and nshots:
        p = np.clip(yhat, 0, 1)
        return np.sqrt(np.maximum(p * (1 - p), 1.0 / nshots) / nshots), "binomial"
    s = scatter_noise(y)
    return np.full(y.size, s if s > 0 else max(float(np.std(y)), 1e-12)), "scatter"


def check_signal(experiment: str, x, y, nshots: int | None) -> SignalCheck | None:
    """The verdict on one sweep (None for an experiment without a line shape)."""
    from scipy.stats import chi2 as chi2_dist

    line = get_experiment(experiment).line_shape
    if line is None:
        return None
    feature, shape, guesses = line.feature, line.model, line.guesses
    order = np.argsort(x)
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    xs = (x - x[0]) / max(x[-1] - x[0], 1e-300)  # fit on [0, 1]: Hz and ns sweeps alike
    k = line.n_params
    if x.size < k + 3:
        return SignalCheck("no signal", feature, 0.0, 1.0, 0.0, None, None, "scatter",
                           f"{x.size} points are too few to test for a {feature}")
    sigma, noise = _sigma(experiment, np.full(y.size, y.mean()), y, nshots)
    best = _best_fit(shape, guesses, xs, y, sigma)
    if best is not None and noise == "binomial":  # the noise of the fitted line, then refit
        sigma, _ = _sigma(experiment, best[2], y, nshots)
        best = _best_fit(shape, guesses, xs, y, sigma) or best
    elif best is not None:  # a fast feature inflates the neighbours' scatter: the residuals' is smaller then
        resid = float(np.sqrt(np.sum((y - best[2]) ** 2) / max(y.size - k, 1)))
        if 0 < resid < sigma[0]:
            sigma = np.full(y.size, resid)
            best = _best_fit(shape, guesses, xs, y, sigma) or best
    chi2_flat = float(np.sum(((y - np.average(y, weights=sigma ** -2)) / sigma) ** 2))
    if best is None:
        return SignalCheck("poor fit", feature, 0.0, 1.0, 0.0, None, None, noise,
                           f"no {feature} could be fitted")
    chi2_shape, _, yhat = best
    delta = max(chi2_flat - chi2_shape, 0.0)
    p_flat = float(chi2_dist.sf(delta, k - 1))
    swing = float((yhat.max() - yhat.min()) / np.median(sigma))
    dof = x.size - k
    red = p_shape = None
    if noise == "binomial":
        red, p_shape = chi2_shape / dof, float(chi2_dist.sf(chi2_shape, dof))
    if p_flat >= P_SIGNAL or swing < MIN_SWING_SIGMA:
        return SignalCheck("no signal", feature, delta, p_flat, swing, red, p_shape, noise,
                           f"no {feature} above the noise (swing {swing:.1f} sigma, p = {p_flat:.2g})")
    if red is not None and p_shape < P_POOR_FIT and red > MAX_REDUCED_CHI2:
        return SignalCheck("poor fit", feature, delta, p_flat, swing, red, p_shape, noise,
                           f"the {feature} does not fit: reduced chi2 {red:.2f} on {dof} dof")
    return SignalCheck("signal", feature, delta, p_flat, swing, red, p_shape, noise,
                       f"{feature}: swing {swing:.0f} sigma" + (f", reduced chi2 {red:.2f}" if red else ""))
