"""The largest workloads sov accepts, checked before any work (docs/cli.md, "Maxima").

This module imports nothing heavy: the CLI's option definitions name these constants and
``sov --help`` stays instant.

- :data:`MAX_SHOTS` (10^10 shots per workload): resolves a logical error rate of 10^-9
  with ten errors, beyond any code measured today, and is hours of decoding even at
  PyMatching's fastest (~10^6 shots/s at d=3). The block list of a workload (one entry
  per 8192 shots, ~1.2 million at the maximum) stays small; 10^15 shots would be 10^11
  entries, which is what grew memory until the process was killed.
- :data:`MAX_DISTANCE` (51): a d=51 rotated memory experiment with d rounds has ~130,000
  detectors, about what stim and PyMatching still build in minutes; larger codes belong to
  a circuit file made for them (``--circuit``), which is bounded by its own size.
- :data:`MAX_ROUNDS` (1000): a thousand QEC rounds is ten times the longest published
  memory experiments; the circuit (and its detector error model) grows linearly with them.
- :data:`MAX_CAL_SHOTS` / :data:`MAX_CAL_REPEATS`: calibration shots per sweep point and
  simulated qubits; their product is capped by :data:`MAX_CAL_SAMPLES` (the readout
  simulation holds every shot of every qubit in memory: 2 x 10^7 samples is ~0.6 GB).
"""

from __future__ import annotations

from verifier.errors import UsageError

MAX_SHOTS = 10**10
MAX_DISTANCE = 51
MAX_ROUNDS = 1000
MAX_CAL_SHOTS = 10**6
MAX_CAL_REPEATS = 10**4
MAX_CAL_SAMPLES = 2 * 10**7


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _count(value, flag: str, lowest: int, highest: int, over: str) -> int:
    """``value`` as a whole number in ``[lowest, highest]``; ``over`` ends the message for
    a value above the maximum."""
    if not _is_int(value):
        raise UsageError(f"{flag} must be an integer, got {value!r}")
    if value < lowest:
        raise UsageError(f"{flag} must be at least {lowest}, got {value}")
    if value > highest:
        raise UsageError(f"{flag} {value} is over the maximum {over}")
    return value


def check_shots(shots, flag: str = "--shots") -> int:
    return _count(shots, flag, 1, MAX_SHOTS, f"of {MAX_SHOTS:.0e} shots per workload (docs/cli.md, Maxima)")


def check_distance(distance, flag: str = "--distance") -> int:
    return _count(distance, flag, 2, MAX_DISTANCE, f"distance {MAX_DISTANCE} (docs/cli.md, Maxima; "
                                                   "give larger codes as --circuit FILE.stim)")


def check_rounds(rounds, flag: str = "--rounds") -> int:
    return _count(rounds, flag, 1, MAX_ROUNDS, f"of {MAX_ROUNDS} rounds (docs/cli.md, Maxima)")


def check_calibration(repeats: int, shots: int) -> None:
    """Simulated qubits (``--repeats``) and shots per sweep point (``--shots``)."""
    if repeats > MAX_CAL_REPEATS:
        raise UsageError(f"--repeats {repeats} is over the maximum of {MAX_CAL_REPEATS} simulated qubits "
                         "(docs/cli.md, Maxima)")
    if shots > MAX_CAL_SHOTS:
        raise UsageError(f"--shots {shots} is over the maximum of {MAX_CAL_SHOTS:.0e} calibration shots "
                         "per point (docs/cli.md, Maxima)")
    if repeats * shots > MAX_CAL_SAMPLES:
        raise UsageError(f"--repeats {repeats} x --shots {shots} is over the maximum of {MAX_CAL_SAMPLES:.0e} "
                         "simulated samples (docs/cli.md, Maxima)")
