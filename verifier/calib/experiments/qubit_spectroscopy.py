"""Qubit spectroscopy: the qubit frequency from a Lorentzian peak of the excited population."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import READOUT_ERRORS, Experiment, Param, fit_data, grid, measured, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape, lorentzian_or_gaussian, spectroscopy_offsets

N_POINTS = 121


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    n = shape.points(N_POINTS)
    fq = np.round(span(u[:, 0], 4.0e9, 6.0e9), -3)
    gamma = span(u[:, 1], 0.3e6, 1.0e6)
    amp = span(u[:, 2], 0.35, 0.5)
    center = np.round(fq + span(u[:, 3], -2.5e6, 2.5e6), -5)
    x = center[:, None] + spectroscopy_offsets(N_POINTS, 1e5, shape)[None, :]
    if shape.line == "lorentzian":
        p = amp[:, None] * gamma[:, None] ** 2 / ((x - fq[:, None]) ** 2 + gamma[:, None] ** 2)
    else:
        p = amp[:, None] * lorentzian_or_gaussian(x - fq[:, None], gamma[:, None], shape.line)
    if shape.polarity == "dip":  # the ground-state population: a dip from 1
        p = 1.0 - p
    y, readout = measured(p, u[:, 6:8], noise, n_shots, shape)
    return fit_data("qubit_spectroscopy", x, y, n_shots, fq[:, None], {"linewidth_hz": gamma, **readout})


EXPERIMENT = Experiment(
    "qubit_spectroscopy", (Param("frequency_hz", "Hz", "linewidth", "the resonance frequency in Hz"),), "Hz",
    "excited-state probability", N_POINTS,
    "121 points, 100 kHz apart, centred on a prior estimate that is off by up to +-2.5 MHz",
    (("qubit frequency", "4.0 .. 6.0 GHz"), ("half-width gamma", "0.3 .. 1.0 MHz"),
     ("peak excited population", "0.35 .. 0.5"), *READOUT_ERRORS),
    "qubit_spectroscopy",
    plot="a qubit spectroscopy (excited-state probability vs drive frequency)",
    line_shape=line_shapes.LORENTZIAN, simulate=simulate)
