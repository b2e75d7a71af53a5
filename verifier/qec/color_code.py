"""The ``--code color`` memory: the triangular 6.6.6 color code as a CSS memory experiment,
with the color and basis of every detector in its 4th coordinate (what Chromobius needs).

stim's own ``color_code:memory_xyz`` circuits measure each plaquette once a round in a basis
that cycles X -> Y -> Z, and their detectors carry no color or basis: Chromobius cannot decode
them (with colors added, it decodes d = 3 2.5x worse than Tesseract and refuses d = 5; measured
for this module). So sov takes that circuit's layout (qubits, plaquettes and their six
CX layers) and builds a CSS round from it: every plaquette's Z stabilizer measured through
its ancilla (CX data -> ancilla), then its X stabilizer (RX, CX ancilla -> data, MX). The
memory is in the Z basis (``--basis z``; ``x`` swaps the roles). Detector coordinates are
``(x, y, round, c)`` with ``c`` = color (0 red, 1 green, 2 blue) for X-type and color + 3 for
Z-type detectors, Chromobius's convention. One ancilla per plaquette spreads a fault on it to up to three data qubits (hook errors),
so the circuit's distance is (d + 1) / 2, not d (docs/baselines.md): decoders compare on it,
published color-code thresholds do not apply to it. Noise: ``uniform`` charges ``p`` as stim's generated
circuits do (DEPOLARIZE2 after every CX, DEPOLARIZE1 on the data before every round, a flip
before every measurement and after every reset); ``si1000`` is ``verifier.qec.noise.si1000``
applied to the noiseless circuit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    coords: dict[int, tuple[float, float]]
    data: tuple[int, ...]
    plaquettes: tuple[int, ...]  # their ancillas, in measurement order
    layers: tuple[tuple[tuple[int, int], ...], ...]  # (data, ancilla) pairs per CX layer
    logical: tuple[int, ...]  # data qubits of the logical operator (one side of the triangle)

    def color(self, anc: int) -> int:
        x, y = self.coords[anc]
        return int(round(x - 0.5 * y)) % 3

    def support(self, anc: int) -> list[int]:
        return sorted(d for layer in self.layers for d, a in layer if a == anc)


def layout(distance: int) -> Layout:
    import stim

    xyz = stim.Circuit.generated("color_code:memory_xyz", distance=distance, rounds=2)
    flat = xyz.flattened()
    coords = {q: (float(c[0]), float(c[1])) for q, c in xyz.get_final_qubit_coordinates().items()}
    layers, anc, final = [], None, None
    for inst in flat:
        if inst.name == "CX" and anc is None:
            t = [x.value for x in inst.targets_copy()]
            layers.append(tuple(zip(t[::2], t[1::2])))
        elif inst.name == "MR" and anc is None:
            anc = tuple(x.value for x in inst.targets_copy())
        elif inst.name in ("M", "MX", "MY"):
            final = [x.value for x in inst.targets_copy()]
        elif inst.name == "OBSERVABLE_INCLUDE":
            logical = tuple(sorted(final[len(final) + t.value] for t in inst.targets_copy()))
    data = tuple(sorted(set(coords) - set(anc)))
    out = Layout(coords, data, anc, tuple(layers), logical)
    _check_colors(out)
    return out


def _check_colors(lay: Layout) -> None:
    """The 3-coloring sov assigns must be proper (plaquettes sharing a qubit differ), or
    Chromobius would decode against wrong annotations."""
    for q in lay.data:
        cols = [lay.color(a) for a in lay.plaquettes if q in lay.support(a)]
        if len(cols) != len(set(cols)):
            raise AssertionError(f"color assignment not proper at data qubit {q}")


def memory_circuit(distance: int, rounds: int, basis: str = "z", p: float = 0.0):
    """The CSS color-code memory, with ``uniform`` noise of strength ``p`` (0: noiseless)."""
    import stim

    lay = layout(distance)
    c = stim.Circuit()
    for q, (x, y) in sorted(lay.coords.items()):
        c.append("QUBIT_COORDS", [q], [x, y])
    memory_z = basis == "z"
    c.append("R" if memory_z else "RX", lay.data)
    _noise(c, "X_ERROR" if memory_z else "Z_ERROR", lay.data, p)
    n_anc = len(lay.plaquettes)
    for r in range(rounds):
        c.append("TICK")
        _noise(c, "DEPOLARIZE1", lay.data, p)
        for kind in ("Z", "X"):
            _sub_round(c, lay, kind, p)
            mine = (kind == "Z") == memory_z  # the stabilizers deterministic from the start
            for i, a in enumerate(lay.plaquettes):
                if r == 0 and not mine:
                    continue
                recs = [stim.target_rec(-n_anc + i)]
                if r > 0:
                    recs.append(stim.target_rec(-3 * n_anc + i))
                x, y = lay.coords[a]
                c.append("DETECTOR", recs, [x, y, r, lay.color(a) + (3 if kind == "Z" else 0)])
    c.append("TICK")
    _noise(c, "X_ERROR" if memory_z else "Z_ERROR", lay.data, p)
    c.append("M" if memory_z else "MX", lay.data)
    nd = len(lay.data)
    last = -nd - (2 * n_anc if memory_z else n_anc)  # the last ancilla round of the data's basis (Z goes first)
    for i, a in enumerate(lay.plaquettes):
        recs = [stim.target_rec(-nd + lay.data.index(q)) for q in lay.support(a)]
        recs.append(stim.target_rec(last + i))
        x, y = lay.coords[a]
        c.append("DETECTOR", recs, [x, y, rounds, lay.color(a) + (3 if memory_z else 0)])
    c.append("OBSERVABLE_INCLUDE", [stim.target_rec(-nd + lay.data.index(q)) for q in lay.logical], 0)
    return c


def _sub_round(c, lay: Layout, kind: str, p: float) -> None:
    """Measure every plaquette's ``kind`` stabilizer through its ancilla."""
    anc = list(lay.plaquettes)
    c.append("R" if kind == "Z" else "RX", anc)
    _noise(c, "X_ERROR" if kind == "Z" else "Z_ERROR", anc, p)
    for layer in lay.layers:
        c.append("TICK")
        pairs = [q for d, a in layer for q in ((d, a) if kind == "Z" else (a, d))]
        c.append("CX", pairs)
        _noise(c, "DEPOLARIZE2", pairs, p)
    c.append("TICK")
    _noise(c, "X_ERROR" if kind == "Z" else "Z_ERROR", anc, p)
    c.append("M" if kind == "Z" else "MX", anc)


def _noise(c, name: str, targets, p: float) -> None:
    if p > 0:
        c.append(name, targets, p)
