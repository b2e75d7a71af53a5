"""sov's rabi_amplitude in Qibocal's ``rabi_amplitude`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import value

MODULE = "rabi.amplitude"
OPERATION = "rabi_amplitude"
XY = ("amp", "prob")
NOTES = ()


def build(m, qubit, x, y, err, ctx, phase):
    data = m.RabiAmplitudeData(rx90=False, durations={qubit: ctx.get("pulse_duration_ns", 40.0)})
    data.register_qubit(m.RabiAmpType, qubit, {"amp": x, "prob": y, "error": err})
    return data


def params(results, qubit):
    return [value(results.amplitude[qubit])], {}
