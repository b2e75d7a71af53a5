"""Run untrusted ONNX inference in a child process with limits.

:class:`SandboxedSession` is a drop-in for an ``onnxruntime.InferenceSession``
(``run(output_names, feeds)``, ``get_inputs()``, ``get_outputs()``, ``get_providers()``):
``open_session`` returns one unless ``SOV_SANDBOX=0``, so every
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
batch (``SOV_BATCH_TIMEOUT_S``) and kills the child when one is exceeded: a time-out is a
:class:`~verifier.errors.ResourceLimit` (exit 2, naming the limit and what to change), not a
verdict on the model; every other failure (memory, crash, malformed reply) is an
:class:`IntegrityError` (exit 4). Data travels over pipes in ``adapters.sandbox_protocol``'s format (never
pickle); the parent checks every reply's dtypes, shapes and sizes before using it. The
child's side is ``adapters.sandbox_child``.
"""

from __future__ import annotations

import os
import signal
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

from adapters.onnx_model import inspect_model, max_tensor_bytes
from adapters.runtime import RuntimeOptions, create_session
from adapters.sandbox_protocol import ALLOWED_DTYPES, Broken, pack, read_message, write_all
from verifier.errors import IntegrityError, ResourceLimit, UsageError
from verifier.hashing import sha256_bytes

DEFAULT_BATCH_TIMEOUT_S = 300.0
DEFAULT_LOAD_TIMEOUT_S = 300.0
INLINE_MODEL_MAX = 1 << 30  # models up to 1 GiB travel as bytes; larger ones by path
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


def _timeout_message(name: str, what: str, timeout: float) -> str:
    """A time-out is a resource limit (exit 2), not a verdict on the model: say which limit
    was hit and what to change."""
    if what == "loading":
        return (f"{name}: resource limit: loading took longer than the limit of {timeout:g} s "
                f"(SOV_LOAD_TIMEOUT_S); the model sandbox was stopped; raise SOV_LOAD_TIMEOUT_S "
                f"if the model is this slow to load")
    return (f"{name}: resource limit: {what} took longer than the limit of {timeout:g} s "
            f"(SOV_BATCH_TIMEOUT_S); the model sandbox was stopped; give a smaller --batch-size "
            f"or raise SOV_BATCH_TIMEOUT_S")


def _node_arg(a: dict) -> NodeArg:
    shape = a.get("shape")
    return NodeArg(str(a["name"]), str(a["type"]),
                   [d if d is None or isinstance(d, (int, str)) else str(d) for d in (shape or [])])


# -- the child process ----------------------------------------------------------------------

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
        parts = pack(header) + ([model_bytes] if model_bytes else [])
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
        code = "from adapters.sandbox_child import main; main()"
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
                write_all(self._to, pack({"op": "close"}), time.monotonic() + 0.5)
            except (TimeoutError, Broken, OSError):
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
            write_all(self._to, parts, deadline)
            reply, arrays = read_message(self._from, deadline, max_payload=self.max_output_bytes)
        except TimeoutError:
            self._finalizer()
            raise ResourceLimit(_timeout_message(self.name, what, timeout)) from None
        except Broken as e:
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
        rows = arrays[0].shape[0] if arrays and arrays[0].ndim else None
        what = f"running a batch of {rows} shots" if rows is not None else "running a batch"
        reply, out = self._call(pack(header, arrays, names), self.batch_timeout, what=what)
        wall = time.perf_counter() - t0
        try:
            self.last_inference_s = float(reply.get("seconds", float("nan")))
        except (TypeError, ValueError):
            self.last_inference_s = float("nan")
        if 0.0 <= self.last_inference_s <= wall:
            self.transport_s += wall - self.last_inference_s
        return out


def open_session(path: str, options: RuntimeOptions, *, sandbox: bool | None = None):
    """An onnxruntime session with only the requested provider; refusals are exit 4.

    By default the session lives in a child process with time and memory limits
    (:class:`SandboxedSession`, same interface); ``SOV_SANDBOX=0`` (or ``sandbox=False``)
    runs it in this process, for trusted models only."""
    if sandbox if sandbox is not None else sandbox_enabled():
        return SandboxedSession(path, options)
    return create_session(path, options)
