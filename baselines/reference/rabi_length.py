"""sov-reference for rabi_length: the period of a damped o + a cos(pi t / t_pi) exp(-k t)."""

import numpy as np

from baselines.reference.fitting import grid, refine


def estimate(x, y, ctx):
    span = x.max()
    values = np.linspace(0.02 * span, span, 300)
    tp, coef = grid(y, values, lambda g: np.stack([np.ones_like(x), np.cos(np.pi * x / g)], 1))

    def f(t, o, a, g, k):
        return o + a * np.cos(np.pi * t / g) * np.exp(-t * k)

    p = refine(f, x / span, y, [coef[0], coef[1], tp / span, 0.0],
               bounds=([-np.inf, -np.inf, 1e-3, 0], [np.inf, np.inf, 10, 50]))
    return [abs(p[2]) * span]
