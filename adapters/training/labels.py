"""Training labels for grid pre-decoders: which output cells a sampled shot's faults set.

Every error mechanism of the circuit's detector error model (``decompose_errors=True``)
is split into its graph-like components; each component is written as one grid fault
(a data-qubit error before round t, or a flipped stabilizer measurement) with exactly
its detectors and observables, or, failing that, as the first pair of grid faults whose
symptoms add up to it (a hook error in the middle of a round is a data error plus a
measurement flip). Components that no single fault or pair explains (errors after the
last round, flipped final data measurements) get no label: they are left to PyMatching.
Labels are then the GF(2) sum over the mechanisms that fired in a shot, so a model that
predicted them perfectly would leave exactly those unlabeled components as residual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.grid_geometry import GridGeometry, geometry_for


@dataclass(frozen=True)
class LabelMap:
    geometry: GridGeometry
    dem: Any  # stim.DetectorErrorModel used for sampling
    matrix: Any  # scipy csr int32 [num_errors, cells]
    labeled: int  # components that got a label
    unlabeled: int


def label_map(circuit) -> LabelMap:
    import scipy.sparse as sp

    g = geometry_for(circuit)
    nd = g.num_detectors
    eff = g.effects.tocsr()
    sym: dict[frozenset, int] = {}
    by_det: dict[int, list[int]] = {}
    row_sets: list[frozenset] = []
    for cell in range(eff.shape[0]):
        s = frozenset(eff.indices[eff.indptr[cell]:eff.indptr[cell + 1]].tolist())
        row_sets.append(s)
        if not s:
            continue
        sym.setdefault(s, cell)
        for k in s:
            if k < nd:
                by_det.setdefault(k, []).append(cell)

    cache: dict[frozenset, tuple[int, ...]] = {}

    def explain(s: frozenset) -> tuple[int, ...]:
        if s in cache:
            return cache[s]
        out: tuple[int, ...] = ()
        if s in sym:
            out = (sym[s],)
        else:
            cands = sorted({c for k in s if k < nd for c in by_det.get(k, ())})
            for i, a in enumerate(cands):
                for b in cands[i + 1:]:
                    if row_sets[a] ^ row_sets[b] == s:
                        out = (a, b)
                        break
                if out:
                    break
        cache[s] = out
        return out

    dem = circuit.detector_error_model(decompose_errors=True)
    rows, cols = [], []
    labeled = unlabeled = 0
    e = 0
    for inst in dem.flattened():
        if inst.type != "error":
            continue
        comps: list[set] = [set()]
        for t in inst.targets_copy():
            if t.is_separator():
                comps.append(set())
            elif t.is_relative_detector_id():
                comps[-1].add(t.val)
            elif t.is_logical_observable_id():
                comps[-1].add(nd + t.val)
        acc: dict[int, int] = {}
        for comp in comps:
            if not any(k < nd for k in comp):
                continue
            cells = explain(frozenset(comp))
            if cells:
                labeled += 1
                for c in cells:
                    acc[c] = acc.get(c, 0) ^ 1
            else:
                unlabeled += 1
        for c, v in acc.items():
            if v:
                rows.append(e)
                cols.append(c)
        e += 1
    m = sp.csr_matrix((np.ones(len(rows), np.int32), (rows, cols)), shape=(e, g.cells))
    return LabelMap(g, dem, m, labeled, unlabeled)


def sample(lm: LabelMap, shots: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x float32 [n,4,T,D,D], labels float32 [n,4,T,D,D], events uint8, obs uint8)``."""
    import scipy.sparse as sp

    sampler = lm.dem.compile_sampler(seed=seed)
    dets, obs, errs = sampler.sample(shots, return_errors=True)
    g = lm.geometry
    er = sp.csr_matrix(errs.astype(np.int32))
    lab = np.asarray((er @ lm.matrix).toarray() & 1, dtype=np.float32).reshape((shots,) + g.shape)
    ev = dets.astype(np.uint8)
    return g.tensorize(ev), lab, ev, obs.astype(np.uint8)
