"""sov's qubit_spectroscopy in Qibocal's ``qubit_spectroscopy`` protocol."""

from __future__ import annotations

import numpy as np

MODULE = "qubit_spectroscopies.qubit_spectroscopy"
OPERATION = "qubit_spectroscopy"
RESULT = "frequency"  # the Results attribute holding the parameter
XY = ("freq", "signal")


def build(m, qubit, x, y, err, ctx, phase):
    data = m.QubitSpectroscopyData(amplitudes={qubit: 0.05})
    data.register_qubit(m.QubitSpecType, qubit, {"freq": x, "signal": y, "phase": np.zeros_like(y)})
    return data

