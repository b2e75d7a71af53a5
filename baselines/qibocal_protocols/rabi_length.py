"""sov's rabi_length in Qibocal's ``rabi_length`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import value

MODULE = "rabi.length"
OPERATION = "rabi_length"
XY = ("length", "prob")
NOTES = ()


def build(m, qubit, x, y, err, ctx, phase):
    data = m.RabiLengthData(rx90=False, amplitudes={qubit: ctx.get("pulse_amplitude", 0.5)})
    data.register_qubit(m.RabiLenType, qubit, {"length": x, "prob": y, "error": err})
    return data


def params(results, qubit):
    return [value(results.length[qubit])], {}
