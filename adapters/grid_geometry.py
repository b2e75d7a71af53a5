"""The geometry the ``qec.predecoder.grid`` contract needs, derived from the circuit itself.

For a rotated surface-code memory circuit (``adapters.grid_circuit`` finds its rounds,
ancillas and data qubits): where each detection event goes on the D x D data-qubit grid
(stim's detector coordinates, or the model's ``sov.detector_map``), the stabilizer masks
(``sov.mask_map`` may scale them per time slice), and, by propagating single faults
through the noiseless circuit with ``stim.FlipSimulator``, which detectors and
observables every output cell would flip (a data-qubit Z or X error just before round
``t``, or a flipped stabilizer measurement in round ``t``). ``adapters.grid`` runs models
with it; the training code builds labels with it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from adapters.grid_circuit import CONTRACT, propagate
from adapters.grid_placement import (flat_index, inputs, masks, parse_detector_map,
                                     parse_mask_map, place_by_coordinates, place_by_map,
                                     stabilizer_grid)

__all__ = ["CHANNELS", "CONTRACT", "GridGeometry", "analyse", "geometry_for", "parse_detector_map"]

CHANNELS = 4  # ch0 X-stab events / Z-type data corrections, ch1 Z-stab events / X-type
#               corrections, ch2/ch3 X/Z masks in, X/Z measurement-error flags out


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
    mask_cells: np.ndarray  # int64[m]: flat cells of the ch2/ch3 masks (slices with factor 0 omitted)
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

    def with_mask_scale(self, scale: np.ndarray) -> "GridGeometry":
        """The same geometry with the masks of slice t scaled by ``scale[basis, t]``."""
        stab = np.stack([self.x_stabilizers, self.z_stabilizers])
        cells, values = masks(stab, scale, self.rounds, self.distance)
        return replace(self, mask_cells=cells, mask_values=values)

    def restricted_to(self, detectors: np.ndarray) -> "GridGeometry":
        """The same geometry whose corrections flip only the detectors where ``detectors``
        (bool ``[num_detectors]``) is set; observables are kept."""
        keep = np.concatenate([detectors.astype(bool), np.ones(self.num_observables, bool)])
        eff = self.effects.tocsr(copy=True)
        eff.data = eff.data * keep[eff.indices].astype(eff.data.dtype)
        eff.eliminate_zeros()
        return replace(self, effects=eff)

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

def _effects(p, anc_cell, T: int, D: int):
    """csr [cells, detectors + observables]: what a correction at each output cell flips."""
    import scipy.sparse as sp

    s = p.structure
    flat = flat_index(T, D)
    nd, na = len(s.data), len(s.ancillas)
    fault_cell = np.full(2 * T * nd + T * na, -1, dtype=np.int64)
    for k in range(2):
        for t in range(T):
            for j, q in enumerate(s.data):
                fault_cell[k * T * nd + t * nd + j] = flat(k, t, *s.cell[q])
    for t in range(T):
        for i in range(na):
            if i in anc_cell:
                fault_cell[2 * T * nd + t * na + i] = flat(2 + int(p.kind[i]), t, *anc_cell[i])
    flips = np.concatenate([p.det_flips, p.obs_flips], axis=0)  # [Dets + O, faults]
    cols = np.flatnonzero(fault_cell >= 0)
    hit_rows, hit_faults = np.nonzero(flips[:, cols])
    effects = sp.csr_matrix((np.ones(hit_rows.size, np.int32), (fault_cell[cols[hit_faults]], hit_rows)),
                            shape=(CHANNELS * T * D * D, flips.shape[0]))
    effects.data &= 1  # duplicates summed: keep parity
    effects.eliminate_zeros()
    return effects


def analyse(circuit, detector_map: list | None = None) -> GridGeometry:
    """Derive the grid geometry of ``circuit`` (see the module docstring), masks constant
    in time (:meth:`GridGeometry.with_mask_scale` changes them)."""
    p = propagate(circuit)
    s = p.structure
    D, T = s.distance, s.rounds
    num_det, num_obs = circuit.num_detectors, circuit.num_observables
    if detector_map is None:
        source = "coordinates"
        entries, anc_cell = place_by_coordinates(circuit, p)
    else:
        source = "sov.detector_map"
        entries, anc_cell = place_by_map(detector_map, p)
    # no two stabilizers of one type in one cell; no two detectors in one input cell
    stab = stabilizer_grid(anc_cell, p.kind, p.weight, D)
    in_det, in_cell = inputs(entries, T, D)
    mask_cells, mask_values = masks(stab, np.ones((2, T), np.float32), T, D)
    effects = _effects(p, anc_cell, T, D)
    nd = len(s.data)
    support = []
    if num_obs:
        for k in range(2):
            for j, q in enumerate(s.data):
                if p.obs_flips[0, k * T * nd + j]:
                    support.append(s.cell[q])
    return GridGeometry(D, T, num_det, num_obs, in_det, in_cell, mask_cells, mask_values, effects,
                        stab[0], stab[1], tuple(sorted(set(support))), source)


_CACHE: dict[str, GridGeometry] = {}
_LOCK = threading.Lock()


def geometry_for(circuit, detector_map_text: str | None = None, *, mask_map_text: str | None = None,
                 model: str = "model") -> GridGeometry:
    """Cached :func:`analyse` keyed by the circuit text, the detector map and the mask map."""
    key = hashlib.sha256("\0".join((str(circuit), detector_map_text or "",
                                     mask_map_text or "")).encode()).hexdigest()
    with _LOCK:
        g = _CACHE.get(key)
    if g is None:
        dmap = parse_detector_map(detector_map_text, circuit.num_detectors, model=model)
        g = analyse(circuit, dmap)
        if mask_map_text is not None:
            g = g.with_mask_scale(parse_mask_map(mask_map_text, g.rounds, model=model))
        with _LOCK:
            if len(_CACHE) > 16:
                _CACHE.clear()
            _CACHE[key] = g
    return g
