"""sov-reference for ramsey: fringe frequency from the windowed spectrum's peak, then a
grid over (frequency, envelope time) with the amplitudes solved exactly, then refined."""

import numpy as np

from baselines.reference.fitting import lin, refine


def estimate(x, y, ctx):
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
            coef, cost = lin(B, y)
            if cost < best[0]:
                best = (cost, (coef[0], coef[1], coef[2], fr, tau))

    def f(t, o, a, b, fr, tau):
        env = np.exp(-t / tau)
        return o + env * (a * np.cos(2 * np.pi * fr * t) + b * np.sin(2 * np.pi * fr * t))

    p = refine(f, xs, y, best[1], bounds=([-1, -2, -2, 0, 1e-3], [2, 2, 2, n / 2, 1e3]))
    return [p[3] / span * 1e9, p[4] * span]
