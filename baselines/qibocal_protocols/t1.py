"""sov's t1 in Qibocal's ``t1`` protocol."""

from __future__ import annotations

from baselines.qibocal_protocols.base import value

MODULE = "coherence.t1"
OPERATION = "t1"
XY = ("wait", "prob")
NOTES = ()


def build(m, qubit, x, y, err, ctx, phase):
    data = m.T1Data()
    data.register_qubit(m.CoherenceProbType, qubit, {"wait": x, "prob": y, "error": err})
    return data


def params(results, qubit):
    return [value(results.t1[qubit])], {}
