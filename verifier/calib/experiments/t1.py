"""T1: the relaxation time from the decay of P(1) after a pi pulse."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import READOUT_ERRORS, Experiment, Param, fit_data, grid, measured, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape

N_POINTS = 50


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    t1 = span(u[:, 0], 10e3, 80e3)
    prior = t1 * span(u[:, 1], 0.7, 1.4)
    p0 = span(u[:, 2], 0.97, 1.0)
    x = np.round(grid(16.0, 5 * prior, N_POINTS, shape))
    p = p0[:, None] * np.exp(-x / t1[:, None])
    y, readout = measured(p, u[:, 6:8], noise, n_shots, shape)
    return fit_data("t1", x, y, n_shots, t1[:, None], readout)


EXPERIMENT = Experiment(
    "t1", (Param("t1_ns", "ns", "truth", "T1 in ns"),), "ns", "excited-state probability", N_POINTS,
    "wait 16 ns .. 5 x prior T1 (50 points); the prior is the truth x U(0.7, 1.4)",
    (("T1", "10 .. 80 us"), ("pi-pulse error (excited population at t=0)", "0.97 .. 1.0"),
     *READOUT_ERRORS),
    "t1",
    plot="a T1 relaxation measurement (excited-state probability vs wait time after a pi pulse)",
    line_shape=line_shapes.DECAY, simulate=simulate)
