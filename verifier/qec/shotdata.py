"""Shot data on disk, read a block at a time into the bit-packed layout of
``verifier.qec.workload``:

- stim's ``b8``, ``01`` and ``dets`` files (those of Google's published data). A ``dets``
  file may carry the observables too, as ``L<k>`` tokens after the detectors (stim's
  ``append_observables``, Ising's ``samples_X.dets``): :func:`read_shots` splits them.
- Ising's ``.bin`` arrays (``ising-bin``): an 8-byte header of two little-endian 32-bit
  integers (rows, columns), then ``rows x columns`` values, int32 for shots and
  predictions (uint8 for its pre-decoder outputs), each 0 or 1, row-major.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from verifier.errors import UsageError

DATA_FORMATS = ("b8", "01", "dets", "ising-bin")
_SUFFIXES = {"b8": "b8", "01": "01", "dets": "dets", "bin": "ising-bin"}
BIN_HEADER_BYTES = 8
_BIN_DTYPES = {4: np.dtype("<i4"), 1: np.dtype("u1")}


def format_from_suffix(path: Path) -> str:
    suffix = Path(path).suffix.lstrip(".")
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise UsageError(f"cannot tell the format of {path} from its name: give --data-format "
                     f"({'|'.join(DATA_FORMATS)})")


def _record_bytes(fmt: str, width: int) -> int:
    return (width + 7) // 8 if fmt == "b8" else width + 1


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(bits, dtype=bool), axis=1, bitorder="little")


# -- Ising's .bin ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BinHeader:
    """What an Ising ``.bin`` file declares, once its size agrees with it."""
    rows: int
    cols: int
    itemsize: int  # 4: int32 values, 1: uint8 values

    @property
    def dtype(self) -> np.dtype:
        return _BIN_DTYPES[self.itemsize]


def bin_header(path: Path) -> BinHeader:
    """The header of an Ising ``.bin`` file; refused unless the file holds exactly
    ``rows x cols`` int32 (or uint8) values after it."""
    path = Path(path)
    size = path.stat().st_size
    if size < BIN_HEADER_BYTES:
        raise UsageError(f"{path}: {size} bytes, shorter than the 8-byte header (rows, columns) of "
                         "an Ising .bin file")
    with open(path, "rb") as f:
        rows, cols = (int(v) for v in np.frombuffer(f.read(BIN_HEADER_BYTES), dtype="<u4"))
    body = size - BIN_HEADER_BYTES
    cells = rows * cols
    for itemsize in _BIN_DTYPES:
        if body == cells * itemsize and (cells or body == 0):
            return BinHeader(rows, cols, itemsize)
    raise UsageError(f"{path}: the header says {rows} x {cols} values but {body} bytes follow it "
                     f"(int32 needs {cells * 4}): not an Ising .bin file, or truncated")


def _read_bin(path: Path, width: int, start: int, count: int) -> np.ndarray:
    h = bin_header(path)
    _check_bin_width(path, h, width)
    if start + count > h.rows:
        raise UsageError(f"{path}: ends before record {start + count} (the file changed or is truncated)")
    if count == 0 or width == 0:
        return np.zeros((count, (width + 7) // 8), np.uint8)
    mm = np.memmap(path, dtype=h.dtype, mode="r", offset=BIN_HEADER_BYTES, shape=(h.rows, h.cols))
    block = np.asarray(mm[start:start + count])
    bad = np.flatnonzero((block != 0) & (block != 1))
    if len(bad):
        row, col = divmod(int(bad[0]), width)
        raise UsageError(f"{path}: record {start + row} holds {int(block[row, col])} in column {col}: "
                         "shot data must be 0 or 1")
    return _pack(block)


def _check_bin_width(path: Path, h: BinHeader, width: int) -> None:
    if h.cols != width:
        raise UsageError(f"{path}: {h.cols} values per record (its header), expected {width}: wrong "
                         "circuit or file?")


# -- stim dets ------------------------------------------------------------------------------


def _dets_line_starts(path: Path) -> np.ndarray:
    st = Path(path).stat()
    return _line_starts_cached(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


_CHUNK = 1 << 24  # bytes scanned at a time: a file of any size in bounded memory


@lru_cache(maxsize=8)
def _line_starts_cached(path: str, mtime_ns: int, size: int) -> np.ndarray:
    # cached per file version: a workload reads a 'dets' file block by block, and each
    # block needs the byte offsets of its lines
    ends = []
    with open(path, "rb") as f:
        for offset in range(0, size, _CHUNK):
            chunk = np.frombuffer(f.read(_CHUNK), dtype=np.uint8)
            ends.append(np.flatnonzero(chunk == ord("\n")) + offset)
    ends = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    if size and (len(ends) == 0 or ends[-1] != size - 1):
        raise UsageError(f"{path}: the last 'dets' record does not end with a newline")
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.zeros(0, np.int64)
    starts.setflags(write=False)
    return starts


def observables_in_dets(path: Path) -> bool:
    """Whether a ``dets`` file names observables (``L<k>`` tokens): then it holds the
    observables of its shots after the detectors, and no separate observables file is needed."""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            if b"L" in chunk:
                return True
    return False


def _dets_bits(path: Path, start: int, count: int, shapes: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Lines ``start .. start+count`` of a ``dets`` file parsed by stim, unpacked, with the
    first (num_detectors, num_observables) of ``shapes`` that stim accepts."""
    import tempfile

    import stim

    starts = _dets_line_starts(path)
    if start + count > len(starts):
        raise UsageError(f"{path}: ends before record {start + count} (the file changed or is truncated)")
    lo = int(starts[start]) if count else 0
    hi = int(starts[start + count]) if start + count < len(starts) else Path(path).stat().st_size
    with open(path, "rb") as f:
        f.seek(lo)
        piece = f.read(hi - lo if count else 0)
    with tempfile.NamedTemporaryFile(suffix=".dets") as tmp:
        tmp.write(piece)
        tmp.flush()
        err = ""
        for nd, no in shapes:
            try:
                data = stim.read_shot_data_file(path=tmp.name, format="dets", num_detectors=nd,
                                                num_observables=no, bit_packed=False)
                break
            except Exception as e:  # stim raises ValueError/RuntimeError with long text
                err = (str(e).strip().splitlines() or [type(e).__name__])[0]
        else:
            raise UsageError(f"{path}: not valid 'dets' data for {' or '.join(_shape_words(s) for s in shapes)}: "
                             f"{err}")
    data = np.asarray(data, dtype=bool)
    if data.shape[0] != count:
        raise UsageError(f"{path}: lines {start + 1}..{start + count} hold {data.shape[0]} 'dets' records "
                         f"instead of {count}: every line must be one 'shot ...' record")
    return data


def _shape_words(shape: tuple[int, int]) -> str:
    nd, no = shape
    return f"{nd} detectors" + (f" and {no} observables" if no else "") if nd else f"{no} observables"


# -- one interface over the formats ---------------------------------------------------------


def count_records(path: Path, fmt: str, width: int) -> int:
    """Shots in a file of ``width`` bits per record (for ``dets``, the number of lines,
    whatever the width)."""
    path = Path(path)
    if fmt == "dets":
        return len(_dets_line_starts(path))
    if fmt == "ising-bin":
        h = bin_header(path)
        _check_bin_width(path, h, width)
        return h.rows
    size = path.stat().st_size
    rec = _record_bytes(fmt, width)
    if width == 0 and fmt == "b8":
        raise UsageError(f"{path}: b8 data with zero-width records cannot be counted")
    if size % rec:
        raise UsageError(f"{path} is {size} bytes, not a whole number of {fmt} records of "
                         f"{width} bits ({rec} bytes each): wrong circuit or format?")
    return size // rec


def read_records(path: Path, fmt: str, width: int, start: int, count: int) -> np.ndarray:
    """Records ``start .. start+count`` of a shot-data file, bit-packed little-endian. A
    ``dets`` record names either detectors (``D<k>``) or observables (``L<k>``), not both
    (for both, :func:`read_shots`)."""
    path = Path(path)
    nbytes = (width + 7) // 8
    if fmt == "b8":
        with open(path, "rb") as f:
            f.seek(start * nbytes)
            raw = f.read(count * nbytes)
        if len(raw) != count * nbytes:
            raise UsageError(f"{path}: ends before record {start + count} (the file changed or is truncated)")
        out = np.frombuffer(raw, dtype=np.uint8).reshape(count, nbytes).copy()
        if width % 8 and count and np.any(out[:, -1] >> (width % 8)):
            raise UsageError(f"{path}: a b8 record sets bits beyond its {width} bits: wrong circuit or "
                             "format?")
        return out
    if fmt == "01":
        rec = width + 1
        with open(path, "rb") as f:
            f.seek(start * rec)
            raw = f.read(count * rec)
        if len(raw) != count * rec:
            raise UsageError(f"{path}: ends before record {start + count} (the file changed or is truncated)")
        raw = np.frombuffer(raw, dtype=np.uint8).reshape(count, rec)
        if np.any(raw[:, width] != ord("\n")):
            raise UsageError(f"{path}: a '01' record is not {width} characters and a newline")
        bits = raw[:, :width] - ord("0")
        if np.any(bits > 1):
            raise UsageError(f"{path}: a '01' record holds a character other than 0 or 1")
        return _pack(bits)
    if fmt == "ising-bin":
        return _read_bin(path, width, start, count)
    if fmt == "dets":
        # a detector file writes D<k> tokens, an observable file L<k> tokens
        return _pack(_dets_bits(path, start, count, ((width, 0), (0, width))))
    raise UsageError(f"data format must be one of {', '.join(DATA_FORMATS)}, got {fmt!r}")


def read_shots(path: Path, fmt: str, num_detectors: int, num_observables: int, start: int,
               count: int) -> tuple[np.ndarray, np.ndarray]:
    """Records ``start .. start+count`` of a file that holds each shot's observables after
    its detectors (stim's ``append_observables``): (detectors, observables), bit-packed.
    Count such a file with ``count_records(path, fmt, num_detectors + num_observables)``."""
    nd, no = num_detectors, num_observables
    if fmt == "dets":
        bits = _dets_bits(Path(path), start, count, ((nd, no),))
    elif fmt in ("b8", "01"):
        packed = read_records(path, fmt, nd + no, start, count)
        bits = np.unpackbits(packed, axis=1, count=nd + no, bitorder="little").astype(bool)
    else:
        raise UsageError(f"{path}: {fmt} files keep the observables in a file of their own")
    return _pack(bits[:, :nd]), _pack(bits[:, nd:])
