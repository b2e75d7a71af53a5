"""The structure of a rotated surface-code memory circuit, read from its instructions.

Measure qubits (ancillas) and data qubits are told apart by how they are measured, not by
names or coordinates: an ancilla is measured by a measure-and-reset instruction (``MR``,
``MRX``, ``MRY``), or reset after a measurement (``M`` then ``R``), or measured more than
once; every other qubit the circuit uses is a data qubit (measured once at the end, or
never). Round ``t`` is every ancilla's ``t``-th measurement, whichever instructions hold
them (Ising Decoding measures X ancillas with ``MRX`` and Z ancillas with ``MR`` in the
same round). ``single_faults`` then propagates every grid fault through the noiseless
circuit with ``stim.FlipSimulator`` in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.errors import UsageError

CONTRACT = "qec.predecoder.grid"
# measurement instruction -> the Pauli that flips its result (injected just before it)
_MEASURES = {"M": "X", "MZ": "X", "MX": "Z", "MY": "X",
             "MR": "X", "MRZ": "X", "MRX": "Z", "MRY": "X"}
_MEASURE_RESETS = {"MR", "MRZ", "MRX", "MRY"}
_RESETS = {"R", "RZ", "RX", "RY"}
_ANNOTATIONS = {"DETECTOR", "OBSERVABLE_INCLUDE", "QUBIT_COORDS", "SHIFT_COORDS", "TICK", "MPAD"}


def layout_error(msg: str) -> UsageError:
    return UsageError(f"{CONTRACT}: {msg}; the contract's default placement needs a stim "
                      "rotated surface-code memory circuit (or give the model sov.detector_map)")


@dataclass(frozen=True)
class CircuitStructure:
    """Where the stabilizer rounds, ancillas and data qubits of a memory circuit are."""

    clean: Any  # stim.Circuit, noiseless and flattened: ops[i] is clean[i]
    num_qubits: int
    ancillas: list[int]  # in the order of their round-0 measurement records
    data: list[int]  # sorted qubit indices
    cell: dict[int, tuple[int, int]]  # data qubit -> (row, col)
    coords: dict  # stim's final qubit coordinates (may be empty)
    distance: int
    rounds: int
    data_slots: list[int]  # op index before which data errors of time slice t enter
    meas_ops: np.ndarray  # int64[T, na]: op index of ancilla i's measurement in round t
    meas_records: np.ndarray  # int64[T, na]: its measurement record index
    meas_paulis: list[str]  # per ancilla: the Pauli that flips its measurement
    meas_resets: list[bool]  # per ancilla: its measurement instruction also resets it
    record_owner: dict[int, tuple[str, int, int]]  # record -> ("anc", i, t) or ("data", q, 0)
    cells_from: str  # "coordinates" or "qubit order"


def _num_records(op) -> int:
    import stim

    c = stim.Circuit()
    c.append(op)
    return c.num_measurements


def _scan(ops):
    """Per qubit: its measurements (op index, record index, instruction), which qubits are
    reset after a measurement, and which qubits the circuit uses."""
    meas: dict[int, list[tuple[int, int, str]]] = {}
    reset_after: set[int] = set()
    used: set[int] = set()
    rec = 0
    for i, op in enumerate(ops):
        name = op.name
        qubits = [t.value for t in op.targets_copy() if t.is_qubit_target]
        if name not in _ANNOTATIONS:
            used.update(qubits)
        if name in _MEASURES:
            for q in qubits:
                meas.setdefault(q, []).append((i, rec, name))
                rec += 1
            if name in _MEASURE_RESETS:
                reset_after.update(qubits)
        elif name == "MPAD":
            rec += len(op.targets_copy())
        elif name in _RESETS:
            reset_after.update(q for q in qubits if q in meas)
        elif name not in _ANNOTATIONS and _num_records(op):
            raise layout_error(f"measurement instruction {name} is not a single-qubit measurement")
    return meas, reset_after, used


def _data_cells(data: list[int], coords: dict) -> tuple[dict, int, str]:
    """Data qubit -> (row, col): from QUBIT_COORDS when every data qubit has them, else the
    data qubits in index order fill the grid row by row (Ising Decoding numbers them so;
    ``check_supports`` later refuses a numbering that is not geometric)."""
    n = len(data)
    d = int(round(n ** 0.5))
    if d * d != n or d < 2:
        raise layout_error(f"{n} data qubits do not form a square grid")
    if not all(q in coords and len(coords[q]) >= 2 for q in data):
        return {q: divmod(j, d) for j, q in enumerate(data)}, d, "qubit order"
    xs = sorted({coords[q][0] for q in data})
    ys = sorted({coords[q][1] for q in data})
    if len(xs) != d or len(ys) != d:
        raise layout_error(f"data-qubit coordinates do not form a {d}x{d} grid")
    col_of = {x: i for i, x in enumerate(xs)}
    row_of = {y: i for i, y in enumerate(ys)}
    cell = {q: (row_of[coords[q][1]], col_of[coords[q][0]]) for q in data}
    if len(set(cell.values())) != n:
        raise layout_error("two data qubits share a grid cell")
    return cell, d, "coordinates"


def structure(circuit) -> CircuitStructure:
    """The :class:`CircuitStructure` of ``circuit``; exit 2 when it is no memory circuit."""
    clean = circuit.without_noise().flattened()
    ops = list(clean)
    meas, reset_after, used = _scan(ops)
    ancillas = [q for q in meas if q in reset_after or len(meas[q]) > 1]
    if not ancillas:
        raise layout_error("the circuit has no stabilizer rounds (no qubit is measured and reset)")
    T = len(meas[ancillas[0]])
    if any(len(meas[q]) != T for q in ancillas):
        raise layout_error("the measure qubits are not all measured the same number of times")
    ancillas.sort(key=lambda q: meas[q][0][1])
    meas_ops = np.array([[meas[q][t][0] for q in ancillas] for t in range(T)], dtype=np.int64)
    records = np.array([[meas[q][t][1] for q in ancillas] for t in range(T)], dtype=np.int64)
    for t in range(T - 1):
        if meas_ops[t].max() >= meas_ops[t + 1].min():
            raise layout_error(f"stabilizer round {t + 1} starts before round {t} has been measured")
    if any(len({m[2] for m in meas[q]}) != 1 for q in ancillas):
        raise layout_error("a measure qubit is measured in different bases in different rounds")
    anc_set = set(ancillas)
    data = sorted(q for q in used if q not in anc_set)
    coords = circuit.get_final_qubit_coordinates()
    cell, d, cells_from = _data_cells(data, coords)
    # data errors of slice 0 enter after the initial resets, those of slice t > 0 right
    # after the last measurement of round t - 1
    first = int(meas_ops[0].min())
    resets = [i for i in range(first) if ops[i].name in _RESETS]
    slots = [(resets[-1] + 1) if resets else 0] + [int(meas_ops[t].max()) + 1 for t in range(T - 1)]
    owner: dict[int, tuple[str, int, int]] = {}
    for i, q in enumerate(ancillas):
        for t in range(T):
            owner[int(records[t, i])] = ("anc", i, t)
    for q in data:
        for (_, rec, _) in meas.get(q, []):
            owner[rec] = ("data", q, 0)
    names = [meas[q][0][2] for q in ancillas]
    return CircuitStructure(clean, circuit.num_qubits, ancillas, data, cell, coords, d, T, slots,
                            meas_ops, records, [_MEASURES[n] for n in names],
                            [n in _MEASURE_RESETS for n in names], owner, cells_from)


def fault_columns(s: CircuitStructure) -> int:
    """Fault instances: [Z on data j before slice t] at ``t*nd + j``, then [X on data] at
    ``T*nd + t*nd + j``, then [flipped measurement of ancilla i in round t] at
    ``2*T*nd + t*na + i``."""
    return 2 * s.rounds * len(s.data) + s.rounds * len(s.ancillas)


def single_faults(s: CircuitStructure):
    """Detector, observable and measurement flips (bool ``[*, faults]``) of every fault of
    :func:`fault_columns`. A flipped measurement is its basis' anticommuting Pauli just
    before it, and once more right after it when the instruction does not reset (so the
    qubit's state is left as it was)."""
    import stim

    T, nd, na = s.rounds, len(s.data), len(s.ancillas)
    B = fault_columns(s)
    data = np.array(s.data, dtype=np.int64)
    anc = np.array(s.ancillas, dtype=np.int64)
    # (position, pauli, qubits, columns); masks are built one at a time to bound memory
    events: list[tuple[int, str, np.ndarray, np.ndarray]] = []
    for t in range(T):
        for k, pauli in enumerate("ZX"):
            events.append((s.data_slots[t], pauli, data, k * T * nd + t * nd + np.arange(nd)))
        for i in range(na):
            col = np.array([2 * T * nd + t * na + i])
            pos = int(s.meas_ops[t, i])
            events.append((pos, s.meas_paulis[i], anc[i:i + 1], col))
            if not s.meas_resets[i]:
                events.append((pos + 1, s.meas_paulis[i], anc[i:i + 1], col))
    events.sort(key=lambda e: (e[0], e[1]))
    sim = stim.FlipSimulator(batch_size=B, num_qubits=s.num_qubits, disable_stabilizer_randomization=True)
    prev = 0
    j = 0
    while j < len(events):
        pos, pauli = events[j][0], events[j][1]
        m = np.zeros((s.num_qubits, B), dtype=bool)
        while j < len(events) and events[j][0] == pos and events[j][1] == pauli:
            m[events[j][2], events[j][3]] = True
            j += 1
        if pos > prev:
            sim.do(s.clean[prev:pos])
            prev = pos
        sim.broadcast_pauli_errors(pauli=pauli, mask=m)
    sim.do(s.clean[prev:])
    return sim.get_detector_flips(), sim.get_observable_flips(), sim.get_measurement_flips()


def detector_records(s: CircuitStructure) -> list[list[int]]:
    """The measurement records each detector of the circuit compares, in detector order."""
    out: list[list[int]] = []
    rec = 0
    for op in s.clean:
        name = op.name
        if name in _MEASURES or name == "MPAD":
            rec += len(op.targets_copy())
        elif name == "DETECTOR":
            out.append([rec + t.value for t in op.targets_copy() if t.is_measurement_record_target])
    return out


def check_supports(s: CircuitStructure, supports: list[list[int]]) -> None:
    """Every stabilizer acts on an adjacent pair or a 2x2 block of grid cells: otherwise the
    data qubits' cells (above all from qubit order) do not describe the circuit."""
    for i, sup in enumerate(supports):
        cells = [s.cell[q] for q in sup]
        rows = {r for r, _ in cells}
        cols = {c for _, c in cells}
        ok = (len(cells) == 4 and len(rows) == 2 and len(cols) == 2) or (
            len(cells) == 2 and len(rows) * len(cols) == 2)
        if ok and max(rows) - min(rows) <= 1 and max(cols) - min(cols) <= 1:
            continue
        hint = ("number the data qubits row by row or give them QUBIT_COORDS"
                if s.cells_from == "qubit order" else "check the data qubits' QUBIT_COORDS")
        raise layout_error(f"stabilizer qubit {s.ancillas[i]} acts on data cells {sorted(cells)}, "
                           f"not on an adjacent pair or a 2x2 block ({hint})")


@dataclass(frozen=True)
class Propagation:
    """A circuit's structure, every grid fault's flips, and each ancilla's stabilizer."""

    structure: CircuitStructure
    det_flips: np.ndarray  # bool [detectors, faults]
    obs_flips: np.ndarray  # bool [observables, faults]
    kind: np.ndarray  # int [na]: 0 X stabilizer, 1 Z stabilizer
    weight: np.ndarray  # int [na]
    supports: list[list[int]]  # per ancilla: the data qubits of its stabilizer


def propagate(circuit) -> Propagation:
    """:func:`structure` and :func:`single_faults`; the type (X or Z) and support of each
    ancilla's stabilizer are the data errors before slice 0 that flip its first
    measurement (Z errors flip X stabilizers)."""
    s = structure(circuit)
    det, obs, meas = single_faults(s)
    T, nd = s.rounds, len(s.data)
    first = meas[s.meas_records[0]]  # [na, faults]
    z_hit = first[:, :nd]
    x_hit = first[:, T * nd:T * nd + nd]
    kind = np.full(len(s.ancillas), -1)
    kind[z_hit.any(axis=1) & ~x_hit.any(axis=1)] = 0
    kind[x_hit.any(axis=1) & ~z_hit.any(axis=1)] = 1
    if np.any(kind < 0):
        raise layout_error("a stabilizer is not purely X or Z type")
    hits = np.where((kind == 0)[:, None], z_hit, x_hit)
    supports = [[s.data[j] for j in np.flatnonzero(h)] for h in hits]
    check_supports(s, supports)
    return Propagation(s, det, obs, kind, hits.sum(axis=1), supports)
