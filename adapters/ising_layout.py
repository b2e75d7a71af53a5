"""NVIDIA Ising Decoding's grid layout as ``sov.detector_map`` and ``sov.mask_map``.

Ising's surface-code pre-decoders read the same ``[4, T, D, D]`` tensor as the grid
contract, with their own placement (the rule below is ours, written from Ising's public
description of its mapping; it is checked against Ising's own pipeline outputs in
tests/test_grid_vendor.py):

- data qubits fill the D x D grid row by row (Ising's circuits number them so);
- an X stabilizer sits at the top-left data qubit of its support (smallest row, then
  smallest column), a Z stabilizer at the top-right one (smallest row, then largest column);
- the memory basis' detector comparing round t with round t - 1 (round 0 alone for t = 0)
  goes to time slice t; the other basis' detectors of rounds 1 ... T-2 go to slices
  1 ... T-2, its last round is not model input, and its mask is 0 in the first and the
  last slice; the final data-measurement detectors are not model input.

``python -m adapters.ising_layout CIRCUIT MODEL.onnx OUT.onnx`` writes a copy of a bare
Ising model with this metadata (and ``sov.contract``), so sov replays it on that circuit.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from adapters.grid_circuit import CONTRACT, detector_records, propagate
from verifier.errors import UsageError


@dataclass(frozen=True)
class IsingLayout:
    basis: str  # "x" or "z": the memory basis
    detector_map: list  # sov.detector_map entries
    mask_map: dict  # sov.mask_map

    def metadata(self) -> dict[str, str]:
        return {"sov.contract": CONTRACT, "sov.detector_map": json.dumps(self.detector_map),
                "sov.mask_map": json.dumps(self.mask_map)}


def _detector_rounds(p) -> list[tuple[int, int] | None]:
    """Per detector: (ancilla index, latest round it compares), or None for a detector that
    reads data-qubit measurements."""
    s = p.structure
    out: list[tuple[int, int] | None] = []
    for k, recs in enumerate(detector_records(s)):
        owners = [s.record_owner.get(r) for r in recs]
        if any(o is None or o[0] == "data" for o in owners):
            out.append(None)
            continue
        anc = {o[1] for o in owners}
        if len(anc) != 1:
            raise UsageError(f"Ising layout: detector {k} compares measurements of several "
                             "stabilizer qubits")
        out.append((anc.pop(), max(o[2] for o in owners)))
    return out


def ising_layout(circuit) -> IsingLayout:
    """Ising Decoding's layout for ``circuit`` (any distance, rounds and memory basis)."""
    p = propagate(circuit)
    s = p.structure
    T = s.rounds
    cells = []
    for i, sup in enumerate(p.supports):
        pts = [s.cell[q] for q in sup]
        cells.append(min(pts) if p.kind[i] == 0 else min(pts, key=lambda rc: (rc[0], -rc[1])))
    rounds = _detector_rounds(p)
    first = {int(p.kind[e[0]]) for e in rounds if e is not None and e[1] == 0}
    if len(first) != 1:
        raise UsageError("Ising layout: the circuit's round-0 detectors must belong to one basis "
                         "(the memory basis)")
    memory = first.pop()
    entries: list = []
    for e in rounds:
        if e is None:
            entries.append(None)
            continue
        i, t = e
        k = int(p.kind[i])
        if k != memory and not 1 <= t <= T - 2:
            entries.append(None)  # the other basis' last round is not model input
            continue
        entries.append([k, t, *cells[i]])
    other = [0.0] + [1.0] * max(T - 2, 0) + ([0.0] if T > 1 else [])
    basis = "xz"[memory]
    return IsingLayout(basis, entries, {basis: [1.0] * T, "xz"[1 - memory]: other})


def attach(circuit_path: str, model_in: str, model_out: str) -> IsingLayout:
    """Copy ``model_in`` to ``model_out`` with :class:`IsingLayout` metadata for the circuit."""
    import onnx
    import stim

    layout = ising_layout(stim.Circuit.from_file(circuit_path))
    model = onnx.load(model_in)
    known = {p.key for p in model.metadata_props}
    for key, value in layout.metadata().items():
        if key in known:
            next(p for p in model.metadata_props if p.key == key).value = value
        else:
            model.metadata_props.add(key=key, value=value)
    onnx.save(model, model_out)
    return layout


if __name__ == "__main__":  # pragma: no cover - thin command line
    if len(sys.argv) != 4:
        sys.exit("usage: python -m adapters.ising_layout CIRCUIT.stim MODEL.onnx OUT.onnx")
    lay = attach(*sys.argv[1:])
    print(f"wrote {sys.argv[3]}: memory {lay.basis.upper()}, "
          f"{sum(e is not None for e in lay.detector_map)} input detectors")
