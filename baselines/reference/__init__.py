"""sov's own reference estimators ("sov-reference"), one module per experiment beside
each Qibocal protocol. Unweighted fits do not fall into Qibocal's zero-error-point trap,
and grid starts do not depend on a guessed period (``fitting``)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from baselines.reference import (qubit_spectroscopy, rabi_amplitude, rabi_length, ramsey, resonator_spectroscopy,
                                 spin_echo, t1)

# experiment -> estimate(x, y, ctx) -> the contract's parameters
ESTIMATORS: dict[str, Callable[[np.ndarray, np.ndarray, dict], list[float]]] = {
    "resonator_spectroscopy": resonator_spectroscopy.estimate, "qubit_spectroscopy": qubit_spectroscopy.estimate,
    "rabi_amplitude": rabi_amplitude.estimate, "rabi_length": rabi_length.estimate, "t1": t1.estimate,
    "ramsey": ramsey.estimate, "spin_echo": spin_echo.estimate,
}
