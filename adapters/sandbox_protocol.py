"""The sandbox's wire format, shared by the parent (``adapters.sandbox``) and the child
(``adapters.sandbox_child``): a length-prefixed JSON header, then raw numpy buffers.

Never pickle: even a child taken over by a hostile model cannot make the parent run
code, and every array header is checked (dtype whitelist, shape against byte count,
total size against a limit) before a byte of its data is read.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Sequence

import numpy as np

MAX_HEADER = 1 << 20
# dtypes that may cross the pipe: plain numbers and bools, never objects
ALLOWED_DTYPES = frozenset({"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64",
                            "int64", "float16", "float32", "float64"})
LENGTH_PREFIX = struct.Struct("<Q")  # byte length of the JSON header that follows


def pack(header: dict, arrays: Sequence[np.ndarray] = (), names: Sequence[str] = ()) -> list[bytes | memoryview]:
    header = dict(header)
    arrays = [np.ascontiguousarray(a) for a in arrays]
    if arrays:
        names = list(names) or [""] * len(arrays)
        header["arrays"] = [{"name": n, "dtype": a.dtype.name, "shape": list(a.shape),
                             "nbytes": int(a.nbytes)} for n, a in zip(names, arrays)]
    text = json.dumps(header).encode()
    parts: list[bytes | memoryview] = [LENGTH_PREFIX.pack(len(text)), text]
    for a in arrays:
        if a.nbytes:
            parts.append(memoryview(a.reshape(-1)).cast("B"))
    return parts


class Broken(Exception):
    """The other side closed the pipe, sent junk, or ran out of time."""


def read_exact(fd: int, n: int, deadline: float | None, buf: bytearray | None = None) -> bytearray:
    out = buf if buf is not None else bytearray(n)
    view = memoryview(out)
    pos = 0
    while pos < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                raise TimeoutError
        try:
            got = os.readv(fd, [view[pos:n]])
        except BlockingIOError:
            continue
        except InterruptedError:
            continue
        if got == 0:
            raise Broken("closed")
        pos += got
    return out


def write_all(fd: int, parts: Sequence[bytes | memoryview], deadline: float | None) -> None:
    for part in parts:
        view = memoryview(part).cast("B") if not isinstance(part, bytes) else memoryview(part)
        pos = 0
        while pos < len(view):
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                _, w, _ = select.select([], [fd], [], left)
                if not w:
                    raise TimeoutError
            try:
                pos += os.write(fd, view[pos:pos + (1 << 20)])
            except BlockingIOError:
                continue
            except InterruptedError:
                continue
            except BrokenPipeError:
                raise Broken("closed") from None


def read_message(fd: int, deadline: float | None, *, max_payload: int) -> tuple[dict, list[np.ndarray]]:
    (size,) = LENGTH_PREFIX.unpack(bytes(read_exact(fd, LENGTH_PREFIX.size, deadline)))
    if size > MAX_HEADER:
        raise Broken(f"header of {size} bytes")
    try:
        header = json.loads(bytes(read_exact(fd, size, deadline)))
    except ValueError:
        raise Broken("unreadable header") from None
    if not isinstance(header, dict):
        raise Broken("header is not an object")
    specs = header.get("arrays") or []
    if not isinstance(specs, list):
        raise Broken("bad array list")
    arrays: list[np.ndarray] = []
    total = 0
    for spec in specs:
        try:
            dtype = str(spec["dtype"])
            shape = tuple(int(d) for d in spec["shape"])
            nbytes = int(spec["nbytes"])
        except (KeyError, TypeError, ValueError):
            raise Broken("bad array header") from None
        if dtype not in ALLOWED_DTYPES:
            raise Broken(f"array of dtype {dtype!r}")
        if any(d < 0 for d in shape) or nbytes < 0:
            raise Broken("negative size")
        count = 1
        for d in shape:
            count *= d
        if count * np.dtype(dtype).itemsize != nbytes:
            raise Broken("array size does not match its shape")
        total += nbytes
        if total > max_payload:
            raise Broken(f"{total} bytes of output, above the limit of {max_payload}")
        data = read_exact(fd, nbytes, deadline)
        arrays.append(np.frombuffer(data, dtype=dtype).reshape(shape))
    return header, arrays

