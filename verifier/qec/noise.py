"""Noise models applied to noiseless stim circuits.

``uniform`` is stim's own generated-circuit noise: ``after_clifford_depolarization``,
``before_round_data_depolarization``, ``before_measure_flip_probability`` and
``after_reset_flip_probability`` all equal to ``p`` (see :func:`uniform_kwargs`).

``si1000`` is the superconducting-inspired model of Gidney, Newman, Fowler and
Broughton ("A Fault-Tolerant Honeycomb Memory", 2021, table 2), applied layer by
layer (a layer is what stands between two ``TICK`` s) to the noiseless circuit:

====================================  ==========================================
operation                             noise
====================================  ==========================================
two-qubit Clifford (CX, CZ, ...)       ``DEPOLARIZE2(p)`` after
one-qubit Clifford (H, S, ...)         ``DEPOLARIZE1(p/10)`` after
reset (R, RX, RY)                      ``X_ERROR(2p)`` after (``Z_ERROR`` for RX)
measurement (M, MX, MY)                ``X_ERROR(5p)`` before (``Z_ERROR`` for MX),
                                       ``DEPOLARIZE1(p)`` after
measure-and-reset (MR, MRX)            ``X_ERROR(5p)`` before, ``X_ERROR(2p)`` after
idle qubit in a layer with a           ``DEPOLARIZE1(2p)`` (resonator idle)
measurement or reset
idle qubit in any other layer          ``DEPOLARIZE1(p/10)``
====================================  ==========================================

The paper compiles to CZ; stim's generated surface-code circuits use CX, which we
charge exactly as a CZ (``DEPOLARIZE2(p)``) rather than as CZ plus two Hadamards.
Annotations (DETECTOR, OBSERVABLE_INCLUDE, coordinates) pass through unchanged.
"""

from __future__ import annotations

import stim

NOISE_MODELS = ("uniform", "si1000")

_TWO_QUBIT = {"CX", "CY", "CZ", "CNOT", "ZCX", "ZCY", "ZCZ", "XCX", "XCY", "XCZ", "YCX",
              "YCY", "YCZ", "SWAP", "ISWAP", "ISWAP_DAG", "SQRT_XX", "SQRT_XX_DAG",
              "SQRT_YY", "SQRT_YY_DAG", "SQRT_ZZ", "SQRT_ZZ_DAG", "CXSWAP", "SWAPCX"}
_RESETS = {"R": "X_ERROR", "RZ": "X_ERROR", "RX": "Z_ERROR", "RY": "X_ERROR"}
_MEASURES = {"M": "X_ERROR", "MZ": "X_ERROR", "MX": "Z_ERROR", "MY": "X_ERROR"}
_MEASURE_RESETS = {"MR": "X_ERROR", "MRZ": "X_ERROR", "MRX": "Z_ERROR", "MRY": "X_ERROR"}


def uniform_kwargs(p: float) -> dict[str, float]:
    """Arguments of ``stim.Circuit.generated`` that make the ``uniform`` model."""
    return {
        "after_clifford_depolarization": p,
        "before_round_data_depolarization": p,
        "before_measure_flip_probability": p,
        "after_reset_flip_probability": p,
    }


def _qubits(inst: stim.CircuitInstruction) -> list[int]:
    return [t.value for t in inst.targets_copy() if t.is_qubit_target]


def si1000(circuit: stim.Circuit, p: float) -> stim.Circuit:
    """Return ``circuit`` (noiseless) with SI1000 noise of strength ``p`` added."""
    all_qubits = sorted(set(range(circuit.num_qubits)))
    return _si1000_block(circuit, p, all_qubits)


def _si1000_block(block: stim.Circuit, p: float, all_qubits: list[int]) -> stim.Circuit:
    out = stim.Circuit()
    layer: list[stim.CircuitInstruction] = []

    def flush() -> None:
        touched: set[int] = set()
        measures_or_resets = False
        for inst in layer:
            name = inst.name
            qs = _qubits(inst)
            gd = stim.gate_data(name)
            if name in _MEASURES:
                out.append(_MEASURES[name], qs, 5 * p)
                out.append(inst)
                out.append("DEPOLARIZE1", qs, p)
                measures_or_resets = True
            elif name in _MEASURE_RESETS:
                out.append(_MEASURE_RESETS[name], qs, 5 * p)
                out.append(inst)
                out.append(_MEASURE_RESETS[name], qs, 2 * p)
                measures_or_resets = True
            elif name in _RESETS:
                out.append(inst)
                out.append(_RESETS[name], qs, 2 * p)
                measures_or_resets = True
            elif name in _TWO_QUBIT:
                out.append(inst)
                out.append("DEPOLARIZE2", qs, p)
            elif gd.is_unitary and gd.is_single_qubit_gate:
                out.append(inst)
                out.append("DEPOLARIZE1", qs, p / 10)
            else:
                out.append(inst)
                continue
            touched.update(qs)
        if layer and touched:
            idle = [q for q in all_qubits if q not in touched]
            if idle:
                out.append("DEPOLARIZE1", idle, 2 * p if measures_or_resets else p / 10)
        layer.clear()

    for inst in block:
        if isinstance(inst, stim.CircuitRepeatBlock):
            flush()
            out.append(stim.CircuitRepeatBlock(inst.repeat_count,
                                               _si1000_block(inst.body_copy(), p, all_qubits)))
        elif inst.name == "TICK":
            flush()
            out.append(inst)
        else:
            layer.append(inst)
    flush()
    return out
