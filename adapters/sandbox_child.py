"""The sandbox's child process: one onnxruntime session, under limits, serving the parent.

Started by ``adapters.sandbox.SandboxedSession`` as ``python -s -c`` with the pipe file
descriptors, the parent's pid and the memory limit on its command line. It imports only
the wire format and ``adapters.runtime``, so a hostile model meets as little of sov as
possible. Every failure goes back to the parent as a reply (``usage`` or ``integrity``);
a broken pipe ends the child.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from adapters.runtime import RuntimeOptions, create_session
from adapters.sandbox_protocol import ALLOWED_DTYPES, Broken, pack, read_exact, read_message, write_all
from verifier.errors import IntegrityError, SovError, UsageError


def _child_limits(memory: int | None, parent: int) -> None:
    import resource

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # the parent decides; PR_SET_PDEATHSIG ends us with it
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent:  # the parent died before we got here
        os._exit(0)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    if memory:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return (lines[0] if lines else type(e).__name__)[:300]


def _mem_note(text: str, memory: int | None) -> str:
    """An allocation failure said in the user's terms (which limit it ran into)."""
    import re

    low = text.lower()
    if "failed to allocate" in low or "bad_alloc" in low or "out of memory" in low:
        size = re.search(r"size\s+(\d+)", text)
        what = f"allocating {int(size.group(1)):,} bytes failed" if size else "an allocation failed"
        limit = (f"the sandbox memory limit of {memory / 2**20:.0f} MiB (SOV_SANDBOX_MEMORY_MB)"
                 if memory else "the machine's memory")
        return f"ran out of memory: {what} under {limit}"
    return text


def _open(header: dict, r_fd: int, memory: int | None):
    """The session for an ``open`` request, and the reply that describes it."""
    path = str(header["path"])
    name = Path(path).name
    model: Any = None
    if header.get("inline"):
        model = bytes(read_exact(r_fd, int(header["model_nbytes"]), None))
    opts = RuntimeOptions(**header.get("options", {}))
    try:
        session = create_session(path, opts, model_bytes=model)
    except MemoryError:
        raise IntegrityError(f"{name}: " + _mem_note("out of memory while loading", memory)) from None
    except IntegrityError as e:
        msg = _mem_note(str(e), memory)
        raise IntegrityError(msg if msg == str(e) else f"{name}: {msg}") from None
    reply = {"ok": True, "op": "open",
             "inputs": [{"name": a.name, "type": a.type, "shape": list(a.shape)}
                        for a in session.get_inputs()],
             "outputs": [{"name": a.name, "type": a.type, "shape": list(a.shape)}
                         for a in session.get_outputs()],
             "providers": list(session.get_providers())}
    return session, reply


def _run(session, header: dict, arrays: Sequence[np.ndarray], memory: int | None):
    """The reply and output arrays of a ``run`` request."""
    if session is None:
        raise IntegrityError("no model loaded")
    feed_names = [str(s.get("name", "")) for s in header.get("arrays", [])]
    feeds = dict(zip(feed_names, arrays))
    t0 = time.perf_counter()
    try:
        outs = session.run(header.get("outputs"), feeds)
    except MemoryError:
        raise IntegrityError(_mem_note("out of memory", memory)) from None
    except Exception as e:
        msg = _mem_note(str(e), memory)
        raise IntegrityError(msg if msg != str(e) else _first_line(e)) from None
    result = []
    for i, y in enumerate(outs):
        if not isinstance(y, np.ndarray) or y.dtype.name not in ALLOWED_DTYPES:
            raise IntegrityError(f"output {i} is not a numeric tensor ({type(y).__name__})")
        result.append(np.ascontiguousarray(y))
    return {"ok": True, "op": "run", "seconds": time.perf_counter() - t0}, result


def main() -> None:
    r_fd, w_fd, parent = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    memory = int(sys.argv[4]) if len(sys.argv) > 4 else None
    _child_limits(memory, parent)

    def send(header: dict, arrays: Sequence[np.ndarray] = ()) -> None:
        write_all(w_fd, pack(header, arrays, [f"out{i}" for i in range(len(arrays))]), None)

    def fail(kind: str, message: str) -> None:
        send({"ok": False, "kind": kind, "message": message})

    session = None
    while True:
        try:
            header, arrays = read_message(r_fd, None, max_payload=1 << 62)
        except (Broken, OSError):
            os._exit(0)
        op = header.get("op")
        try:
            if op == "close":
                os._exit(0)
            if op == "open":
                session, reply = _open(header, r_fd, memory)
                send(reply)
            elif op == "run":
                send(*_run(session, header, arrays, memory))
            else:
                raise IntegrityError(f"unknown sandbox request {op!r}")
        except UsageError as e:
            fail("usage", str(e))
        except SovError as e:
            fail("integrity", str(e))
        except MemoryError:
            fail("integrity", _mem_note("out of memory", memory))
        except (Broken, OSError):
            os._exit(0)
        except Exception as e:
            fail("integrity", _mem_note(f"{type(e).__name__}: {_first_line(e)}", memory))
