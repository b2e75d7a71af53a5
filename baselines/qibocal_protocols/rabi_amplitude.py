"""sov's rabi_amplitude in Qibocal's ``rabi_amplitude`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import probability_sweep

MODULE = "rabi.amplitude"
OPERATION = "rabi_amplitude"
RESULT = "amplitude"  # the Results attribute holding the parameter
XY = ("amp", "prob")


def build(m, qubit, x, y, err, ctx, phase):
    data = m.RabiAmplitudeData(rx90=False, durations={qubit: ctx.get("pulse_duration_ns", 40.0)})
    return probability_sweep(data, m.RabiAmpType, qubit, XY, x, y, err)

