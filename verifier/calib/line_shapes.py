"""The line shapes the signal test (``verifier.calib.signal``) fits: each experiment module
declares which feature its sweep shows (``Experiment.line_shape``), so adding an experiment
touches its own module only. A :class:`LineShape` is the feature's name, the model
``f(x, *p)`` on the sweep scaled to [0, 1] and the initial guesses ``guesses(x, y)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class LineShape:
    feature: str
    model: Callable
    guesses: Callable

    @property
    def n_params(self) -> int:
        return self.model.__code__.co_argcount - 1


def _cos(x, c, a, f, ph):
    return c + a * np.cos(2 * np.pi * f * x + ph)


def _damped_cos(x, c, a, f, ph, g):
    return c + a * np.exp(-g * x) * np.cos(2 * np.pi * f * x + ph)


def _decay(x, c, a, g):
    return c + a * np.exp(-g * x)


def _lorentz(x, c, a, x0, w):
    return c + a / (1 + ((x - x0) / w) ** 2)


def _fft_freqs(x, y, k: int = 3) -> list[float]:
    n = x.size
    dx = (x[-1] - x[0]) / max(n - 1, 1)
    spec = np.abs(np.fft.rfft(y - y.mean()))
    freqs = np.fft.rfftfreq(n, dx)
    order = np.argsort(spec[1:])[::-1][:k] + 1
    return [float(freqs[i]) for i in order] or [1.0 / max(x[-1] - x[0], 1e-12)]


def _osc_guesses(x, y):
    a = (y.max() - y.min()) / 2
    return [[y.mean(), a, f, ph] for f in _fft_freqs(x, y) for ph in (0.0, np.pi)]


def _damped_guesses(x, y):
    span = max(x[-1] - x[0], 1e-12)
    return [g + [1.0 / span] for g in _osc_guesses(x, y)]


def _decay_guesses(x, y):
    span = max(x[-1] - x[0], 1e-12)
    return [[y[-1], y[0] - y[-1], 3.0 / span], [y[-1], y[0] - y[-1], 1.0 / span]]


def _line_guesses(x, y):
    med = float(np.median(y))
    w = 3 * abs(x[1] - x[0]) if x.size > 1 else 1.0
    out = []
    for i in (int(np.argmax(y)), int(np.argmin(y))):
        out.append([med, y[i] - med, x[i], w])
    return out


OSCILLATION = LineShape("oscillation", _cos, _osc_guesses)
DAMPED_OSCILLATION = LineShape("oscillation", _damped_cos, _damped_guesses)
DECAYING_OSCILLATION = LineShape("decaying oscillation", _damped_cos, _damped_guesses)
DECAY = LineShape("decay", _decay, _decay_guesses)
LORENTZIAN = LineShape("Lorentzian line", _lorentz, _line_guesses)
