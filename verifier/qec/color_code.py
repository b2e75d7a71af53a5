"""The ``--code color`` memory: the triangular 6.6.6 color code as a CSS memory experiment,
with the color and basis of every detector in its 4th coordinate (what Chromobius needs),
and a circuit whose circuit-level distance is the code distance d.

stim's own ``color_code:memory_xyz`` circuits measure each plaquette once a round in a basis
that cycles X -> Y -> Z, and their detectors carry no color or basis: Chromobius cannot decode
them (with colors added, it decodes d = 3 2.5x worse than Tesseract and refuses d = 5; measured
for this module). So sov takes that circuit's layout (qubits and plaquettes) and builds its own
round on it, in the spirit of Gidney and Jones's "superdense" color-code circuits: every
plaquette has two ancillas, ``a`` and ``b``, prepared as a Bell pair (RX a, R b, CX a -> b).
Six CX layers ``a -> data`` copy the plaquette's X stabilizer onto the pair's XX, six layers
``data -> b`` its Z stabilizer onto the pair's ZZ, and a Bell measurement (CX a -> b, MX a,
M b) reads both. A fault on ``a`` or ``b`` halfway through still spreads to several data
qubits (a hook), but it also flips the other ancilla's outcome through the closing CX, so every
hook comes with a detection event of its own plaquette; with one bare ancilla per plaquette
(sov's earlier circuit) a hook looked like a data error of two or three qubits and the circuit
distance was only (d + 1) / 2.
The CX order (the same for every plaquette, :data:`ORDER_A`, :data:`ORDER_B`) was chosen by
searching orders with stim's ``search_for_undetectable_logical_errors`` and Chromobius: with
it the shortest undetectable logical error has d faults at d = 3, 5, 7, in both bases
(tests/test_codes.py), and Chromobius can decompose every error of the DEM (many other
orders fail one or the other).

The memory is in the Z basis (``--basis z``; ``x`` swaps the roles). Detector coordinates
are ``(x, y, round, c)`` with ``c`` = color (0 red, 1 green, 2 blue) for X-type and color + 3
for Z-type detectors, Chromobius's convention. Noise: ``uniform`` charges ``p`` as stim's
generated circuits do (DEPOLARIZE2 after every CX, DEPOLARIZE1 on the data before every round,
a flip before every measurement and after every reset); ``si1000`` is
``verifier.qec.noise.si1000`` applied to the noiseless circuit.
"""

from __future__ import annotations

from dataclasses import dataclass

# Direction from a plaquette's center to each of its (up to six) data qubits, in stim's
# color-code coordinates.
DIRECTIONS = {(1.0, 0.0): "E", (0.5, 1.0): "NE", (-0.5, 1.0): "NW", (-1.0, 0.0): "W",
              (-0.5, -1.0): "SW", (0.5, -1.0): "SE"}
# The layer (0..5) in which each plaquette's ancilla meets the data qubit in that direction.
# Both orders put every data qubit in at most one CX a layer; together they give distance d.
ORDER_A = ("W", "SW", "SE", "E", "NE", "NW")  # CX a -> data: the X stabilizer
ORDER_B = ("E", "SE", "SW", "NE", "NW", "W")  # CX data -> b: the Z stabilizer


@dataclass(frozen=True)
class Layout:
    coords: dict[int, tuple[float, float]]
    data: tuple[int, ...]
    plaquettes: tuple[int, ...]  # their ``a`` ancillas, in measurement order
    partners: tuple[int, ...]  # their ``b`` ancillas, in the same order
    logical: tuple[int, ...]  # data qubits of the logical operator (one side of the triangle)
    supports: dict[int, tuple[int, ...]]  # plaquette -> its data qubits

    def color(self, anc: int) -> int:
        x, y = self.coords[anc]
        return int(round(x - 0.5 * y)) % 3

    def support(self, anc: int) -> list[int]:
        return list(self.supports[anc])

    def direction(self, anc: int, q: int) -> str:
        (x, y), (qx, qy) = self.coords[anc], self.coords[q]
        return DIRECTIONS[(qx - x, qy - y)]

    def layers(self, order: tuple[str, ...]) -> list[list[tuple[int, int]]]:
        """(data, plaquette) pairs of each of the six CX layers of ``order``."""
        out: list[list[tuple[int, int]]] = [[] for _ in order]
        for a in self.plaquettes:
            for q in self.supports[a]:
                out[order.index(self.direction(a, q))].append((q, a))
        return out


def layout(distance: int) -> Layout:
    import stim

    xyz = stim.Circuit.generated("color_code:memory_xyz", distance=distance, rounds=2)
    coords = {q: (float(c[0]), float(c[1])) for q, c in xyz.get_final_qubit_coordinates().items()}
    supports: dict[int, set[int]] = {}
    anc, final = None, None
    for inst in xyz.flattened():
        if inst.name == "CX" and anc is None:
            t = [x.value for x in inst.targets_copy()]
            for d, a in zip(t[::2], t[1::2]):
                supports.setdefault(a, set()).add(d)
        elif inst.name == "MR" and anc is None:
            anc = tuple(x.value for x in inst.targets_copy())
        elif inst.name in ("M", "MX", "MY"):
            final = [x.value for x in inst.targets_copy()]
        elif inst.name == "OBSERVABLE_INCLUDE":
            logical = tuple(sorted(final[len(final) + t.value] for t in inst.targets_copy()))
    data = tuple(sorted(set(coords) - set(anc)))
    first = max(coords) + 1
    partners = tuple(range(first, first + len(anc)))
    for a, b in zip(anc, partners):
        x, y = coords[a]
        coords[b] = (x, y + 0.5)  # beside its partner; no data qubit has a half-integer y
    out = Layout(coords, data, anc, partners, logical, {a: tuple(sorted(s)) for a, s in supports.items()})
    _check(out)
    return out


def _check(lay: Layout) -> None:
    """The 3-coloring sov assigns must be proper (plaquettes sharing a qubit differ), or
    Chromobius would decode against wrong annotations; and each CX layer must touch a data
    qubit at most once."""
    for q in lay.data:
        cols = [lay.color(a) for a in lay.plaquettes if q in lay.supports[a]]
        if len(cols) != len(set(cols)):
            raise AssertionError(f"color assignment not proper at data qubit {q}")
    for order in (ORDER_A, ORDER_B):
        for layer in lay.layers(order):
            qs = [q for q, _ in layer]
            if len(qs) != len(set(qs)):
                raise AssertionError(f"a CX layer of {order} touches a data qubit twice")


def memory_circuit(distance: int, rounds: int, basis: str = "z", p: float = 0.0):
    """The color-code memory, with ``uniform`` noise of strength ``p`` (0: noiseless)."""
    import stim

    lay = layout(distance)
    c = stim.Circuit()
    for q, (x, y) in sorted(lay.coords.items()):
        c.append("QUBIT_COORDS", [q], [x, y])
    memory_z = basis == "z"
    c.append("R" if memory_z else "RX", lay.data)
    _noise(c, "X_ERROR" if memory_z else "Z_ERROR", lay.data, p)
    n = len(lay.plaquettes)
    for r in range(rounds):
        c.append("TICK")
        _noise(c, "DEPOLARIZE1", lay.data, p)
        _round(c, lay, p)
        # records of the round: MX of every a (X stabilizers), then M of every b (Z)
        for kind in ("X", "Z"):
            if r == 0 and (kind == "Z") != memory_z:
                continue  # only the memory's own basis is deterministic from the start
            off = 0 if kind == "X" else n
            for i, a in enumerate(lay.plaquettes):
                recs = [stim.target_rec(-2 * n + off + i)]
                if r > 0:
                    recs.append(stim.target_rec(-4 * n + off + i))
                x, y = lay.coords[a]
                c.append("DETECTOR", recs, [x, y, r, lay.color(a) + (3 if kind == "Z" else 0)])
    c.append("TICK")
    _noise(c, "X_ERROR" if memory_z else "Z_ERROR", lay.data, p)
    c.append("M" if memory_z else "MX", lay.data)
    nd = len(lay.data)
    last = -nd - 2 * n + (n if memory_z else 0)  # the last round's outcomes of the data's basis
    for i, a in enumerate(lay.plaquettes):
        recs = [stim.target_rec(-nd + lay.data.index(q)) for q in lay.supports[a]]
        recs.append(stim.target_rec(last + i))
        x, y = lay.coords[a]
        c.append("DETECTOR", recs, [x, y, rounds, lay.color(a) + (3 if memory_z else 0)])
    c.append("OBSERVABLE_INCLUDE", [stim.target_rec(-nd + lay.data.index(q)) for q in lay.logical], 0)
    return c


def _round(c, lay: Layout, p: float) -> None:
    """One round: Bell pairs, X stabilizers onto a, Z stabilizers onto b, Bell measurement."""
    a_s, b_s = list(lay.plaquettes), list(lay.partners)
    partner = dict(zip(a_s, b_s))
    bell = [q for a, b in zip(a_s, b_s) for q in (a, b)]
    c.append("RX", a_s)
    c.append("R", b_s)
    _noise(c, "Z_ERROR", a_s, p)
    _noise(c, "X_ERROR", b_s, p)
    _cx(c, bell, p)
    for layer in lay.layers(ORDER_A):
        _cx(c, [q for d, a in layer for q in (a, d)], p)
    for layer in lay.layers(ORDER_B):
        _cx(c, [q for d, a in layer for q in (d, partner[a])], p)
    _cx(c, bell, p)
    c.append("TICK")
    _noise(c, "Z_ERROR", a_s, p)
    _noise(c, "X_ERROR", b_s, p)
    c.append("MX", a_s)
    c.append("M", b_s)


def _cx(c, pairs: list[int], p: float) -> None:
    c.append("TICK")
    if pairs:
        c.append("CX", pairs)
        _noise(c, "DEPOLARIZE2", pairs, p)


def _noise(c, name: str, targets, p: float) -> None:
    if p > 0:
        c.append(name, targets, p)
