"""sov's spin_echo in Qibocal's ``spin_echo`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import value

MODULE = "coherence.spin_echo"
OPERATION = "spin_echo"
XY = ("wait", "prob")
NOTES = ()


def build(m, qubit, x, y, err, ctx, phase):
    from qibocal.protocols.coherence.t1 import CoherenceProbType  # spin echo registers T1's type

    data = m.SpinEchoData()
    data.register_qubit(CoherenceProbType, qubit, {"wait": x, "prob": y, "error": err})
    return data


def params(results, qubit):
    return [value(results.t2[qubit])], {}
