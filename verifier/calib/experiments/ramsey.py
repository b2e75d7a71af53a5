"""Ramsey: the fringe frequency (programmed detuning + drive error) and T2* of a detuned Ramsey."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import READOUT_ERRORS, Experiment, Param, fit_data, grid, measured, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape

N_POINTS = 101


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    n = shape.points(N_POINTS)
    t2s = span(u[:, 0], 5e3, 40e3)
    prior = t2s * span(u[:, 1], 0.7, 1.4)
    sweep = np.round(3 * prior / 100) * 100  # ns, a multiple of the 100 point steps
    # the programmed detuning follows the documented sweep; a shape stretches the time axis only
    step = sweep * shape.span / (n - 1)
    x = np.arange(n)[None, :] * step[:, None]
    fringes = span(u[:, 2], 5.0, 9.0)
    programmed = np.round(fringes / sweep * 1e9, -3)  # Hz
    drive_error = programmed * span(u[:, 3], -0.15, 0.15)
    fq = np.round(span(u[:, 4], 4.0e9, 6.0e9), -3)
    delta = programmed + drive_error  # fringe frequency, Hz
    p = 0.5 + 0.5 * np.cos(2 * np.pi * delta[:, None] * x * 1e-9) * np.exp(-x / t2s[:, None])
    y, readout = measured(p, u[:, 6:8], noise, n_shots, shape)
    ctx = {"programmed_detuning_hz": programmed, "drive_frequency_hz": fq + drive_error,
           "qubit_frequency_hz": fq, **readout}
    return fit_data("ramsey", x, y, n_shots, np.stack([delta, t2s], axis=1), ctx)


EXPERIMENT = Experiment(
    "ramsey", (Param("detuning_hz", "Hz", "truth", "the oscillation (fringe) frequency in Hz"),
               Param("t2_star_ns", "ns", "truth", "T2* (the decay time of the oscillation envelope) in ns")),
    "ns", "excited-state probability", N_POINTS,
    "wait 0 .. 3 x prior T2* (101 points); programmed detuning gives 5 .. 9 fringes over the sweep",
    (("T2*", "5 .. 40 us"), ("detuning_hz = fringe frequency = programmed detuning + drive error",
                             "drive error up to +-15 % of the programmed detuning"),
     ("qubit frequency", "4.0 .. 6.0 GHz"), *READOUT_ERRORS),
    "ramsey",
    plot="a detuned Ramsey measurement (excited-state probability vs wait time between two pi/2 pulses)",
    line_shape=line_shapes.DECAYING_OSCILLATION, simulate=simulate)
