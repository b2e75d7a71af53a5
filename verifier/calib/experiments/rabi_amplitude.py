"""Rabi amplitude: the pi-pulse amplitude from the oscillation of P(1) with the drive amplitude."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import READOUT_ERRORS, Experiment, Param, fit_data, grid, measured, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape

N_POINTS = 50
PULSE_DURATION_NS = 40.0


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    R = u.shape[0]
    a_pi = span(u[:, 0], 0.12, 0.45)
    x = np.tile(np.round(grid(0.0, 0.98, N_POINTS, shape), 10), (R, 1))
    p = 0.5 * (1 - np.cos(np.pi * x / a_pi[:, None]))
    y, readout = measured(p, u[:, 6:8], noise, n_shots, shape)
    return fit_data("rabi_amplitude", x, y, n_shots, a_pi[:, None],
                    {"pulse_duration_ns": np.full(R, PULSE_DURATION_NS), **readout})


EXPERIMENT = Experiment(
    "rabi_amplitude", (Param("pi_pulse_amplitude", "a.u.", "truth",
                             "the pi-pulse amplitude (the amplitude of the first maximum of the "
                             "excited-state probability)"),), "a.u.",
    "excited-state probability", N_POINTS, "amplitude 0 .. 0.98 in steps of 0.02 (np.arange(0, 1, 0.02))",
    (("pi-pulse amplitude", "0.12 .. 0.45"), ("pulse duration", "40 ns"), *READOUT_ERRORS),
    "rabi_amplitude",
    plot="a Rabi oscillation (excited-state probability vs drive pulse amplitude)",
    line_shape=line_shapes.OSCILLATION, simulate=simulate)
