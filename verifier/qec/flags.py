"""The workload that the shared workload flags of every command name (``--distance``,
``--circuit``, ``--dets``/``--obs``, ``--dem``, ...), with the flags' names in its errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from verifier.errors import UsageError
from verifier.qec.datasets import read_dataset
from verifier.qec.inputs import read_given_dem
from verifier.qec.recorded import RecordedWorkload
from verifier.qec.workload import CircuitWorkload, MemoryWorkload


def from_flags(*, distance: int | None, rounds: int | None, basis: str, noise: str, p: float | None,
               shots: int, seed: int, circuit: Path | None = None, dets: Path | None = None,
               obs: Path | None = None, data_format: str | None = None, dem: Path | None = None,
               dataset: Path | None = None, say: Callable[[str], None] | None = None,
               code: str = "surface"):
    """The workload named by the shared workload flags of every command (``--distance``,
    ``--circuit``, ``--dets``/``--obs``, ``--dem``, ``--dataset``, ``--code``, ...), with the
    flags' names in its errors. ``say(line)`` gets the line naming the files a dataset
    supplied (default: stderr)."""
    if code != "surface" and (dets is not None or circuit is not None or dataset is not None):
        raise UsageError(f"--code {code} generates a memory experiment; a --circuit is its own code "
                         "(leave --code out)")
    if dataset is not None:
        if dets is not None or obs is not None:
            raise UsageError("--dataset names the shot files itself: give --dataset or --dets/--obs, not both")
        return _from_dataset(dataset, circuit=circuit, dem=dem, rounds=rounds, say=say)
    if obs is not None and dets is None:
        raise UsageError("--obs goes with --dets (and --circuit or --dem)")
    if dets is not None:
        if circuit is None and dem is None:
            raise UsageError("--dets needs --circuit, the circuit the shots were recorded from "
                             "(or --dem, the detector error model to decode them against)")
        return RecordedWorkload.from_files(circuit, dets, obs, data_format=data_format,
                                           rounds=rounds, dem=dem)
    if circuit is not None:
        return CircuitWorkload.from_file(circuit, shots=shots, seed=seed, rounds=rounds, dem=dem)
    if distance is None:
        raise UsageError("give --distance (with --p), or --circuit FILE.stim, or --dataset DIR")
    if p is None:
        raise UsageError("give --p, the physical error rate (e.g. --p 0.003)")
    w = MemoryWorkload(distance, rounds or distance, basis.lower(), noise.lower(), p, shots, seed,
                       code=code.lower())
    if dem is None:
        return w
    dem_path, dem_sha, _ = read_given_dem(dem, w.circuit())
    return MemoryWorkload(w.distance, w.rounds, w.basis, w.noise, w.p, shots, seed, dem_path, dem_sha,
                          code=w.code)


def _from_dataset(root: Path, *, circuit: Path | None, dem: Path | None, rounds: int | None,
                  say: Callable[[str], None] | None) -> RecordedWorkload:
    """The recorded workload of a dataset folder (``verifier.qec.datasets``). A circuit given
    with ``--circuit`` wins over the folder's; the DEM is the one the folder ships (for an
    Ising bundle, its check matrix and priors) unless a circuit is given to a folder that
    ships no DEM file, whose own DEM is then used."""
    ds = read_dataset(root, dem=dem)
    circ = circuit or ds.circuit
    bundle = ds.layout == "ising-bundle"
    model = ds.dem if ds.dem is not None else (ds.root if bundle and circuit is None else None)
    if bundle and circuit is not None:
        notes = ["the circuit's DEM, not the bundle's check matrix"]
    else:
        notes = []
    w = RecordedWorkload.from_files(circ, ds.dets, ds.obs, data_format=ds.dets_format,
                                    obs_format=ds.obs_format, dem=model,
                                    rounds=rounds or ds.properties.get("rounds"))
    line = ds.describe() + (f"; decoded against {'; '.join(notes)}" if notes else "")
    (say or (lambda s: sys.stderr.write(s + "\n")))(f"sov: {line}")
    return w
