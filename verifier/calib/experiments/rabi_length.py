"""Rabi length: the pi-pulse duration from the damped oscillation of P(1) with the pulse length."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import READOUT_ERRORS, Experiment, Param, fit_data, grid, measured, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape

N_POINTS = 50
PULSE_AMPLITUDE = 0.5


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    R = u.shape[0]
    t_pi = span(u[:, 0], 20.0, 100.0)
    t_r = span(u[:, 1], 2e3, 10e3)
    x = np.tile(np.round(grid(4.0, 200.0, 50, shape), 10), (R, 1))
    p = 0.5 * (1 - np.cos(np.pi * x / t_pi[:, None]) * np.exp(-x / t_r[:, None]))
    y, readout = measured(p, u[:, 6:8], noise, n_shots, shape)
    return fit_data("rabi_length", x, y, n_shots, t_pi[:, None],
                    {"pulse_amplitude": np.full(R, PULSE_AMPLITUDE), **readout})


EXPERIMENT = Experiment(
    "rabi_length", (Param("pi_pulse_duration_ns", "ns", "truth", "the pi-pulse duration in ns"),), "ns",
    "excited-state probability", N_POINTS, "duration 4 .. 200 ns in steps of 4 ns",
    (("pi-pulse duration", "20 .. 100 ns"), ("Rabi decay time", "2 .. 10 us"), *READOUT_ERRORS),
    "rabi_length",
    plot="a Rabi oscillation (excited-state probability vs drive pulse duration)",
    line_shape=line_shapes.DAMPED_OSCILLATION, simulate=simulate)
