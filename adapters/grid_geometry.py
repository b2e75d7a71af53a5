"""The geometry the ``qec.predecoder.grid`` contract needs, derived from the circuit itself.

For a rotated surface-code memory circuit: where each detection event goes on the D x D
data-qubit grid (stim's detector coordinates, or the model's ``sov.detector_map``), the
constant stabilizer masks, and, by propagating single faults through the noiseless
circuit with ``stim.FlipSimulator``, which detectors and observables every output cell
would flip (a data-qubit Z or X error just before round ``t``, or a flipped stabilizer
measurement in round ``t``). ``adapters.grid`` runs models with it; the training code
builds labels with it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.errors import UsageError

CONTRACT = "qec.predecoder.grid"
CHANNELS = 4  # ch0 X-stab events / Z-type data corrections, ch1 Z-stab events / X-type
#               corrections, ch2/ch3 X/Z masks in, X/Z measurement-error flags out
_MEASURE_RESET = {"MR", "MRZ"}
_RESETS = {"R", "RZ", "RX", "RY"}


def _layout_error(msg: str) -> UsageError:
    return UsageError(f"{CONTRACT}: {msg}; the contract's default placement needs a stim "
                      "rotated surface-code memory circuit (or give the model sov.detector_map)")


@dataclass(frozen=True)
class GridGeometry:
    """Everything the grid contract needs about one circuit, as index arrays.

    Flat cell index of ``[channel, t, row, col]`` is ``((channel*T + t)*D + row)*D + col``.
    """

    distance: int  # D
    rounds: int  # T (stabilizer measurement rounds)
    num_detectors: int
    num_observables: int
    input_detectors: np.ndarray  # int64[k]: detectors that are model input
    input_cells: np.ndarray  # int64[k]: their flat cell index (channel 0 or 1)
    mask_cells: np.ndarray  # int64[m]: flat cells of the ch2/ch3 masks (every t)
    mask_values: np.ndarray  # float32[m]: 1.0 weight-4, 0.5 weight-2
    effects: Any  # scipy.sparse.csr_matrix int32 [4*T*D*D, num_detectors + num_observables]
    x_stabilizers: np.ndarray  # int8[D, D]: weight of the X stabilizer placed at a cell (0 none)
    z_stabilizers: np.ndarray  # int8[D, D]
    logical_support: tuple[tuple[int, int], ...]  # cells of data qubits whose correction flips L0
    source: str  # "coordinates" or "sov.detector_map"

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (CHANNELS, self.rounds, self.distance, self.distance)

    @property
    def cells(self) -> int:
        return CHANNELS * self.rounds * self.distance * self.distance

    def tensorize(self, events: np.ndarray) -> np.ndarray:
        """``uint8[n, num_detectors]`` 0/1 events -> float32 ``[n, 4, T, D, D]``."""
        n = events.shape[0]
        x = np.zeros((n, self.cells), dtype=np.float32)
        x[:, self.input_cells] = events[:, self.input_detectors]
        x[:, self.mask_cells] = self.mask_values
        return x.reshape((n,) + self.shape)

    def predicted(self, corrections: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """bool ``[n, cells]`` corrections -> (uint8 ``[n, O]`` pre_L, uint8 ``[n, Dets]``
        detection events they would cause), computed over GF(2)."""
        import scipy.sparse as sp

        n = corrections.shape[0]
        rows, cols = np.nonzero(corrections)
        width = self.num_detectors + self.num_observables
        if rows.size == 0:
            flips = np.zeros((n, width), dtype=np.uint8)
        else:
            c = sp.csr_matrix((np.ones(rows.size, np.int32), (rows, cols)), shape=(n, self.cells))
            flips = np.asarray((c @ self.effects).toarray() & 1, dtype=np.uint8)
        return flips[:, self.num_detectors:], flips[:, :self.num_detectors]

    def to_json(self) -> dict[str, Any]:
        return {"distance": self.distance, "rounds": self.rounds, "source": self.source,
                "num_detectors": self.num_detectors, "input_detectors": int(self.input_detectors.size)}

    def drawing(self) -> str:
        """ASCII picture of the default placement: data qubits as cells, X/Z stabilizers
        (upper case weight 4, lower case weight 2) on the cell they are placed at."""
        d = self.distance
        lines = ["     " + " ".join(f"c{c:<2d}" for c in range(d))]
        for r in range(d):
            row = []
            for c in range(d):
                x, z = self.x_stabilizers[r, c], self.z_stabilizers[r, c]
                s = ("X" if x == 4 else "x" if x else ".") + ("Z" if z == 4 else "z" if z else ".")
                if (r, c) in self.logical_support:
                    s += "L"
                row.append(f"{s:<3s}")
            lines.append(f"r{r:<3d} " + " ".join(row))
        return "\n".join(lines)


# -- geometry from the circuit ----------------------------------------------------------

def parse_detector_map(text: str | None, num_detectors: int, *, model: str = "model") -> list | None:
    """``sov.detector_map`` JSON -> list of ``(channel, t, row, col)`` or None entries."""
    if text is None:
        return None
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{model}: metadata sov.detector_map is not valid JSON ({e.msg})") from None
    if not isinstance(entries, list) or len(entries) != num_detectors:
        found = f"{len(entries)} entries" if isinstance(entries, list) else type(entries).__name__
        raise UsageError(f"{model}: metadata sov.detector_map: expected a list of {num_detectors} "
                         f"entries (one per detector of the workload), found {found}")
    out: list = []
    for k, e in enumerate(entries):
        if e is None:
            out.append(None)
            continue
        if (not isinstance(e, list) or len(e) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in e)):
            raise UsageError(f"{model}: sov.detector_map entry {k} must be [channel, t, row, col] "
                             f"integers or null, found {e!r}")
        if e[0] not in (0, 1):
            raise UsageError(f"{model}: sov.detector_map entry {k}: channel must be 0 (X) or 1 (Z), "
                             f"found {e[0]}")
        out.append(tuple(e))
    return out


def _structure(circuit):
    """Noiseless flattened circuit, ancillas (measure-reset targets), the positions of the
    stabilizer rounds, and the data qubits' grid."""
    clean = circuit.without_noise().flattened()
    ops = list(clean)
    mr_pos = [i for i, op in enumerate(ops) if op.name in _MEASURE_RESET]
    if not mr_pos:
        raise _layout_error("the circuit has no measure-and-reset (MR) stabilizer rounds")
    rounds_targets = [[t.value for t in ops[i].targets_copy()] for i in mr_pos]
    ancillas = rounds_targets[0]
    for r, tg in enumerate(rounds_targets):
        if sorted(tg) != sorted(ancillas):
            raise _layout_error(f"stabilizer round {r} measures a different set of qubits than round 0")
    coords = circuit.get_final_qubit_coordinates()
    anc_set = set(ancillas)
    used = set()
    for op in ops:
        if op.name in ("DETECTOR", "OBSERVABLE_INCLUDE", "QUBIT_COORDS", "SHIFT_COORDS", "TICK"):
            continue
        used.update(t.value for t in op.targets_copy() if t.is_qubit_target)
    data = sorted(q for q in used if q not in anc_set)
    n = len(data)
    d = int(round(n ** 0.5))
    if d * d != n or d < 2:
        raise _layout_error(f"{n} data qubits do not form a square grid")
    if any(q not in coords or len(coords[q]) < 2 for q in data + ancillas):
        raise _layout_error("some qubits carry no QUBIT_COORDS")
    xs = sorted({coords[q][0] for q in data})
    ys = sorted({coords[q][1] for q in data})
    if len(xs) != d or len(ys) != d:
        raise _layout_error(f"data-qubit coordinates do not form a {d}x{d} grid")
    col_of = {x: i for i, x in enumerate(xs)}
    row_of = {y: i for i, y in enumerate(ys)}
    cell = {q: (row_of[coords[q][1]], col_of[coords[q][0]]) for q in data}
    if len(set(cell.values())) != n:
        raise _layout_error("two data qubits share a grid cell")
    # data errors of slot 0 enter after the initial resets, those of slot t > 0 right
    # after the measurement of round t - 1
    first = mr_pos[0]
    resets = [i for i in range(first) if ops[i].name in _RESETS]
    start = (resets[-1] + 1) if resets else 0
    return clean, ops, mr_pos, ancillas, data, cell, coords, d, start


def _single_faults(clean, ops, mr_pos, ancillas, data, start, num_qubits):
    """Detector, observable and measurement flips of every single fault, by FlipSimulator.

    Instances: [Z on data q before round t] (t, q) , then [X on data], then [flipped
    measurement of ancilla a in round t] (t, a)."""
    import stim

    T, nd, na = len(mr_pos), len(data), len(ancillas)
    B = 2 * T * nd + T * na
    events: list[tuple[int, str, np.ndarray]] = []
    for t in range(T):
        pos = start if t == 0 else mr_pos[t - 1] + 1
        for k, pauli in enumerate("ZX"):
            m = np.zeros((num_qubits, B), dtype=bool)
            base = k * T * nd + t * nd
            m[data, base + np.arange(nd)] = True
            events.append((pos, pauli, m))
        m = np.zeros((num_qubits, B), dtype=bool)
        m[ancillas, 2 * T * nd + t * na + np.arange(na)] = True
        events.append((mr_pos[t], "X", m))  # X before a Z-basis measure-reset = flipped result
    events.sort(key=lambda e: e[0])
    sim = stim.FlipSimulator(batch_size=B, num_qubits=num_qubits, disable_stabilizer_randomization=True)
    circuit = clean  # flattened and noiseless: ops[i] is circuit[i]
    prev = 0
    for pos, pauli, m in events:
        if pos > prev:
            sim.do(circuit[prev:pos])
            prev = pos
        sim.broadcast_pauli_errors(pauli=pauli, mask=m)
    sim.do(circuit[prev:])
    return (sim.get_detector_flips(), sim.get_observable_flips(), sim.get_measurement_flips(),
            circuit[:mr_pos[0]].num_measurements)


def _stabilizer_kinds(meas_flips, m0: int, T: int, nd: int, na: int):
    """Type (0 X, 1 Z) and weight of each ancilla's stabilizer: which data errors before
    round 0 flip its first measurement (Z errors flip X stabilizers)."""
    first = meas_flips[m0:m0 + na]  # [na, B] rows in MR target order
    z_hits = first[:, np.arange(nd)].sum(axis=1)
    x_hits = first[:, T * nd + np.arange(nd)].sum(axis=1)
    kind = np.full(na, -1)
    kind[(z_hits > 0) & (x_hits == 0)] = 0  # X stabilizer
    kind[(x_hits > 0) & (z_hits == 0)] = 1  # Z stabilizer
    if np.any(kind < 0):
        raise _layout_error("a stabilizer is not purely X or Z type")
    return kind, np.where(kind == 0, z_hits, x_hits)


def _place_by_coordinates(circuit, coords, cell, ancillas, kind, D: int, T: int):
    """Detector placements and ancilla cells from stim's qubit and detector coordinates."""
    for q, (r, c) in cell.items():
        x, y = coords[q][:2]
        if (x, y) != (2 * c + 1, 2 * r + 1):
            raise _layout_error(f"data qubit {q} sits at {coords[q][:2]}, not at (2*col+1, 2*row+1)")
    anc_cell: dict[int, tuple[int, int]] = {}
    for i, a in enumerate(ancillas):
        x, y = coords[a][:2]
        if x != int(x) or y != int(y) or int(x) % 2 or int(y) % 2:
            raise _layout_error(f"stabilizer qubit {a} sits at {coords[a][:2]}, not at even coordinates")
        anc_cell[i] = (min(max(int(y) // 2 - 1, 0), D - 1), min(max(int(x) // 2 - 1, 0), D - 1))
    by_xy = {tuple(coords[a][:2]): i for i, a in enumerate(ancillas)}
    det_coords = circuit.get_detector_coordinates()
    entries: list = []
    for k in range(circuit.num_detectors):
        c = det_coords.get(k, [])
        if len(c) < 3:
            raise _layout_error(f"detector {k} has no (x, y, t) coordinates")
        t = int(c[2])
        if t >= T:
            entries.append(None)  # final data-measurement detectors: not model input
            continue
        i = by_xy.get((c[0], c[1]))
        if i is None or t < 0 or t != c[2]:
            raise _layout_error(f"detector {k} at {c} matches no stabilizer round")
        entries.append((int(kind[i]), t) + anc_cell[i])
    return entries, anc_cell


def _place_by_map(detector_map: list, det_flips, num_det: int, ancillas, kind, D: int, T: int,
                  nd: int):
    """Detector placements from ``sov.detector_map``; an ancilla's cell is where the
    detectors its measurement errors flip are placed."""
    na = len(ancillas)
    entries = list(detector_map)
    for k, e in enumerate(entries):
        if e is not None and not (0 <= e[1] < T and 0 <= e[2] < D and 0 <= e[3] < D):
            raise UsageError(f"sov.detector_map entry {k} = {list(e)} lies outside [4, {T}, {D}, {D}]")
    anc_cell: dict[int, tuple[int, int]] = {}
    meas_cols = 2 * T * nd + np.arange(T * na)
    for i in range(na):
        cols = meas_cols[i::na]
        dets = np.flatnonzero(det_flips[:num_det, cols].any(axis=1))
        placed = {(entries[k][0], entries[k][2], entries[k][3]) for k in dets if entries[k] is not None}
        if len(placed) > 1:
            raise UsageError(f"sov.detector_map places the detectors of stabilizer qubit "
                             f"{ancillas[i]} at several cells: {sorted(placed)}")
        if placed:
            ch, r, c = placed.pop()
            if ch != kind[i]:
                raise UsageError(f"sov.detector_map puts detectors of a {'XZ'[kind[i]]} stabilizer "
                                 f"in channel {ch}")
            anc_cell[i] = (r, c)
    return entries, anc_cell


def _stabilizer_grid(anc_cell, kind, weight, D: int) -> np.ndarray:
    """int8 [2, D, D]: the weight of the X (0) and Z (1) stabilizer placed at each cell."""
    stab = np.zeros((2, D, D), dtype=np.int8)
    for i, (r, c) in anc_cell.items():
        if stab[kind[i], r, c]:
            raise _layout_error(f"two {'XZ'[kind[i]]} stabilizers share grid cell ({r}, {c})")
        stab[kind[i], r, c] = weight[i]
    return stab


def _flat_index(T: int, D: int):
    def flat(ch: int, t: int, r: int, c: int) -> int:
        return ((ch * T + t) * D + r) * D + c

    return flat


def _inputs_and_masks(entries, stab, T: int, D: int):
    flat = _flat_index(T, D)
    in_det = np.array([k for k, e in enumerate(entries) if e is not None], dtype=np.int64)
    in_cell = np.array([flat(*e) for e in entries if e is not None], dtype=np.int64)
    if len(set(in_cell.tolist())) != in_cell.size:
        raise UsageError(f"{CONTRACT}: two detectors are placed at the same input cell")
    mcells, mvals = [], []
    for k in range(2):
        rr, cc = np.nonzero(stab[k])
        for t in range(T):
            for r, c in zip(rr, cc):
                mcells.append(flat(2 + k, t, r, c))
                mvals.append(1.0 if stab[k, r, c] >= 4 else 0.5)
    return in_det, in_cell, np.array(mcells, np.int64), np.array(mvals, np.float32)


def _effects(det_flips, obs_flips, data, cell, anc_cell, kind, T: int, D: int, na: int):
    """csr [cells, detectors + observables]: what a correction at each output cell flips."""
    import scipy.sparse as sp

    flat = _flat_index(T, D)
    nd = len(data)
    fault_cell = np.full(2 * T * nd + T * na, -1, dtype=np.int64)
    for k in range(2):
        for t in range(T):
            for j, q in enumerate(data):
                fault_cell[k * T * nd + t * nd + j] = flat(k, t, *cell[q])
    for t in range(T):
        for i in range(na):
            if i in anc_cell:
                fault_cell[2 * T * nd + t * na + i] = flat(2 + int(kind[i]), t, *anc_cell[i])
    flips = np.concatenate([det_flips, obs_flips], axis=0)  # [Dets + O, B]
    rows, cols = [], []
    for b in np.flatnonzero(fault_cell >= 0):
        hit = np.flatnonzero(flips[:, b])
        rows.extend([fault_cell[b]] * hit.size)
        cols.extend(hit.tolist())
    effects = sp.csr_matrix((np.ones(len(rows), np.int32), (rows, cols)),
                            shape=(CHANNELS * T * D * D, flips.shape[0]))
    effects.data &= 1  # duplicates summed: keep parity
    effects.eliminate_zeros()
    return effects


def analyse(circuit, detector_map: list | None = None) -> GridGeometry:
    """Derive the grid geometry of ``circuit`` (see the module docstring)."""
    clean, ops, mr_pos, ancillas, data, cell, coords, D, start = _structure(circuit)
    T, nd, na = len(mr_pos), len(data), len(ancillas)
    num_det, num_obs = circuit.num_detectors, circuit.num_observables
    det_flips, obs_flips, meas_flips, m0 = _single_faults(clean, ops, mr_pos, ancillas, data, start,
                                                         circuit.num_qubits)
    kind, weight = _stabilizer_kinds(meas_flips, m0, T, nd, na)
    if detector_map is None:
        source = "coordinates"
        entries, anc_cell = _place_by_coordinates(circuit, coords, cell, ancillas, kind, D, T)
    else:
        source = "sov.detector_map"
        entries, anc_cell = _place_by_map(detector_map, det_flips, num_det, ancillas, kind, D, T, nd)
    # no two stabilizers of one type in one cell; no two detectors in one input cell
    stab = _stabilizer_grid(anc_cell, kind, weight, D)
    in_det, in_cell, mask_cells, mask_values = _inputs_and_masks(entries, stab, T, D)
    effects = _effects(det_flips, obs_flips, data, cell, anc_cell, kind, T, D, na)
    support = []
    if num_obs:
        for k in range(2):
            for j, q in enumerate(data):
                if obs_flips[0, k * T * nd + j]:
                    support.append(cell[q])
    return GridGeometry(D, T, num_det, num_obs, in_det, in_cell, mask_cells, mask_values, effects,
                        stab[0], stab[1], tuple(sorted(set(support))), source)


_CACHE: dict[str, GridGeometry] = {}
_LOCK = threading.Lock()


def geometry_for(circuit, detector_map_text: str | None = None, *, model: str = "model") -> GridGeometry:
    """Cached :func:`analyse` keyed by the circuit text and the detector map."""
    key = hashlib.sha256((str(circuit) + "\0" + (detector_map_text or "")).encode()).hexdigest()
    with _LOCK:
        g = _CACHE.get(key)
    if g is None:
        dmap = parse_detector_map(detector_map_text, circuit.num_detectors, model=model)
        g = analyse(circuit, dmap)
        with _LOCK:
            if len(_CACHE) > 16:
                _CACHE.clear()
            _CACHE[key] = g
    return g
