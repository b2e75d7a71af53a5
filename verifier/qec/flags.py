"""The workload that the shared workload flags of every command name (``--distance``,
``--circuit``, ``--dets``/``--obs``, ``--dem``, ...), with the flags' names in its errors."""

from __future__ import annotations

from pathlib import Path

from verifier.errors import UsageError
from verifier.qec.inputs import read_given_dem
from verifier.qec.recorded import RecordedWorkload
from verifier.qec.workload import CircuitWorkload, MemoryWorkload


def from_flags(*, distance: int | None, rounds: int | None, basis: str, noise: str, p: float | None,
               shots: int, seed: int, circuit: Path | None = None, dets: Path | None = None,
               obs: Path | None = None, data_format: str | None = None, dem: Path | None = None,
               code: str = "surface"):
    """The workload named by the shared workload flags of every command (``--distance``,
    ``--circuit``, ``--dets``/``--obs``, ``--dem``, ...), with the flags' names in its errors."""
    if (dets is None) != (obs is None):
        raise UsageError("--dets and --obs go together: give both, with --circuit")
    if code != "surface" and (dets is not None or circuit is not None):
        raise UsageError(f"--code {code} generates a memory experiment; a --circuit is its own code "
                         "(leave --code out)")
    if dets is not None:
        if circuit is None and dem is None:
            raise UsageError("--dets/--obs need --circuit, the circuit the shots were recorded from "
                             "(or --dem, the detector error model to decode them against)")
        return RecordedWorkload.from_files(circuit, dets, obs, data_format=data_format,
                                           rounds=rounds, dem=dem)
    if circuit is not None:
        return CircuitWorkload.from_file(circuit, shots=shots, seed=seed, rounds=rounds, dem=dem)
    if distance is None:
        raise UsageError("give --distance (with --p), or --circuit FILE.stim")
    if p is None:
        raise UsageError("give --p, the physical error rate (e.g. --p 0.003)")
    w = MemoryWorkload(distance, rounds or distance, basis.lower(), noise.lower(), p, shots, seed,
                       code=code.lower())
    if dem is None:
        return w
    return MemoryWorkload(w.distance, w.rounds, w.basis, w.noise, w.p, shots, seed,
                          *read_given_dem(dem, w.circuit()), code=w.code)
