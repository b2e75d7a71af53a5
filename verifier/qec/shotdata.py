"""Shot data on disk: stim's ``b8``, ``01`` and ``dets`` files (those of Google's published
data), read a block at a time into the bit-packed layout of ``verifier.qec.workload``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verifier.errors import UsageError

DATA_FORMATS = ("b8", "01", "dets")


def format_from_suffix(path: Path) -> str:
    suffix = path.suffix.lstrip(".")
    if suffix in DATA_FORMATS:
        return suffix
    raise UsageError(f"cannot tell the format of {path} from its name: give --data-format "
                     f"({'|'.join(DATA_FORMATS)})")


def _record_bytes(fmt: str, width: int) -> int:
    return (width + 7) // 8 if fmt == "b8" else width + 1


def count_records(path: Path, fmt: str, width: int) -> int:
    size = path.stat().st_size
    if fmt == "dets":
        return len(_dets_line_starts(path))
    rec = _record_bytes(fmt, width)
    if width == 0 and fmt == "b8":
        raise UsageError(f"{path}: b8 data with zero-width records cannot be counted")
    if size % rec:
        raise UsageError(f"{path} is {size} bytes, not a whole number of {fmt} records of "
                         f"{width} bits ({rec} bytes each): wrong circuit or format?")
    return size // rec


def _dets_line_starts(path: Path) -> np.ndarray:
    mm = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
    ends = np.flatnonzero(mm == ord("\n"))
    if len(mm) and (len(ends) == 0 or ends[-1] != len(mm) - 1):
        raise UsageError(f"{path}: the last 'dets' record does not end with a newline")
    return np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.zeros(0, np.int64)


def read_records(path: Path, fmt: str, width: int, start: int, count: int) -> np.ndarray:
    """Records ``start .. start+count`` of a stim shot-data file, bit-packed little-endian."""
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
            raw = np.frombuffer(f.read(count * rec), dtype=np.uint8).reshape(count, rec)
        if np.any(raw[:, width] != ord("\n")):
            raise UsageError(f"{path}: a '01' record is not {width} characters and a newline")
        bits = raw[:, :width] - ord("0")
        if np.any(bits > 1):
            raise UsageError(f"{path}: a '01' record holds a character other than 0 or 1")
        return np.packbits(bits.astype(bool), axis=1, bitorder="little")
    # dets: variable-length lines; let stim parse exactly this slice
    import tempfile

    import stim

    starts = _dets_line_starts(path)
    lo = int(starts[start])
    hi = int(starts[start + count]) if start + count < len(starts) else path.stat().st_size
    with open(path, "rb") as f:
        f.seek(lo)
        piece = f.read(hi - lo)
    with tempfile.NamedTemporaryFile(suffix=".dets") as tmp:
        tmp.write(piece)
        tmp.flush()
        # a 'dets' detector file writes D<k> tokens, an observable file L<k> tokens
        data, err = None, ""
        for nd, no in ((width, 0), (0, width)):
            try:
                data = stim.read_shot_data_file(path=tmp.name, format="dets", num_detectors=nd,
                                                num_observables=no, bit_packed=True)
                break
            except Exception as e:  # stim raises ValueError/RuntimeError with long text
                err = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if data is None:
            raise UsageError(f"{path}: not valid 'dets' data for {width} bits: {err}")
    data = np.asarray(data, dtype=np.uint8)
    if data.shape != (count, nbytes):
        raise UsageError(f"{path}: lines {start + 1}..{start + count} hold {data.shape[0]} 'dets' records "
                         f"instead of {count}: every line must be one 'shot ...' record")
    return data
