"""``--decoder predictions:FILE``: predictions made elsewhere, scored like any decoder.

A lab receives predictions rather than a model: Google's ``obs_flips_predicted_by_*.01``,
Ising's ``pymatching_predictions.bin``, or what a vendor returned for syndromes it was sent
(``sov qec export-syndromes``). The file holds one row per shot of the workload, one
column per observable, in the workload's shot order, so it is read by position: the run
loop gives each block's first shot (``verifier.qec.decoder.PositionalDecoder``).

Formats are those of recorded shots (``verifier.qec.shotdata``), from the suffix or named
(``predictions:FMT:FILE``): stim's ``01`` and ``b8`` (and ``dets``, ``L<k>`` tokens), and
Ising's ``.bin`` (``ising-bin``, also spelled ``bin``: two little-endian int32, rows and
columns, then ``rows x columns`` int32 or uint8 values).

What can be checked that the file belongs to the shots is checked before any shot: its
width against the observables (where the file states it), its rows against the
workload's shots, every value 0 or 1, and (in ``verifier.workflows.syndromes``) the
commitment of an export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verifier.errors import IntegrityError, UsageError
from verifier.hashing import sha256_file
from verifier.qec.shotdata import DATA_FORMATS, bin_header, count_records, format_from_suffix, read_records

PREFIX = "predictions:"
_ALIASES = {"bin": "ising-bin"}
_CHECK_ROWS = 1 << 20  # rows validated at a time: a file of any size in bounded memory


def parse_spec(spec: str) -> tuple[str, Path]:
    """``predictions:FILE`` or ``predictions:FMT:FILE`` -> (format, path)."""
    rest = spec[len(PREFIX):]
    head, sep, tail = rest.partition(":")
    head = _ALIASES.get(head, head)
    if sep and head in DATA_FORMATS:
        fmt, path = head, Path(tail)
    else:
        path = Path(rest)
        try:
            fmt = format_from_suffix(path)
        except UsageError:
            raise UsageError(f"cannot tell the format of the predictions file {path} from its name: "
                             "write predictions:01:FILE, predictions:b8:FILE or predictions:bin:FILE") from None
    if not str(path) or str(path) == ".":
        raise UsageError("give the predictions file: --decoder predictions:FILE")
    if not path.is_file():
        raise UsageError(f"predictions file not found: {path}")
    return fmt, path


def stated_width(path: Path, fmt: str) -> int | None:
    """Predictions per shot as the file states them (a ``01`` line's length, an Ising
    header's columns); None where it does not (``b8``, ``dets``)."""
    if fmt == "ising-bin":
        return bin_header(path).cols
    if fmt == "01":
        with open(path, "rb") as f:
            first = f.readline()
        if not first.endswith(b"\n"):
            raise UsageError(f"{path}: not a '01' file (no line ends with a newline)")
        return len(first) - 1
    return None


@dataclass(frozen=True)
class CompiledPredictions:
    """The file's rows, read a block at a time by position."""

    path: str
    fmt: str
    num_observables: int
    rows: int

    def decode_block(self, dets: np.ndarray, start: int) -> np.ndarray:
        n = int(dets.shape[0])
        if start < 0 or start + n > self.rows:
            raise IntegrityError(f"{self.path} holds {self.rows} rows of predictions; shots "
                                 f"{start}..{start + n - 1} were asked for")
        return read_records(Path(self.path), self.fmt, self.num_observables, start, n)

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

    def _rows(self, workload) -> int:
        """The file's rows, once its stated width is the workload's observables."""
        path, n_obs = Path(self.file), int(workload.num_observables)
        if not path.is_file():
            raise UsageError(f"predictions file not found: {path}")
        width = stated_width(path, self.fmt)
        if width is not None and width != n_obs:
            raise UsageError(f"{self.name} holds {width} predictions per shot but the workload "
                             f"has {n_obs} observable(s): predictions for another circuit?")
        return count_records(path, self.fmt, n_obs)

    def check(self, workload) -> None:
        """Refuse, before any shot, a file that cannot hold this workload's predictions."""
        rows = self._rows(workload)
        if rows != workload.shots:
            raise UsageError(f"{self.name} holds {rows:,} rows of predictions but the workload has "
                             f"{workload.shots:,} shots: one row per shot, in the workload's order")
        for start in range(0, rows, _CHECK_ROWS):  # every value 0 or 1: the readers' own checks
            read_records(Path(self.file), self.fmt, int(workload.num_observables), start,
                         min(_CHECK_ROWS, rows - start))

    def compile_for(self, workload) -> CompiledPredictions:
        if sha256_file(self.file) != self.sha256:
            raise IntegrityError(f"{self.file} changed since it was named (sha256 differs)")
        return CompiledPredictions(self.file, self.fmt, int(workload.num_observables), self._rows(workload))
