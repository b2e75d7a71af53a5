"""The code families of generated memory experiments (``--code``) and the distances each
takes. stim generates the surface and repetition codes; the color code is sov's circuit
(Bell-pair ancillas, circuit distance d) on the layout of stim's color-code generator, with
the color and basis annotations Chromobius needs (:mod:`verifier.qec.color_code`).

=============  ==============================  =====================================
``--code``     stim task                       distances
=============  ==============================  =====================================
surface        surface_code:rotated_memory_B   any d >= 2; fits (threshold, Λ) odd d
color          sov:color_code_bell_memory_B    odd d >= 3
               (color_code:memory_xyz's layout,
               rounds: verifier.qec.color_code)
repetition     repetition_code:memory           any d >= 2 (basis z only)
=============  ==============================  =====================================
"""

from __future__ import annotations

from verifier.errors import UsageError

CODES = ("surface", "color", "repetition")
CODE_TASKS = {"surface": "surface_code:rotated_memory_{basis}", "color": "sov:color_code_bell_memory_{basis}",
              "repetition": "repetition_code:memory"}


def check_code(code: str, distance, basis: str, flag: str = "--distance") -> None:
    """Refuse a family stim cannot generate at this distance or basis (exit 2)."""
    if code not in CODES:
        raise UsageError(f"--code must be one of {', '.join(CODES)}, got {code!r}")
    if code == "color" and isinstance(distance, int) and (distance < 3 or distance % 2 == 0):
        raise UsageError(f"the color code takes odd distances of at least 3, got {flag} {distance} "
                         "(e.g. 3, 5, 7)")
    if code == "repetition" and basis != "z":
        raise UsageError(f"the repetition code is a Z-basis memory: --basis {basis} applies to "
                         "the surface and color codes")


def fit_distances_refused(code: str, distances) -> list[int]:
    """The distances a threshold or Λ fit of this family cannot use (wrong parity)."""
    if code == "repetition":
        return []
    return [d for d in distances if d % 2 == 0]


def generated(code: str, task: str, distance: int, rounds: int, basis: str, noise: str, p: float):
    """The family's circuit with ``noise`` of strength ``p`` (``verifier.qec.noise``)."""
    import stim

    from verifier.qec.noise import si1000, uniform_kwargs

    if code == "color":
        from verifier.qec.color_code import memory_circuit

        if noise == "uniform":
            return memory_circuit(distance, rounds, basis, p)
        return si1000(memory_circuit(distance, rounds, basis), p)
    if noise == "uniform":
        return stim.Circuit.generated(task, distance=distance, rounds=rounds, **uniform_kwargs(p))
    return si1000(stim.Circuit.generated(task, distance=distance, rounds=rounds), p)
