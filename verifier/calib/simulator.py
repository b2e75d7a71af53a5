"""Ground-truth simulator of one transmon: every calibration experiment with known truth.

Truth is drawn per repeat from the documented ranges (each experiment's module in
``verifier.calib.experiments``), so a model cannot win by memorizing one qubit. Shot
noise is binomial in the number of shots per sweep point; readout errors P(1|0) and
P(0|1) map the true excited population to the measured one. Everything is vectorized
over repeats and seeded: each random stream (truth, noise) comes from its own generator
keyed by (seed, experiment, stream) and is drawn in one call of shape [repeats, ...], so
the first k repeats are the same whatever the total number of repeats.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.calib.data import FitData, ReadoutData
from verifier.calib.experiments import EXPERIMENTS, experiment
from verifier.calib.sweep_shape import DEFAULT, SweepShape

SIMULATOR_VERSION = "1"


def default_shots(name: str) -> int:
    return experiment(name).default_shots


@dataclass(frozen=True)
class CalWorkload:
    """A calibration workload: experiment, repeats, shots per point, seed, sweep shape."""

    experiment: str
    repeats: int
    seed: int
    shots: int
    shape: SweepShape = DEFAULT

    def spec(self) -> dict[str, Any]:
        # the documented sweep adds no key: ids of earlier workloads stay
        sweep = {"sweep": self.shape.spec()} if not self.shape.is_default else {}
        return {"kind": "calibration", "experiment": self.experiment, "repeats": self.repeats,
                "seed": self.seed, "shots": self.shots, "simulator": SIMULATOR_VERSION, **sweep}

    @property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True).encode()).hexdigest()


def _rng(seed: int, name: str, stream: int) -> np.random.Generator:
    idx = list(EXPERIMENTS).index(name)
    return np.random.default_rng([int(seed), idx, stream])


def simulate(name: str, repeats: int, *, seed: int = 0, shots: int | None = None,
             shape: SweepShape = DEFAULT) -> FitData | ReadoutData:
    """Simulate ``repeats`` independent qubits running experiment ``name``, on the
    documented sweep or on another ``shape`` (the same qubits: the truth does not depend
    on the shape).

    Returns :class:`FitData` for the fit experiments, :class:`ReadoutData` for ``readout``."""
    exp = experiment(name)
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    shape.check_for(name)
    n_shots = int(shots or exp.default_shots)
    u = _rng(seed, name, 0).random((repeats, 8))  # truth and prior, one row per repeat
    if shape.is_default:
        return exp.simulate(u, _rng(seed, name, 1), n_shots)
    return exp.simulate(u, _rng(seed, name, 1), n_shots, shape)
