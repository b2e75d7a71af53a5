"""Where detection events and stabilizer masks go on the ``[4, T, D, D]`` grid.

Two placements: stim's coordinates (the contract's default) or the model's
``sov.detector_map``; and the masks, constant in time unless the model's ``sov.mask_map``
scales them per time slice (Ising Decoding switches off the non-memory basis' mask in the
first and last slice).
"""

from __future__ import annotations

import json
import math

import numpy as np

from adapters.grid_circuit import CONTRACT, Propagation, layout_error
from verifier.errors import UsageError


def _json_value(text: str, key: str, model: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{model}: metadata {key} is not valid JSON ({e.msg})") from None


def parse_detector_map(text: str | None, num_detectors: int, *, model: str = "model") -> list | None:
    """``sov.detector_map`` JSON -> list of ``(channel, t, row, col)`` or None entries."""
    if text is None:
        return None
    entries = _json_value(text, "sov.detector_map", model)
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


def parse_mask_map(text: str | None, rounds: int, *, model: str = "model") -> np.ndarray:
    """``sov.mask_map`` JSON ``{"x": [s_0, ..., s_T-1], "z": [...]}`` -> float32 ``[2, T]``
    factors of the X and Z masks per time slice (a missing basis keeps 1.0 everywhere)."""
    scale = np.ones((2, rounds), dtype=np.float32)
    if text is None:
        return scale
    spec = _json_value(text, "sov.mask_map", model)
    if not isinstance(spec, dict) or not spec or set(spec) - {"x", "z"}:
        raise UsageError(f"{model}: metadata sov.mask_map must be an object with keys \"x\" "
                         f"and/or \"z\", found {text[:80]!r}")
    for k, key in enumerate("xz"):
        if key not in spec:
            continue
        v = spec[key]
        if (not isinstance(v, list) or len(v) != rounds
                or not all(isinstance(f, (int, float)) and not isinstance(f, bool)
                           and math.isfinite(f) and f >= 0 for f in v)):
            raise UsageError(f"{model}: sov.mask_map[{key!r}] must list {rounds} finite factors "
                             f">= 0 (one per time slice), found {v!r}")
        scale[k] = v
    return scale


def place_by_coordinates(circuit, p: Propagation):
    """Detector placements and ancilla cells from stim's qubit and detector coordinates."""
    s = p.structure
    D, T, coords = s.distance, s.rounds, s.coords
    if s.cells_from != "coordinates" or any(a not in coords or len(coords[a]) < 2 for a in s.ancillas):
        raise layout_error("some qubits carry no QUBIT_COORDS")
    for q, (r, c) in s.cell.items():
        x, y = coords[q][:2]
        if (x, y) != (2 * c + 1, 2 * r + 1):
            raise layout_error(f"data qubit {q} sits at {coords[q][:2]}, not at (2*col+1, 2*row+1)")
    anc_cell: dict[int, tuple[int, int]] = {}
    for i, a in enumerate(s.ancillas):
        x, y = coords[a][:2]
        if x != int(x) or y != int(y) or int(x) % 2 or int(y) % 2:
            raise layout_error(f"stabilizer qubit {a} sits at {coords[a][:2]}, not at even coordinates")
        anc_cell[i] = (min(max(int(y) // 2 - 1, 0), D - 1), min(max(int(x) // 2 - 1, 0), D - 1))
    by_xy = {tuple(coords[a][:2]): i for i, a in enumerate(s.ancillas)}
    det_coords = circuit.get_detector_coordinates()
    entries: list = []
    for k in range(circuit.num_detectors):
        c = det_coords.get(k, [])
        if len(c) < 3:
            raise layout_error(f"detector {k} has no (x, y, t) coordinates")
        t = int(c[2])
        if t >= T:
            entries.append(None)  # final data-measurement detectors: not model input
            continue
        i = by_xy.get((c[0], c[1]))
        if i is None or t < 0 or t != c[2]:
            raise layout_error(f"detector {k} at {c} matches no stabilizer round")
        entries.append((int(p.kind[i]), t) + anc_cell[i])
    return entries, anc_cell


def place_by_map(detector_map: list, p: Propagation):
    """Detector placements from ``sov.detector_map``; an ancilla's cell is where the
    detectors its measurement errors flip are placed."""
    s = p.structure
    D, T, nd, na = s.distance, s.rounds, len(s.data), len(s.ancillas)
    entries = list(detector_map)
    for k, e in enumerate(entries):
        if e is not None and not (0 <= e[1] < T and 0 <= e[2] < D and 0 <= e[3] < D):
            raise UsageError(f"sov.detector_map entry {k} = {list(e)} lies outside [4, {T}, {D}, {D}]")
    anc_cell: dict[int, tuple[int, int]] = {}
    meas_cols = 2 * T * nd + np.arange(T * na)
    for i in range(na):
        dets = np.flatnonzero(p.det_flips[:, meas_cols[i::na]].any(axis=1))
        placed = {(entries[k][0], entries[k][2], entries[k][3]) for k in dets if entries[k] is not None}
        if len(placed) > 1:
            raise UsageError(f"sov.detector_map places the detectors of stabilizer qubit "
                             f"{s.ancillas[i]} at several cells: {sorted(placed)}")
        if placed:
            ch, r, c = placed.pop()
            if ch != p.kind[i]:
                raise UsageError(f"sov.detector_map puts detectors of a {'XZ'[p.kind[i]]} stabilizer "
                                 f"in channel {ch}")
            anc_cell[i] = (r, c)
    return entries, anc_cell


def stabilizer_grid(anc_cell, kind, weight, D: int) -> np.ndarray:
    """int8 [2, D, D]: the weight of the X (0) and Z (1) stabilizer placed at each cell."""
    stab = np.zeros((2, D, D), dtype=np.int8)
    for i, (r, c) in anc_cell.items():
        if stab[kind[i], r, c]:
            raise layout_error(f"two {'XZ'[kind[i]]} stabilizers share grid cell ({r}, {c})")
        stab[kind[i], r, c] = weight[i]
    return stab


def flat_index(T: int, D: int):
    def flat(ch: int, t: int, r: int, c: int) -> int:
        return ((ch * T + t) * D + r) * D + c

    return flat


def inputs(entries, T: int, D: int):
    """Input detectors and their flat cells (no two detectors in one cell)."""
    flat = flat_index(T, D)
    in_det = np.array([k for k, e in enumerate(entries) if e is not None], dtype=np.int64)
    in_cell = np.array([flat(*e) for e in entries if e is not None], dtype=np.int64)
    if len(set(in_cell.tolist())) != in_cell.size:
        raise UsageError(f"{CONTRACT}: two detectors are placed at the same input cell")
    return in_det, in_cell


def masks(stab, scale, T: int, D: int):
    """Mask cells and values: 1.0 weight-4, 0.5 weight-2, times the slice's factor of
    ``scale`` ([2, T]; cells whose factor is 0 stay 0)."""
    flat = flat_index(T, D)
    mcells, mvals = [], []
    for k in range(2):
        rr, cc = np.nonzero(stab[k])
        for t in range(T):
            if scale[k, t] == 0:
                continue
            for r, c in zip(rr, cc):
                mcells.append(flat(2 + k, t, r, c))
                mvals.append((1.0 if stab[k, r, c] >= 4 else 0.5) * float(scale[k, t]))
    return np.array(mcells, np.int64), np.array(mvals, np.float32)
