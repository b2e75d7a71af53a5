"""Recorded shots as a workload: detection events and observable flips that a lab or a
vendor wrote to disk, replayed and counted exactly like sampled ones."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verifier.errors import UsageError
from verifier.hashing import sha256_bytes, sha256_file
from verifier.qec.dem import circuit_dem
from verifier.qec.inputs import (checked_circuit, count_appended, count_shots, data_formats, read_circuit,
                                 read_given_dem)
from verifier.qec.limits import check_rounds
from verifier.qec.plausibility import SAMPLE_SHOTS, check_recorded
from verifier.qec.shotdata import read_records, read_shots
from verifier.qec.workload import Block, QecWorkload


@dataclass(frozen=True)
class RecordedWorkload(QecWorkload):
    """Recorded shots: a circuit plus detection events and observable flips on disk,
    in stim's ``b8``, ``01`` or ``dets`` format (those of Google's published data). A
    dataset that ships a DEM but no circuit (Ising's test bundle) has ``circuit_path``
    None: decoders that need the circuit's geometry refuse it."""

    circuit_path: str | None
    circuit_sha256: str | None
    dets_path: str
    dets_sha256: str
    obs_path: str | None  # None: the observables follow the detectors in the dets file
    obs_sha256: str | None
    data_format: str
    obs_format: str | None
    shots: int
    rounds: int | None = None
    kind: str = field(default="recorded", init=False)
    distance: int | None = field(default=None, init=False)
    basis: str | None = field(default=None, init=False)
    dem_path: str | None = None
    dem_sha256: str | None = None

    @property
    def has_circuit(self) -> bool:
        return self.circuit_path is not None

    @classmethod
    def from_files(cls, circuit: str | os.PathLike[str] | None, dets: str | os.PathLike[str],
                   obs: str | os.PathLike[str] | None, *, data_format: str | None = None,
                   obs_format: str | None = None, shots: int | None = None,
                   rounds: int | None = None, dem: str | os.PathLike[str] | None = None,
                   warn=None) -> "RecordedWorkload":
        """The recorded workload of these files, once they are plausibly detection events
        of the circuit's (or the given DEM's) error model (``verifier.qec.plausibility``:
        refused, or ``warn(line)``)."""
        if rounds is not None:
            check_rounds(rounds)
        if circuit is None and dem is None:
            raise UsageError("recorded shots need the circuit they were recorded from (--circuit) "
                             "or the detector error model to decode them against (--dem)")
        circ, text = read_circuit(Path(circuit), dem_given=dem is not None) if circuit else (None, None)
        dem_path, dem_sha, given = read_given_dem(dem, circ)
        model = given if given is not None else circuit_dem(circ)
        fmt, ofmt = data_formats(dets, obs if obs is not None else dets, data_format, obs_format)
        if obs is None:
            nd = count_appended(Path(dets), fmt, model.num_detectors, model.num_observables)
            first = read_shots(Path(dets), fmt, model.num_detectors, model.num_observables, 0,
                               min(nd, SAMPLE_SHOTS))[0]
            ofmt = None
        else:
            nd = count_shots(Path(dets), fmt, Path(obs), ofmt, model.num_detectors, model.num_observables)
            first = read_records(Path(dets), fmt, model.num_detectors, 0, min(nd, SAMPLE_SHOTS))
        check_recorded(model, Path(dets), first, warn=warn)
        if shots is not None:
            if shots < 1 or shots > nd:
                raise UsageError(f"--shots {shots} is not in 1..{nd}, the shots recorded in {dets}")
            nd = shots
        return cls(str(Path(circuit).resolve()) if circuit else None,
                   sha256_bytes(text.encode()) if circuit else None,
                   str(Path(dets).resolve()), sha256_file(dets),
                   str(Path(obs).resolve()) if obs is not None else None,
                   sha256_file(obs) if obs is not None else None, fmt, ofmt, nd, rounds, dem_path, dem_sha)

    def spec(self) -> dict[str, Any]:
        return self._with_dem({"kind": self.kind, "circuit_sha256": self.circuit_sha256,
                               "dets_sha256": self.dets_sha256, "obs_sha256": self.obs_sha256,
                               "format": self.data_format, "obs_format": self.obs_format,
                               "rounds": self.rounds, "shots": self.shots})

    def circuit(self):
        if self.circuit_path is None:
            raise UsageError("these recorded shots come with a detector error model but no "
                             "circuit: give the circuit they were recorded from with --circuit FILE.stim")
        return checked_circuit(self.circuit_path, self.circuit_sha256)

    def sample_block(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        if self.obs_path is None:
            return read_shots(Path(self.dets_path), self.data_format, self.num_detectors,
                              self.num_observables, block.start, block.shots)
        dets = read_records(Path(self.dets_path), self.data_format, self.num_detectors,
                            block.start, block.shots)
        obs = read_records(Path(self.obs_path), self.obs_format, self.num_observables,
                           block.start, block.shots)
        return dets, obs

    def describe(self) -> str:
        obs = f" + {Path(self.obs_path).name}" if self.obs_path else " (observables appended)"
        dem = f", decoded against {Path(self.dem_path).name}" if self.dem_path else ""
        return f"recorded {Path(self.dets_path).name}{obs} ({self.data_format}){dem}, {self.shots} shots"
