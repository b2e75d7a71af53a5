"""Labelled fault scenarios: sweeps as real experiments go wrong, each with its truth label.

sov's experiment simulators draw healthy qubits on fixed sweeps. Real output is wider: any
sweep length and range, readout with no error at all (an emulator's exact zeros), signals in
arbitrary units, and experiments that failed in the ways a calibration status question asks
about. Each scenario here returns one sweep, the truth of its parameter (NaN where the sweep
cannot show it) and its ``label``; ``expected`` is the verdict the signal test
(``verifier.calib.signal``) must give, so that a scenario is also a test of sov itself. In
arbitrary units the residual test is not judged (the noise is estimated from the data), so
the ``poor fit`` scenarios are expected as ``signal`` there. The aliased (over-driven) and
the detuned Rabi are a ``signal`` on purpose: each looks like a healthy oscillation, and
only the truth shows that a fitted pi amplitude is wrong (the detuned one by more than 30 %). Measured limit: in arbitrary units with
fewer than about 50 points the beating Ramsey reads as ``no signal`` (its misfit inflates
the noise estimate), so the tests take arbitrary units from 50 points on.

=================  ==================================================================  ==========
label              what went wrong                                                      expected
=================  ==================================================================  ==========
healthy            a clean Rabi oscillation                                             signal
no_signal          the drive never reaches the qubit: flat population                   no signal
under_driven       the sweep ends below a quarter of the pi amplitude: a slow rise only  signal
over_driven        pi amplitude near the sweep step: aliased into a slow oscillation      signal
wrong_frequency    drive detuned by 2x the Rabi rate: contrast 0.2, faster oscillation  signal
too_short          T1 sweep to 1/200 of T1: the decay has not started                  no signal
beating            Ramsey with a second frequency (a two-level system nearby)           poor fit
drifting           Rabi rate drifting 20 % across the sweep                             poor fit
=================  ==================================================================  ==========

Options of every scenario: ``n_points`` (any length), ``readout_error`` (False: exact zeros
at p = 0 and 1), ``units`` ("probability" or "au": a scaled, offset magnitude).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from verifier.calib.sweep_shape import in_units


@dataclass(frozen=True)
class FaultSweep:
    label: str
    experiment: str
    x: np.ndarray
    y: np.ndarray
    nshots: int | None  # None for arbitrary units
    truth: float  # the parameter the sweep is about; NaN where it cannot show it
    expected: str  # the signal test's verdict
    description: str


def _measure(p, rng, shots: int, readout_error: bool, units: str):
    p = np.clip(p, 0, 1)
    if readout_error:
        p = 0.03 + (1 - 0.03 - 0.05) * p
    y = rng.binomial(shots, p) / shots
    return in_units(y, units), (None if units == "au" else shots)


def _rabi(x, a_pi, detune: float = 0.0):
    """P(1) of a drive at relative detuning ``detune`` (in units of the Rabi rate)."""
    contrast = 1.0 / (1.0 + detune ** 2)
    return contrast * 0.5 * (1 - np.cos(np.pi * x / a_pi * np.sqrt(1 + detune ** 2)))


def _scenarios() -> dict[str, tuple[str, str, Callable]]:
    def healthy(n):
        x = np.linspace(0, 1, n)
        return "rabi_amplitude", x, _rabi(x, 0.3), 0.3

    def no_signal(n):
        x = np.linspace(0, 1, n)
        return "rabi_amplitude", x, np.full(n, 0.02), np.nan

    def under_driven(n):
        x = np.linspace(0, 0.15, n)
        return "rabi_amplitude", x, _rabi(x, 0.8), 0.8

    def over_driven(n):
        x = np.linspace(0, 1, n)
        step = x[1] - x[0]
        return "rabi_amplitude", x, _rabi(x, 1.07 * step), 1.07 * step

    def wrong_frequency(n):
        x = np.linspace(0, 1, n)
        return "rabi_amplitude", x, _rabi(x, 0.3, detune=2.0), 0.3

    def too_short(n):
        x = np.linspace(0, 2500 / 200, n)
        return "t1", x, 0.95 * np.exp(-x / 2500), 2500.0

    def beating(n):
        x = np.linspace(0, 6000, n)
        p = 0.5 - 0.25 * np.exp(-x / 4000) * (np.cos(2 * np.pi * 1e-3 * x) + np.cos(2 * np.pi * 1.35e-3 * x))
        return "ramsey", x, p, 1e6

    def drifting(n):
        x = np.linspace(0, 1, n)
        a_pi = 0.3 * (1 + 0.2 * x)
        return "rabi_amplitude", x, 0.5 * (1 - np.cos(np.pi * x / a_pi)), np.nan

    return {"healthy": ("signal", "a clean Rabi oscillation", healthy),
            "no_signal": ("no signal", "flat population: the drive never reaches the qubit", no_signal),
            "under_driven": ("signal", "the sweep ends below a quarter of the pi amplitude", under_driven),
            "over_driven": ("signal", "pi amplitude near the sweep step: aliased", over_driven),
            "wrong_frequency": ("signal", "drive detuned by twice the Rabi rate", wrong_frequency),
            "too_short": ("no signal", "T1 sweep to 1/200 of T1", too_short),
            "beating": ("poor fit", "Ramsey with a second frequency (two-level system)", beating),
            "drifting": ("poor fit", "Rabi rate drifting 20 % across the sweep", drifting)}


SCENARIOS = _scenarios()


def fault_sweep(label: str, *, n_points: int = 50, shots: int = 1000, readout_error: bool = True,
                units: str = "probability", seed: int = 0) -> FaultSweep:
    from verifier.errors import UsageError

    if label not in SCENARIOS:
        raise UsageError(f"unknown fault scenario {label!r}; scenarios are: {', '.join(SCENARIOS)}")
    if units not in ("probability", "au"):
        raise UsageError(f"units must be 'probability' or 'au', got {units!r}")
    if n_points < 5:
        raise UsageError(f"a fault sweep needs at least 5 points, got {n_points}")
    expected, description, make = SCENARIOS[label]
    experiment, x, p, truth = make(n_points)
    rng = np.random.default_rng([seed, list(SCENARIOS).index(label)])
    y, n = _measure(p, rng, shots, readout_error, units)
    if units == "au" and expected == "poor fit":
        expected = "signal"
    return FaultSweep(label, experiment, x, y, n, float(truth), expected, description)
