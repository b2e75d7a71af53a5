"""Resonator spectroscopy: the readout resonator's frequency from a dip in |S21|."""

from __future__ import annotations

import numpy as np

from verifier.calib import line_shapes
from verifier.calib.experiments.base import Experiment, Param, fit_data, span
from verifier.calib.sweep_shape import DEFAULT, SweepShape, in_units, lorentzian_or_gaussian, spectroscopy_offsets

N_POINTS = 121


def simulate(u: np.ndarray, noise: np.random.Generator, n_shots: int, shape: SweepShape = DEFAULT):
    """A Lorentzian dip on a sloped background with complex Gaussian IQ noise (the shape may
    make it a Gaussian line, a peak, another sweep, or arbitrary units)."""
    R, n = u.shape[0], shape.points(N_POINTS)
    f0 = np.round(span(u[:, 0], 5.8e9, 7.8e9), -3)
    kappa = span(u[:, 1], 0.3e6, 1.2e6)
    depth = span(u[:, 2], 0.4, 0.8)
    center = np.round(f0 + span(u[:, 3], -2e6, 2e6), -5)
    slope = span(u[:, 4], -0.02, 0.02)
    x = center[:, None] + spectroscopy_offsets(N_POINTS, 1e5, shape)[None, :]
    d = x - f0[:, None]
    sign = 1 if shape.polarity == "peak" else -1
    if shape.line == "lorentzian":
        s21 = 1 + sign * depth[:, None] * kappa[:, None] / (kappa[:, None] + 1j * d)
    else:
        s21 = (1 + sign * depth[:, None] * lorentzian_or_gaussian(d, kappa[:, None], shape.line)).astype(complex)
    s21 = s21 * (1 + slope[:, None] * (x - center[:, None]) / (x[:, -1:] - x[:, :1]))
    sigma = 0.5 / np.sqrt(n_shots)
    s21 = s21 + sigma * (noise.standard_normal((R, n)) + 1j * noise.standard_normal((R, n)))
    ctx = {"linewidth_hz": kappa, "phase_scale": np.ones(R),
           "_phase": np.angle(s21)}  # [R, n]: Qibocal's data records the phase too
    return fit_data("resonator_spectroscopy", x, in_units(np.abs(s21), shape.units), n_shots, f0[:, None], ctx)


EXPERIMENT = Experiment(
    "resonator_spectroscopy", (Param("frequency_hz", "Hz", "linewidth", "the resonance frequency in Hz"),), "Hz",
    "normalized transmitted magnitude |S21| (resonance is a dip)", N_POINTS,
    "121 points, 100 kHz apart, centred on a prior estimate that is off by up to +-2 MHz",
    (("resonator frequency", "5.8 .. 7.8 GHz"), ("half-width kappa", "0.3 .. 1.2 MHz"),
     ("dip depth", "0.4 .. 0.8"), ("background slope", "+-2 % over the sweep"),
     ("IQ noise per point", "0.5 / sqrt(shots) of the off-resonance level")),
    "resonator_spectroscopy",
    plot="a resonator spectroscopy (transmitted magnitude vs drive frequency; the resonance is a dip)",
    line_shape=line_shapes.LORENTZIAN, simulate=simulate)
