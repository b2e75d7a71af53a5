"""sov's spin_echo in Qibocal's ``spin_echo`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import probability_sweep

MODULE = "coherence.spin_echo"
OPERATION = "spin_echo"
RESULT = "t2"  # the Results attribute holding the parameter
XY = ("wait", "prob")


def build(m, qubit, x, y, err, ctx, phase):
    from qibocal.protocols.coherence.t1 import CoherenceProbType  # spin echo registers T1's type

    return probability_sweep(m.SpinEchoData(), CoherenceProbType, qubit, XY, x, y, err)

