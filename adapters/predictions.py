"""``--decoder predictions:FILE``: predictions made elsewhere, scored like any decoder.

A lab receives predictions rather than a model: Google's ``obs_flips_predicted_by_*.01``,
Ising's ``pymatching_predictions.bin``, or what a vendor returned for syndromes it was sent
(``sov qec export-syndromes``). The file holds one row per shot of the workload, one
column per observable, in the workload's shot order, so it is read by position: the run
loop gives each block's first shot (``verifier.qec.decoder.PositionalDecoder``).

Formats (from the suffix, or named: ``predictions:FMT:FILE``):

- ``01``: stim's ``01``, a line of ``num_observables`` characters ``0``/``1`` per shot;
- ``b8``: stim's ``b8``, ``ceil(num_observables / 8)`` little-endian bytes per shot;
- ``bin``: Ising's test-bundle layout: two little-endian int32 (rows, columns), then
  ``rows x columns`` int32 (or uint8: told apart by the file's size) of 0/1.

What can be checked that the file belongs to the shots is checked before any shot: its
rows against the workload's shots, its width against the observables, every value 0 or
1, and (in ``verifier.workflows.syndromes``) the commitment of an export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verifier.errors import IntegrityError, UsageError
from verifier.hashing import sha256_file

PREFIX = "predictions:"
FORMATS = ("01", "b8", "bin")
_HEADER = 8  # Ising's .bin: int32 rows, int32 columns
_CHECK_ROWS = 1 << 20


def parse_spec(spec: str) -> tuple[str, Path]:
    """``predictions:FILE`` or ``predictions:FMT:FILE`` -> (format, path)."""
    rest = spec[len(PREFIX):]
    head, sep, tail = rest.partition(":")
    if sep and head in FORMATS:
        fmt, path = head, Path(tail)
    else:
        path = Path(rest)
        fmt = path.suffix.lstrip(".")
        if fmt not in FORMATS:
            raise UsageError(f"cannot tell the format of the predictions file {path} from its name: "
                             "write predictions:01:FILE, predictions:b8:FILE or predictions:bin:FILE")
    if not str(path):
        raise UsageError("give the predictions file: --decoder predictions:FILE")
    if not path.is_file():
        raise UsageError(f"predictions file not found: {path}")
    return fmt, path


@dataclass(frozen=True)
class _Layout:
    rows: int
    width: int  # predictions per shot the file declares or implies
    offset: int  # bytes before the first row
    dtype: str | None  # bin: int32 or uint8


def _bin_layout(path: Path) -> _Layout:
    size = path.stat().st_size
    if size < _HEADER:
        raise UsageError(f"{path} is {size} bytes: too short for the 8-byte header (rows, columns) of a .bin")
    rows, cols = (int(x) for x in np.fromfile(path, dtype="<i4", count=2))
    if rows < 0 or cols < 1:
        raise UsageError(f"{path}: its header says {rows} rows of {cols} columns")
    body = size - _HEADER
    for dtype, item in (("int32", 4), ("uint8", 1)):
        if body == rows * cols * item:
            return _Layout(rows, cols, _HEADER, dtype)
    raise UsageError(f"{path}: its header says {rows} x {cols} values but {body} bytes follow "
                     "(neither int32 nor uint8)")


def _layout(path: Path, fmt: str, num_observables: int) -> _Layout:
    size = path.stat().st_size
    if fmt == "bin":
        return _bin_layout(path)
    if fmt == "01":
        with open(path, "rb") as f:
            first = f.readline()
        if not first.endswith(b"\n"):
            raise UsageError(f"{path}: not a '01' file (no line ends with a newline)")
        width = len(first) - 1
        if size % (width + 1):
            raise UsageError(f"{path} is {size} bytes, not a whole number of '01' lines of {width} "
                             "characters: every line must hold one prediction per observable")
        return _Layout(size // (width + 1), width, 0, None)
    rec = (num_observables + 7) // 8
    if size % rec:
        raise UsageError(f"{path} is {size} bytes, not a whole number of b8 records of "
                         f"{num_observables} observables ({rec} bytes each)")
    return _Layout(size // rec, num_observables, 0, None)


def _check_values(path: Path, fmt: str, layout: _Layout) -> None:
    """Every prediction 0 or 1 (and no bit past the last observable in b8), before any shot."""
    if fmt != "bin":  # stim's formats: the readers' own checks, a chunk of rows at a time
        from verifier.qec.shotdata import read_records

        for start in range(0, layout.rows, _CHECK_ROWS):
            read_records(path, fmt, layout.width, start, min(_CHECK_ROWS, layout.rows - start))
        return
    if layout.rows == 0:
        return
    values = np.memmap(path, dtype="<i4" if layout.dtype == "int32" else np.uint8, mode="r",
                       offset=layout.offset)
    bad = np.flatnonzero((values != 0) & (values != 1))
    if bad.size:
        row, col = divmod(int(bad[0]), layout.width)
        raise UsageError(f"{path}: the prediction of shot {row}, observable {col} is "
                         f"{int(values[bad[0]])}, not 0 or 1")


@dataclass(frozen=True)
class CompiledPredictions:
    """The file's rows, read a block at a time by position."""

    path: str
    fmt: str
    num_observables: int
    layout: _Layout

    def decode_block(self, dets: np.ndarray, start: int) -> np.ndarray:
        n = int(dets.shape[0])
        if start < 0 or start + n > self.layout.rows:
            raise IntegrityError(f"{self.path} holds {self.layout.rows} rows of predictions; shots "
                                 f"{start}..{start + n - 1} were asked for")
        if self.fmt != "bin":
            from verifier.qec.shotdata import read_records

            return read_records(Path(self.path), self.fmt, self.num_observables, start, n)
        lay = self.layout
        item = 4 if lay.dtype == "int32" else 1
        values = np.fromfile(self.path, dtype="<i4" if lay.dtype == "int32" else np.uint8,
                             count=n * lay.width, offset=lay.offset + start * lay.width * item)
        return np.packbits(values.reshape(n, lay.width).astype(bool), axis=1, bitorder="little")

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        raise UsageError(f"predictions:{Path(self.path).name} holds predictions of the workload's "
                         "own shots, by position: it cannot decode other syndromes (latency or "
                         "fault probes, sinter)")


@dataclass(frozen=True)
class PredictionsDecoder:
    """Predictions made elsewhere, as a Decoder (``verifier.qec.decoder``)."""

    # where it was read; the sha256 is its identity. Not ``path``: reports take a decoder
    # with a ``path`` for an ONNX file to inspect
    file: str = field(compare=False)
    sha256: str
    fmt: str
    name: str = field(compare=False)
    decodes_any_syndrome = False  # verifier.qec.decoder.is_precomputed

    @classmethod
    def from_spec(cls, spec: str) -> "PredictionsDecoder":
        fmt, path = parse_spec(spec)
        return cls(str(path.resolve()), sha256_file(path), fmt, f"{PREFIX}{path.name}")

    @property
    def model_sha256(self) -> str:
        return self.sha256

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "predictions", "sha256": self.sha256, "format": self.fmt}

    def _layout_for(self, workload) -> _Layout:
        path = Path(self.file)
        if not path.is_file():
            raise UsageError(f"predictions file not found: {path}")
        return _layout(path, self.fmt, int(workload.num_observables))

    def check(self, workload) -> None:
        """Refuse, before any shot, a file that cannot hold this workload's predictions."""
        n_obs = int(workload.num_observables)
        lay = self._layout_for(workload)
        if lay.width != n_obs:
            raise UsageError(f"{self.name} holds {lay.width} predictions per shot but the workload "
                             f"has {n_obs} observable(s): predictions for another circuit?")
        if lay.rows != workload.shots:
            raise UsageError(f"{self.name} holds {lay.rows:,} rows of predictions but the workload has "
                             f"{workload.shots:,} shots: one row per shot, in the workload's order")
        _check_values(Path(self.file), self.fmt, lay)

    def compile_for(self, workload) -> CompiledPredictions:
        if sha256_file(self.file) != self.sha256:
            raise IntegrityError(f"{self.file} changed since it was named (sha256 differs)")
        return CompiledPredictions(self.file, self.fmt, int(workload.num_observables),
                                   self._layout_for(workload))
