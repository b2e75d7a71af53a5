"""sov's t1 in Qibocal's ``t1`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import probability_sweep

MODULE = "coherence.t1"
OPERATION = "t1"
RESULT = "t1"  # the Results attribute holding the parameter
XY = ("wait", "prob")


def build(m, qubit, x, y, err, ctx, phase):
    return probability_sweep(m.T1Data(), m.CoherenceProbType, qubit, XY, x, y, err)

