"""sov's rabi_length in Qibocal's ``rabi_length`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import probability_sweep

MODULE = "rabi.length"
OPERATION = "rabi_length"
RESULT = "length"  # the Results attribute holding the parameter
XY = ("length", "prob")


def build(m, qubit, x, y, err, ctx, phase):
    data = m.RabiLengthData(rx90=False, amplitudes={qubit: ctx.get("pulse_amplitude", 0.5)})
    return probability_sweep(data, m.RabiLenType, qubit, XY, x, y, err)

