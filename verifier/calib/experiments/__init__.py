"""The experiment registry: one module per experiment (its parameters and units, the
sweep, the documented truth ranges, its simulator), as Qibocal organises its protocols.

The order of :data:`EXPERIMENTS` is part of the simulator's seed (each experiment's
random streams are keyed by its index), so a new experiment goes at the end.
"""

from __future__ import annotations

from verifier.calib.experiments import (qubit_spectroscopy, rabi_amplitude, rabi_length, ramsey, readout,
                                        resonator_spectroscopy, spin_echo, t1)
from verifier.calib.experiments.base import Experiment, Param
from verifier.errors import UsageError

EXPERIMENTS: dict[str, Experiment] = {m.EXPERIMENT.name: m.EXPERIMENT for m in (
    resonator_spectroscopy, qubit_spectroscopy, rabi_amplitude, rabi_length, t1, ramsey, spin_echo, readout)}

FIT_EXPERIMENTS = tuple(n for n, e in EXPERIMENTS.items() if e.kind == "fit")

__all__ = ["EXPERIMENTS", "FIT_EXPERIMENTS", "Experiment", "Param", "experiment"]


def experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise UsageError(f"unknown experiment {name!r}; experiments are: {', '.join(EXPERIMENTS)}") from None
