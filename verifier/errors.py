"""The errors sov raises on purpose, each carrying the exit code sov ends with.

Exit codes (the one table of them): 0 pass, 1 gate failed, 2 usage or input error (or a
resource limit such as a batch time-out), 3 inconclusive, 4 integrity failure (corrupt or
unsafe model, NaN outputs, hash mismatch); stopped by a signal, 128 + its number: 129 SIGHUP,
130 SIGINT (Ctrl-C), 143 SIGTERM.

Ctrl-C (SIGINT), SIGTERM and SIGHUP take one path: while :func:`stop_on_signals` is in force,
the first of them raises :class:`Terminated` in the main thread, wherever it is, so that every
``finally`` on the way up runs and the store records the run as incomplete. (A plain
``KeyboardInterrupt`` would not do: typer turns it into a silent exit 130.) A signal the
process was started with set to be ignored (``nohup``, a background job) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from enum import IntEnum
from typing import Iterator


class ExitCode(IntEnum):
    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    INCONCLUSIVE = 3
    INTEGRITY = 4


class SovError(Exception):
    """Base of every error sov reports to a user as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(SovError):
    """Bad flag, missing file, a model that does not fit the workload (exit 2)."""

    exit_code = ExitCode.USAGE


class IntegrityError(SovError):
    """Corrupt or unsafe model, NaN/Inf outputs, hash mismatch (exit 4)."""

    exit_code = ExitCode.INTEGRITY


class StoreError(SovError):
    """The DuckDB store cannot be opened or written (exit 2: an input problem)."""

    exit_code = ExitCode.USAGE


class ResourceLimit(SovError):
    """A limit of this machine or of sov's sandbox was hit (a batch or a load took longer
    than its time limit): not a verdict on the model (exit 2; the run's status is ``error``)."""

    exit_code = ExitCode.USAGE


class Terminated(BaseException):
    """Stopped by Ctrl-C, SIGTERM or SIGHUP (exit 128 + the signal's number: 130, 143, 129);
    not an ``Exception``, so no ``except Exception`` on the way up swallows it."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        super().__init__("interrupted" if self.signum == signal.SIGINT
                         else f"terminated ({signal_name(self.signum)})")


def first_line(e: BaseException) -> str:
    """The first line of a library's error message (at most 200 characters, no final
    period), for a one-line refusal."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200].rstrip(".")


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
# the first stop signal received (0: none), and how many sections defer it
_SIGNALS = {"got": 0, "deferred": 0}


def _on_stop_signal(signum: int, _frame) -> None:
    if _SIGNALS["got"]:  # the first one is being handled: the process is already stopping
        return
    _SIGNALS["got"] = signum
    if not _SIGNALS["deferred"]:
        raise Terminated(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread while in force
    (the previous handlers come back afterwards); elsewhere than the main thread, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _on_stop_signal) for s in STOP_SIGNALS
                if signal.getsignal(s) is not signal.SIG_IGN}
    _SIGNALS.update(got=0, deferred=0)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _SIGNALS.update(got=0, deferred=0)


@contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """A section a stop signal must not cut in two (the store's record of how a run ended):
    a signal received meanwhile is not raised; the list yielded holds its number afterwards."""
    got: list[int] = []
    before = _SIGNALS["got"]
    _SIGNALS["deferred"] += 1
    try:
        yield got
    finally:
        _SIGNALS["deferred"] -= 1
        if _SIGNALS["got"] and not before:
            got.append(_SIGNALS["got"])
