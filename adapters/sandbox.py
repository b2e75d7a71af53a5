"""Run untrusted ONNX inference in a child process with limits.

:class:`SandboxedSession` is a drop-in for an ``onnxruntime.InferenceSession``
(``run(output_names, feeds)``, ``get_inputs()``, ``get_outputs()``, ``get_providers()``):
``adapters.onnx_decoder.open_session`` returns one unless ``SOV_SANDBOX=0``, so every
contract runtime (flat, full, grid, calibration) runs its model in the sandbox without
knowing it.

The child process

- loads the model from the bytes the parent checked (``adapters.onnx_model`` ran parse,
  checker, domains, external data and tensor-size checks on them; the parent sends the
  bytes whose sha256 matches what it checked, so the file cannot be swapped in between),
  or, for a model with external data, from its path;
- creates the session with the requested execution provider only (CPU unless the user
  gave ``--provider``) and never registers a custom-operator library;
- runs under ``RLIMIT_AS`` (``SOV_SANDBOX_MEMORY_MB``, default half the machine's memory;
  CPU provider only: GPU runtimes reserve huge address ranges), no core dumps, dies with
  its parent (``PR_SET_PDEATHSIG``) and ignores Ctrl-C (the parent ends it).

The parent enforces a wall-time limit on loading (``SOV_LOAD_TIMEOUT_S``) and on every
batch (``SOV_BATCH_TIMEOUT_S``), kills the child when one is exceeded, and turns every
failure (timeout, memory, crash, malformed reply) into an :class:`IntegrityError`
(exit 4). Data travels over pipes as raw numpy buffers behind a small JSON header --
never pickle, so even a child taken over by a hostile model cannot make the parent run
code; the parent checks every reply's dtypes, shapes and sizes before using it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from verifier.errors import IntegrityError, SovError, UsageError

DEFAULT_BATCH_TIMEOUT_S = 300.0
DEFAULT_LOAD_TIMEOUT_S = 300.0
MAX_HEADER = 1 << 20
INLINE_MODEL_MAX = 1 << 30  # models up to 1 GiB travel as bytes; larger ones by path
# dtypes that may cross the pipe: plain numbers and bools, never objects
ALLOWED_DTYPES = frozenset({"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64",
                            "int64", "float16", "float32", "float64"})
_HDR = struct.Struct("<Q")
PIPE_BYTES = 1 << 20


# -- configuration ----------------------------------------------------------------------------

def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {raw!r}") from None
    if not v > 0:
        raise UsageError(f"{name} must be positive, got {raw!r}")
    return v


def sandbox_enabled() -> bool:
    """False only when the user asked for in-process inference (``SOV_SANDBOX=0``)."""
    return os.environ.get("SOV_SANDBOX", "1").strip().lower() not in ("0", "false", "no", "off")


def batch_timeout_s() -> float:
    return _env_float("SOV_BATCH_TIMEOUT_S", DEFAULT_BATCH_TIMEOUT_S)


def load_timeout_s() -> float:
    return _env_float("SOV_LOAD_TIMEOUT_S", DEFAULT_LOAD_TIMEOUT_S)


def memory_limit_bytes() -> int | None:
    """Address-space limit of the child; ``SOV_SANDBOX_MEMORY_MB=0`` disables it."""
    raw = os.environ.get("SOV_SANDBOX_MEMORY_MB")
    if raw is not None and raw.strip() == "0":
        return None
    if raw:
        return int(_env_float("SOV_SANDBOX_MEMORY_MB", 0) * 2**20)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 << 30
    return max(2 << 30, total // 2)


@dataclass(frozen=True)
class NodeArg:
    """What ``InferenceSession.get_inputs()`` returns, as plain data."""

    name: str
    type: str
    shape: list


def _node_arg(a: dict) -> NodeArg:
    shape = a.get("shape")
    return NodeArg(str(a["name"]), str(a["type"]),
                   [d if d is None or isinstance(d, (int, str)) else str(d) for d in (shape or [])])


# -- framing (both sides) ---------------------------------------------------------------------

def _pack(header: dict, arrays: Sequence[np.ndarray] = (), names: Sequence[str] = ()) -> list[bytes | memoryview]:
    header = dict(header)
    arrays = [np.ascontiguousarray(a) for a in arrays]
    if arrays:
        names = list(names) or [""] * len(arrays)
        header["arrays"] = [{"name": n, "dtype": a.dtype.name, "shape": list(a.shape),
                             "nbytes": int(a.nbytes)} for n, a in zip(names, arrays)]
    text = json.dumps(header).encode()
    parts: list[bytes | memoryview] = [_HDR.pack(len(text)), text]
    for a in arrays:
        if a.nbytes:
            parts.append(memoryview(a.reshape(-1)).cast("B"))
    return parts


class _Broken(Exception):
    """The other side closed the pipe, sent junk, or ran out of time."""


def _read_exact(fd: int, n: int, deadline: float | None, buf: bytearray | None = None) -> bytearray:
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
            raise _Broken("closed")
        pos += got
    return out


def _write_all(fd: int, parts: Sequence[bytes | memoryview], deadline: float | None) -> None:
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
                raise _Broken("closed") from None


def _read_message(fd: int, deadline: float | None, *, max_payload: int) -> tuple[dict, list[np.ndarray]]:
    (size,) = _HDR.unpack(bytes(_read_exact(fd, _HDR.size, deadline)))
    if size > MAX_HEADER:
        raise _Broken(f"header of {size} bytes")
    try:
        header = json.loads(bytes(_read_exact(fd, size, deadline)))
    except ValueError:
        raise _Broken("unreadable header") from None
    if not isinstance(header, dict):
        raise _Broken("header is not an object")
    specs = header.get("arrays") or []
    if not isinstance(specs, list):
        raise _Broken("bad array list")
    arrays: list[np.ndarray] = []
    total = 0
    for spec in specs:
        try:
            dtype = str(spec["dtype"])
            shape = tuple(int(d) for d in spec["shape"])
            nbytes = int(spec["nbytes"])
        except (KeyError, TypeError, ValueError):
            raise _Broken("bad array header") from None
        if dtype not in ALLOWED_DTYPES:
            raise _Broken(f"array of dtype {dtype!r}")
        if any(d < 0 for d in shape) or nbytes < 0:
            raise _Broken("negative size")
        count = 1
        for d in shape:
            count *= d
        if count * np.dtype(dtype).itemsize != nbytes:
            raise _Broken("array size does not match its shape")
        total += nbytes
        if total > max_payload:
            raise _Broken(f"{total} bytes of output, above the limit of {max_payload}")
        data = _read_exact(fd, nbytes, deadline)
        arrays.append(np.frombuffer(data, dtype=dtype).reshape(shape))
    return header, arrays


# -- parent side ------------------------------------------------------------------------------

def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        pass


def _close_fds(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _finalize(proc: subprocess.Popen, fds: tuple[int, int], errfile, owner: int) -> None:
    if os.getpid() != owner:  # a forked copy of the owner: the child is not ours to end
        return
    _kill(proc)
    _close_fds(*fds)
    try:
        errfile.close()
    except Exception:
        pass


class SandboxedSession:
    """An onnxruntime session living in a child process (see the module docstring)."""

    def __init__(self, path: str, options: Any, *, batch_timeout: float | None = None,
                 load_timeout: float | None = None, memory_bytes: int | None = -1):
        from adapters.onnx_model import inspect_model, max_tensor_bytes

        self.path = str(path)
        self.name = Path(path).name
        self.batch_timeout = batch_timeout if batch_timeout is not None else batch_timeout_s()
        load_timeout = load_timeout if load_timeout is not None else load_timeout_s()
        self.memory_bytes = memory_limit_bytes() if memory_bytes == -1 else memory_bytes
        if getattr(options, "provider", "cpu") != "cpu":
            self.memory_bytes = None
        self.max_output_bytes = 4 * max_tensor_bytes()
        info = inspect_model(self.path)  # the parent's checks (cached); raises exit 2/4
        model_bytes: bytes | None = None
        if not info.external_data and info.size_bytes <= INLINE_MODEL_MAX:
            from verifier.hashing import sha256_bytes

            try:
                model_bytes = Path(self.path).read_bytes()
            except OSError as e:
                raise UsageError(f"cannot read model file {self.path}: {e.strerror}") from None
            if sha256_bytes(model_bytes) != info.sha256:
                raise IntegrityError(f"{self.name} changed on disk while it was being loaded "
                                     "(sha256 mismatch)")
        self._start()
        opts = {k: getattr(options, k) for k in ("provider", "threads", "batch_size", "graph_optimization")
                if hasattr(options, k)}
        header = {"op": "open", "path": self.path, "options": opts, "inline": model_bytes is not None,
                  "model_nbytes": len(model_bytes) if model_bytes is not None else 0}
        parts = _pack(header) + ([model_bytes] if model_bytes else [])
        reply, _ = self._call(parts, load_timeout, what="loading")
        try:
            self._inputs = [_node_arg(a) for a in reply.get("inputs", [])]
            self._outputs = [_node_arg(a) for a in reply.get("outputs", [])]
            self._providers = [str(p) for p in reply.get("providers", [])]
        except (TypeError, ValueError, AttributeError):
            self._finalizer()
            raise IntegrityError(f"{self.name}: the model sandbox sent a malformed reply while loading") from None
        self.last_inference_s = float("nan")  # time of the last run() inside the child, no IPC
        self.transport_s = 0.0  # cumulative wall time of run() spent outside the child's inference

    # process management

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._owner = os.getpid()
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        for fd in (p2c_w, c2p_w):  # fewer context switches per batch (Linux only)
            try:
                import fcntl

                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
            except (OSError, ImportError):
                pass
        self._errfile = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        env.pop("ORT_LOAD_CONFIG_FROM_MODEL", None)  # never let a model's metadata configure the runtime
        code = "from adapters.sandbox import _child_main; _child_main()"
        cmd = [sys.executable, "-s", "-c", code, str(p2c_r), str(c2p_w), str(os.getpid())]
        if self.memory_bytes:
            cmd.append(str(self.memory_bytes))
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._errfile,
                                          stderr=self._errfile, pass_fds=(p2c_r, c2p_w), env=env,
                                          close_fds=True)
        except OSError as e:
            _close_fds(p2c_r, p2c_w, c2p_r, c2p_w)
            raise IntegrityError(f"cannot start the model sandbox for {self.name}: {e}") from None
        _close_fds(p2c_r, c2p_w)
        self._to, self._from = p2c_w, c2p_r
        os.set_blocking(self._to, False)
        os.set_blocking(self._from, False)
        self._finalizer = weakref.finalize(self, _finalize, self._proc, (self._to, self._from), self._errfile,
                                           os.getpid())

    @property
    def pid(self) -> int | None:
        return self._proc.pid if getattr(self, "_proc", None) is not None else None

    def close(self) -> None:
        fin = getattr(self, "_finalizer", None)
        if fin is not None and fin.alive:
            try:
                _write_all(self._to, _pack({"op": "close"}), time.monotonic() + 0.5)
            except (TimeoutError, _Broken, OSError):
                pass
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            fin()

    def __enter__(self) -> "SandboxedSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _child_stderr(self) -> str:
        try:
            self._errfile.seek(0)
            text = self._errfile.read()[-4000:].decode(errors="replace")
        except Exception:
            return ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""

    def _died(self, what: str) -> IntegrityError:
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        rc = self._proc.returncode
        tail = self._child_stderr()
        self._finalizer()
        if rc is not None and rc < 0:
            try:
                how = f"signal {signal.Signals(-rc).name}"
            except ValueError:
                how = f"signal {-rc}"
        else:
            how = f"exit status {rc}"
        if rc is not None and -rc == signal.SIGKILL and self.memory_bytes:
            how += " (killed: out of memory?)"
        who = f"{self.name}: " if what == "loading" else ""
        return IntegrityError(f"{who}the model sandbox died while {what} ({how})"
                              + (f": {tail}" if tail else ""))

    def _call(self, parts, timeout: float, *, what: str) -> tuple[dict, list[np.ndarray]]:
        with self._lock:  # one request at a time on the pipes, whatever the caller's threads
            return self._call_locked(parts, timeout, what=what)

    def _call_locked(self, parts, timeout: float, *, what: str) -> tuple[dict, list[np.ndarray]]:
        if os.getpid() != self._owner:
            raise IntegrityError(f"{self.name}: a model sandbox cannot be used from a forked process")
        if not self._finalizer.alive:
            raise IntegrityError(f"{self.name}: the model sandbox was stopped after an earlier failure")
        deadline = time.monotonic() + timeout
        try:
            _write_all(self._to, parts, deadline)
            reply, arrays = _read_message(self._from, deadline, max_payload=self.max_output_bytes)
        except TimeoutError:
            self._finalizer()
            env = "SOV_LOAD_TIMEOUT_S" if what == "loading" else "SOV_BATCH_TIMEOUT_S"
            who = f"{self.name}: " if what == "loading" else ""
            raise IntegrityError(f"{who}{what} took longer than the limit of {timeout:g} s "
                                 f"({env}); the model sandbox was stopped") from None
        except _Broken as e:
            if self._proc.poll() is None and str(e) != "closed":
                self._finalizer()
                raise IntegrityError(f"{self.name}: the model sandbox sent a malformed reply "
                                     f"while {what} ({e})") from None
            raise self._died(what) from None
        if not reply.get("ok"):
            kind = reply.get("kind")
            msg = str(reply.get("message", "unknown failure"))[:400]
            if kind == "usage":
                raise UsageError(msg)
            raise IntegrityError(msg)
        return reply, arrays

    # the InferenceSession interface

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def run(self, output_names: Sequence[str] | None, input_feed: dict[str, Any], run_options=None) -> list[np.ndarray]:
        names, arrays = [], []
        for k, v in input_feed.items():
            a = np.asarray(v)
            if a.dtype.name not in ALLOWED_DTYPES:
                raise UsageError(f"{self.name}: input {k!r} has dtype {a.dtype}, which sov does not feed")
            names.append(str(k))
            arrays.append(np.ascontiguousarray(a))
        header = {"op": "run", "outputs": list(output_names) if output_names else None}
        t0 = time.perf_counter()
        reply, out = self._call(_pack(header, arrays, names), self.batch_timeout, what="running a batch")
        wall = time.perf_counter() - t0
        try:
            self.last_inference_s = float(reply.get("seconds", float("nan")))
        except (TypeError, ValueError):
            self.last_inference_s = float("nan")
        if 0.0 <= self.last_inference_s <= wall:
            self.transport_s += wall - self.last_inference_s
        return out


# -- child side -------------------------------------------------------------------------------

def _child_limits(memory: int | None, parent: int) -> None:
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)
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


def _child_main() -> None:
    r_fd, w_fd, parent = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    memory = int(sys.argv[4]) if len(sys.argv) > 4 else None
    _child_limits(memory, parent)

    def send(header: dict, arrays: Sequence[np.ndarray] = (), names: Sequence[str] = ()) -> None:
        _write_all(w_fd, _pack(header, arrays, names), None)

    def fail(kind: str, message: str) -> None:
        send({"ok": False, "kind": kind, "message": message})

    def mem_note(text: str) -> str:
        import re

        low = text.lower()
        if "failed to allocate" in low or "bad_alloc" in low or "out of memory" in low:
            size = re.search(r"size\s+(\d+)", text)
            what = f"allocating {int(size.group(1)):,} bytes failed" if size else "an allocation failed"
            limit = (f"the sandbox memory limit of {memory / 2**20:.0f} MiB (SOV_SANDBOX_MEMORY_MB)"
                     if memory else "the machine's memory")
            return f"ran out of memory: {what} under {limit}"
        return text

    session = None
    name = "model"
    while True:
        try:
            header, arrays = _read_message(r_fd, None, max_payload=1 << 62)
        except (_Broken, OSError):
            os._exit(0)
        op = header.get("op")
        try:
            if op == "close":
                os._exit(0)
            if op == "open":
                from adapters.onnx_decoder import RuntimeOptions, open_session

                path = str(header["path"])
                name = Path(path).name
                model: Any = None
                if header.get("inline"):
                    model = bytes(_read_exact(r_fd, int(header["model_nbytes"]), None))
                opts = RuntimeOptions(**header.get("options", {}))
                try:
                    session = open_session(path, opts, sandbox=False, model_bytes=model)
                except MemoryError:
                    raise IntegrityError(f"{name}: " + mem_note("out of memory while loading")) from None
                except IntegrityError as e:
                    msg = mem_note(str(e))
                    raise IntegrityError(msg if msg == str(e) else f"{name}: {msg}") from None
                send({"ok": True, "op": "open",
                      "inputs": [{"name": a.name, "type": a.type, "shape": list(a.shape)}
                                 for a in session.get_inputs()],
                      "outputs": [{"name": a.name, "type": a.type, "shape": list(a.shape)}
                                  for a in session.get_outputs()],
                      "providers": list(session.get_providers())})
            elif op == "run":
                if session is None:
                    raise IntegrityError("no model loaded")
                feed_names = [str(s.get("name", "")) for s in header.get("arrays", [])]
                feeds = dict(zip(feed_names, arrays))
                t0 = time.perf_counter()
                try:
                    outs = session.run(header.get("outputs"), feeds)
                except MemoryError:
                    raise IntegrityError(mem_note("out of memory")) from None
                except Exception as e:
                    msg = mem_note(str(e))
                    raise IntegrityError(msg if msg != str(e) else _first_line(e)) from None
                result = []
                for i, y in enumerate(outs):
                    if not isinstance(y, np.ndarray) or y.dtype.name not in ALLOWED_DTYPES:
                        raise IntegrityError(f"output {i} is not a numeric tensor ({type(y).__name__})")
                    result.append(np.ascontiguousarray(y))
                send({"ok": True, "op": "run", "seconds": time.perf_counter() - t0}, result,
                     [f"out{i}" for i in range(len(result))])
            else:
                raise IntegrityError(f"unknown sandbox request {op!r}")
        except UsageError as e:
            fail("usage", str(e))
        except SovError as e:
            fail("integrity", str(e))
        except MemoryError:
            fail("integrity", mem_note("out of memory"))
        except (_Broken, OSError):
            os._exit(0)
        except Exception as e:
            fail("integrity", mem_note(f"{type(e).__name__}: {_first_line(e)}"))
