"""Detector error models: the one place a workload's DEM is built or read.

Every matching decoder, every pre-decoder's finisher and the recorded-data checks decode
against the workload's DEM. It is either the file a lab or vendor ships (``--dem``: real
experiments publish a noiseless circuit plus a DEM fitted to the device), or the one stim
derives from the circuit's noise with ``decompose_errors=True`` (PyMatching needs every
mechanism split into graphlike pieces) and ``approximate_disjoint_errors=True`` (channels
such as ``PAULI_CHANNEL_2`` are disjoint, not independent, outcomes; stim can only turn them
into independent mechanisms approximately, as sinter and Ising-Decoding also do).
"""

from __future__ import annotations

import gzip
from pathlib import Path

from verifier.errors import UsageError, first_line

DEM_OPTIONS = "decompose_errors=True, approximate_disjoint_errors=True"


def circuit_dem(circuit, *, decompose: bool = True):
    """The circuit's DEM as sov builds it. stim's ValueError when an error cannot be
    decomposed propagates: only matching decoders need the decomposition, and they say so
    in their own words (``baselines.pymatching_decoder``)."""
    return circuit.detector_error_model(decompose_errors=decompose, approximate_disjoint_errors=True)


def read_dem_text(path: Path) -> str:
    """The text of a ``.dem`` file, plain or gzip-compressed (by its magic bytes, not its
    name); for an Ising test bundle's folder, the DEM of its check matrix and priors as stim
    prints it (``verifier.qec.ising_bundle``)."""
    path = Path(path)
    if path.is_dir():
        from verifier.qec.ising_bundle import ising_bundle_dem

        return str(ising_bundle_dem(path))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"detector error model not found: {path}") from None
    except OSError as e:
        raise UsageError(f"cannot read detector error model {path}: {e}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise UsageError(f"{path} is not a readable gzip file: {e}") from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a stim detector error model (not text)") from None


def parse_dem(text: str, path: Path):
    import stim

    try:
        dem = stim.DetectorErrorModel(text)
    except Exception as e:  # stim raises ValueError with a long message
        raise UsageError(f"{path} is not a valid stim detector error model: {first_line(e)}") from None
    if dem.num_detectors == 0:
        raise UsageError(f"{path} declares no detector: nothing to decode")
    if num_errors(dem) == 0:
        raise UsageError(f"{path} declares no error mechanism: nothing to decode against")
    return dem


def num_errors(dem) -> int:
    return sum(1 for inst in dem.flattened() if inst.type == "error")


def check_fits(dem, *, num_detectors: int, num_observables: int, path: Path) -> None:
    """A DEM for another circuit is refused before any shot, not decoded against."""
    if dem.num_detectors != num_detectors or dem.num_observables != num_observables:
        raise UsageError(f"{path} has {dem.num_detectors} detectors and {dem.num_observables} "
                         f"observables, the circuit {num_detectors} and {num_observables}: "
                         "the detector error model is for another circuit")
