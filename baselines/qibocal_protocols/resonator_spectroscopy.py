"""sov's resonator_spectroscopy in Qibocal's ``resonator_spectroscopy`` protocol."""

from __future__ import annotations

import numpy as np

MODULE = "resonator_spectroscopies.resonator_spectroscopy"
OPERATION = "resonator_spectroscopy"
RESULT = "frequency"  # the Results attribute holding the parameter
XY = ("freq", "signal")
NOTES = ("resonator_type='2D' (the resonance is a dip); '3D' would look for a peak",)


def build(m, qubit, x, y, err, ctx, phase):
    # the simulator's resonance is a dip: "2D"
    data = m.ResonatorSpectroscopyData(resonator_type="2D", amplitudes={qubit: 0.1},
                                       fit_function="lorentzian", phase_sign=False)
    data.register_qubit(m.ResSpecType, qubit, {"freq": x, "signal": y,
                                               "phase": np.zeros_like(y) if phase is None else phase})
    return data

