"""The files a user's workload is made of: a stim circuit, a detector error model, shot
files. Each is checked when the workload is defined, so a wrong file is one line and exit 2
before any shot, and re-checked by hash when a worker reads it again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.errors import IntegrityError, UsageError
from verifier.hashing import sha256_bytes
from verifier.qec.dem import check_fits, circuit_dem, num_errors, parse_dem, read_dem_text
from verifier.qec.shotdata import DATA_FORMATS, count_records, format_from_suffix, observables_in_dets


def read_circuit(path: Path, *, dem_given: bool = False):
    import stim

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"circuit file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read circuit file {path}: {e}") from None
    try:
        circuit = stim.Circuit(text)
    except Exception as e:  # stim raises ValueError with a long message
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"{path} is not a valid stim circuit: {first}") from None
    if circuit.num_detectors == 0:
        raise UsageError(f"{path} declares no DETECTOR: nothing to decode")
    if circuit.num_observables == 0:
        raise UsageError(f"{path} declares no OBSERVABLE_INCLUDE: no ground truth to score against")
    try:
        dem = circuit_dem(circuit, decompose=False)
    except Exception as e:
        first = str(e).strip().splitlines()[0]
        raise UsageError(f"{path}: stim cannot build a detector error model: {first}") from None
    if not dem_given and num_errors(dem) == 0:
        raise UsageError(f"{path} has no noise, so nothing to decode against: give the detector "
                         "error model the shots are decoded against with --dem FILE.dem")
    return circuit, text


def read_given_dem(path: Path | None, circuit=None) -> tuple[str | None, str | None, Any]:
    """``(path, sha256, parsed DEM)`` of a ``--dem`` file (read and parsed once), checked to
    fit ``circuit`` when there is one; ``(None, None, None)`` without a file."""
    if path is None:
        return None, None, None
    text = read_dem_text(Path(path))
    dem = parse_dem(text, Path(path))
    if circuit is not None:
        check_fits(dem, num_detectors=circuit.num_detectors, num_observables=circuit.num_observables,
                   path=Path(path))
    return str(Path(path).resolve()), sha256_bytes(text.encode()), dem


def data_formats(dets, obs, data_format: str | None, obs_format: str | None) -> tuple[str, str]:
    fmt = data_format or format_from_suffix(Path(dets))
    ofmt = obs_format or data_format or format_from_suffix(Path(obs))
    for f in (fmt, ofmt):
        if f not in DATA_FORMATS:
            raise UsageError(f"data format must be one of {', '.join(DATA_FORMATS)}, got {f!r}")
    return fmt, ofmt


def count_shots(dets: Path, fmt: str, obs: Path, ofmt: str, num_detectors: int, num_observables: int) -> int:
    for p in (dets, obs):
        if not p.is_file():
            raise UsageError(f"data file not found: {p}")
    nd = count_records(dets, fmt, num_detectors)
    no = count_records(obs, ofmt, num_observables)
    if nd != no:
        raise UsageError(f"{dets} holds {nd} shots but {obs} holds {no}")
    if nd == 0:
        raise UsageError(f"{dets} holds no shots")
    return nd


def checked_circuit(path: str, sha256: str):
    circuit, text = read_circuit(Path(path), dem_given=True)
    if sha256_bytes(text.encode()) != sha256:
        raise IntegrityError(f"{path} changed since the workload was defined")
    return circuit


def count_appended(dets: Path, fmt: str, num_detectors: int, num_observables: int) -> int:
    """Shots in a file that holds the observables after the detectors (``--dets`` without
    ``--obs``): stim's ``dets`` format with ``L<k>`` tokens, or b8/01 records of detectors
    + observables."""
    if not dets.is_file():
        raise UsageError(f"data file not found: {dets}")
    if fmt == "dets" and not observables_in_dets(dets):
        raise UsageError(f"{dets} holds no observable flips (no L<k> token): give them with --obs FILE")
    if fmt not in ("dets", "b8", "01"):
        raise UsageError(f"{dets}: {fmt} files keep the observables in a file of their own: give --obs FILE")
    n = count_records(dets, fmt, num_detectors + num_observables)
    if n == 0:
        raise UsageError(f"{dets} holds no shots")
    return n
