"""sov-reference for rabi_amplitude: the period of o + a cos(pi x / a_pi)."""

import numpy as np

from baselines.reference.fitting import grid, refine


def estimate(x, y, ctx):
    span = x.max()
    values = np.linspace(0.02 * span, span, 300)
    ap, coef = grid(y, values, lambda g: np.stack([np.ones_like(x), np.cos(np.pi * x / g)], 1))

    def f(t, o, a, g):
        return o + a * np.cos(np.pi * t / g)

    p = refine(f, x / span, y, [coef[0], coef[1], ap / span])
    return [abs(p[2]) * span]
