"""NVIDIA Ising-Decoding's test bundle: one folder of shots, the matching graph they are
decoded on, and what Ising's own tools predicted for them.

All files are little-endian:

- ``detectors.bin``, ``observables.bin``, ``pymatching_predictions.bin``: an Ising ``.bin``
  array (``verifier.qec.shotdata``: two 32-bit integers rows, columns, then int32 0/1
  values); ``predecoder_outputs.bin`` the same with uint8 values (pre_L, then the residual).
- ``H_csr.bin`` (detectors x mechanisms) and ``O_csr.bin`` (observables x mechanisms): a
  binary matrix in CSR form: three uint32 (rows, columns, nnz), then ``rows + 1`` int32 row
  offsets and ``nnz`` int32 column indices; every stored entry is a 1.
- ``priors.bin``: one uint32 ``n``, then ``n`` float64 probabilities, one per mechanism
  (a column of H and O).
- ``metadata.txt`` (``key=value`` lines) and ``metadata_<basis>.json``: distance, rounds,
  basis, p, shots, detector and observable counts.
- ``samples_<basis>.dets``: the same shots as ``detectors.bin`` + ``observables.bin`` in
  stim's ``dets`` format, each shot's observables appended as ``L<k>``.

Ising builds H, O and priors from the circuit's DEM with every hyperedge split into its
graph-like parts, and a part's prior is the sum of the probabilities of the hyperedges that
contain it; so the DEM built here is a graph of edges whose probabilities can differ
slightly from those PyMatching merges out of the circuit's own DEM (docs/datasets.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from verifier.errors import UsageError
from verifier.qec.shotdata import bin_header, count_records, observables_in_dets

if TYPE_CHECKING:
    import stim

MATRIX_FILES = ("H_csr.bin", "O_csr.bin", "priors.bin")
SHOT_FILES = ("detectors.bin", "observables.bin")
PREDICTION_FILES = {"pymatching": "pymatching_predictions.bin"}
OTHER_FILES = {"predecoder_outputs": "predecoder_outputs.bin"}
MARKERS = ("H_csr.bin", "O_csr.bin", "detectors.bin")  # any of these: the folder is meant as a bundle


@dataclass(frozen=True)
class CsrMatrix:
    """A binary matrix from Ising's CSR file: row ``i`` has ones in columns
    ``indices[indptr[i]:indptr[i+1]]``."""
    rows: int
    cols: int
    indptr: np.ndarray
    indices: np.ndarray

    def row_of_entries(self) -> np.ndarray:
        return np.repeat(np.arange(self.rows), np.diff(self.indptr))


def read_csr(path: Path) -> CsrMatrix:
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 12:
        raise UsageError(f"{path}: {len(raw)} bytes, shorter than the 12-byte header (rows, columns, "
                         "nnz) of an Ising CSR matrix")
    rows, cols, nnz = (int(v) for v in np.frombuffer(raw[:12], dtype="<u4"))
    want = 12 + 4 * (rows + 1 + nnz)
    if len(raw) != want:
        raise UsageError(f"{path}: the header says {rows} x {cols} with {nnz} entries ({want} bytes) "
                         f"but the file is {len(raw)} bytes")
    body = np.frombuffer(raw[12:], dtype="<i4")
    indptr, indices = body[:rows + 1].astype(np.int64), body[rows + 1:].astype(np.int64)
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise UsageError(f"{path}: the row offsets do not run from 0 up to {nnz}: not a CSR matrix")
    if nnz and (indices.min() < 0 or indices.max() >= cols):
        raise UsageError(f"{path}: a column index is outside 0..{cols - 1}")
    return CsrMatrix(rows, cols, indptr, indices)


def read_priors(path: Path) -> np.ndarray:
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise UsageError(f"{path}: {len(raw)} bytes, shorter than the 4-byte count of an Ising priors file")
    n = int(np.frombuffer(raw[:4], dtype="<u4")[0])
    if len(raw) != 4 + 8 * n:
        raise UsageError(f"{path}: the header says {n} priors ({4 + 8 * n} bytes) but the file is "
                         f"{len(raw)} bytes")
    p = np.frombuffer(raw[4:], dtype="<f8")
    if not np.all((p >= 0) & (p <= 1)):
        raise UsageError(f"{path}: a prior is not a probability in [0, 1]")
    return p


def ising_bundle_dem(root: Path) -> "stim.DetectorErrorModel":
    """The detector error model of an Ising bundle: one ``error(p)`` per column of H/O with
    the column's prior, detectors from H and observables from O. Every detector and
    observable is declared, also those in no mechanism (Ising's final-round detectors of
    the other basis)."""
    import stim

    root = Path(root)
    _require(root, MATRIX_FILES)
    h, o = read_csr(root / "H_csr.bin"), read_csr(root / "O_csr.bin")
    priors = read_priors(root / "priors.bin")
    if not h.cols == o.cols == len(priors):
        raise UsageError(f"{root}: H_csr.bin has {h.cols} mechanisms, O_csr.bin {o.cols} and "
                         f"priors.bin {len(priors)}: they must agree")
    targets: list[list[str]] = [[] for _ in range(h.cols)]
    for matrix, letter in ((h, "D"), (o, "L")):
        order = np.lexsort((matrix.row_of_entries(), matrix.indices))
        for row, col in zip(matrix.row_of_entries()[order], matrix.indices[order]):
            targets[col].append(f"{letter}{row}")
    lines = [f"error({float(p)!r}) {' '.join(t)}" for p, t in zip(priors, targets) if t]
    if h.rows:
        lines.append(f"detector D{h.rows - 1}")
    if o.rows:
        lines.append(f"logical_observable L{o.rows - 1}")
    return stim.DetectorErrorModel("\n".join(lines))


def read_metadata(root: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The bundle's own description, normalized to sov's names (distance, rounds, basis,
    p, shots, num_detectors, num_observables, noise_model, model), and the files it came from."""
    raw: dict[str, Any] = {}
    used: list[str] = []
    txt = root / "metadata.txt"
    if txt.is_file():
        for line in txt.read_text(errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                raw[key.strip()] = value.strip()
        used.append(txt.name)
    for js in sorted(root.glob("metadata_*.json")):
        try:
            data = json.loads(js.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise UsageError(f"{js}: not JSON ({type(e).__name__})") from None
        if isinstance(data, dict):
            raw.update({k: v for k, v in data.items() if k not in raw})
            used.append(js.name)
    return _normalized(raw), tuple(used)


_NAMES = {"distance": ("distance", int), "n_rounds": ("rounds", int), "basis": ("basis", str),
          "p_error": ("p", float), "num_samples": ("shots", int), "num_shots": ("shots", int),
          "num_detectors": ("num_detectors", int), "num_observables": ("num_observables", int),
          "noise_model": ("noise_model", str), "code_rotation": ("code_rotation", str),
          "onnx_model": ("model", str)}


def _normalized(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (name, kind) in _NAMES.items():
        if key in raw and name not in out:
            try:
                out[name] = kind(raw[key])
            except (TypeError, ValueError):
                raise UsageError(f"Ising metadata {key}={raw[key]!r} is not a {kind.__name__}") from None
    if "basis" in out:
        out["basis"] = out["basis"].lower()
    return out


def bundle_parts(root: Path) -> dict[str, Any]:
    """The fields of a ``Dataset`` for an Ising bundle (``verifier.qec.datasets``).

    The shots come from ``detectors.bin`` + ``observables.bin`` when both are there: fixed
    records read by block with one seek, and a header whose widths are checked against H,
    O and the metadata; from ``samples_<basis>.dets`` (observables appended) otherwise."""
    _require(root, MATRIX_FILES)
    props, used = read_metadata(root)
    h, o = read_csr(root / "H_csr.bin"), read_csr(root / "O_csr.bin")
    nd, no = props.setdefault("num_detectors", h.rows), props.setdefault("num_observables", o.rows)
    if (h.rows, o.rows) != (nd, no):
        raise UsageError(f"{root}: H_csr.bin has {h.rows} detectors and O_csr.bin {o.rows} observables, "
                         f"but the metadata says {nd} and {no}")
    samples = sorted(root.glob("samples_*.dets"))
    if all((root / f).is_file() for f in SHOT_FILES):
        shots = _bin_shots(root, nd, no)
        parts = {"dets": root / SHOT_FILES[0], "dets_format": "ising-bin",
                 "obs": root / SHOT_FILES[1], "obs_format": "ising-bin"}
    elif len(samples) == 1 and observables_in_dets(samples[0]):
        shots = count_records(samples[0], "dets", nd + no)
        parts = {"dets": samples[0], "dets_format": "dets", "obs": None, "obs_format": None}
    else:
        missing = [f for f in SHOT_FILES if not (root / f).is_file()]
        raise UsageError(f"{root} looks like an Ising test bundle but lacks {' and '.join(missing)} "
                         "(or one samples_<basis>.dets with the observables appended)")
    if "shots" in props and props["shots"] != shots:
        raise UsageError(f"{root}: the metadata says {props['shots']} shots but {parts['dets'].name} "
                         f"holds {shots}")
    props["shots"] = shots
    predictions = _shipped(root, PREDICTION_FILES, shots, no)
    other = _shipped(root, OTHER_FILES, shots, 1 + nd)
    files = [parts["dets"].name] + ([parts["obs"].name] if parts["obs"] else []) + list(MATRIX_FILES)
    return parts | {"circuit": None, "dem": None, "predictions": predictions, "other": other,
                    "used": tuple(files) + used, "properties": props}


def _bin_shots(root: Path, nd: int, no: int) -> int:
    dets, obs = (root / f for f in SHOT_FILES)
    n = count_records(dets, "ising-bin", nd)
    m = count_records(obs, "ising-bin", no)
    if n != m:
        raise UsageError(f"{root}: {dets.name} holds {n} shots but {obs.name} holds {m}")
    return n


def _shipped(root: Path, names: dict[str, str], shots: int, width: int) -> dict[str, Path]:
    """The optional per-shot files that are there, each checked for shape."""
    out = {}
    for label, name in names.items():
        path = root / name
        if path.is_file():
            h = bin_header(path)
            if (h.rows, h.cols) != (shots, width):
                raise UsageError(f"{path}: {h.rows} x {h.cols} values, expected {shots} x {width} "
                                 "(one row per shot)")
            out[label] = path
    return out


def _require(root: Path, names) -> None:
    missing = [n for n in names if not (Path(root) / n).is_file()]
    if missing:
        raise UsageError(f"{root} looks like an Ising test bundle but lacks {', '.join(missing)} "
                         "(the matching graph: H_csr.bin, O_csr.bin, priors.bin)")
