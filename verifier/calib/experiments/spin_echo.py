"""Spin echo: the echo decay time T2 from the rise of P(1) with the total echo time."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import READOUT_ERRORS, Experiment, Param, fit_data, grid, measured, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape

N_POINTS = 50


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    t2 = span(u[:, 0], 20e3, 120e3)
    prior = t2 * span(u[:, 1], 0.7, 1.4)
    x = np.round(grid(40.0, 4 * prior, N_POINTS, shape))
    p = 0.5 * (1 - np.exp(-x / t2[:, None]))
    y, readout = measured(p, u[:, 6:8], noise, n_shots, shape)
    return fit_data("spin_echo", x, y, n_shots, t2[:, None], readout)


EXPERIMENT = Experiment(
    "spin_echo", (Param("t2_ns", "ns", "truth", "the echo decay time T2 in ns"),), "ns",
    "excited-state probability", N_POINTS,
    "total echo time 40 ns .. 4 x prior T2 (50 points); the prior is the truth x U(0.7, 1.4)",
    (("T2 (echo)", "20 .. 120 us"), *READOUT_ERRORS),
    "spin_echo",
    plot="a spin-echo (Hahn echo) measurement (excited-state probability vs total echo time)",
    line_shape=line_shapes.DECAY, simulate=simulate)
