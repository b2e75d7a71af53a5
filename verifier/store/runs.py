"""A run is one sov command as recorded in the store: started, then finished with a
status that says how it ended (ok, failed gate, integrity failure, error, incomplete)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from verifier.errors import ExitCode, IntegrityError, SovError, Terminated, signals_deferred
from verifier.store.db import Store

STATUS_BY_EXIT = {int(ExitCode.OK): "ok", int(ExitCode.GATE_FAILED): "failed",
                  int(ExitCode.INCONCLUSIVE): "inconclusive", int(ExitCode.INTEGRITY): "integrity",
                  int(ExitCode.USAGE): "error"}


@dataclass
class Run:
    store: Store
    run_id: str
    exit_code: int = 0
    summary: dict = field(default_factory=dict)


def ending(e: BaseException) -> tuple[str, int, str]:
    """How a run that raised ``e`` ended: its status, the exit code the process ends with
    (verifier/cli/app.py main gives the same one), and a message."""
    if isinstance(e, Terminated):
        return "incomplete", e.exit_code, str(e)
    if isinstance(e, KeyboardInterrupt):
        return "incomplete", 130, "interrupted"
    if isinstance(e, IntegrityError):
        return "integrity", int(e.exit_code), str(e)
    if isinstance(e, SovError):
        return "error", int(e.exit_code), str(e)
    if isinstance(e, SystemExit):
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
        return STATUS_BY_EXIT.get(code, "error"), code, f"exit {code}"
    if isinstance(e, BrokenPipeError):  # the reader went away: sov ends quietly, exit 0
        return "error", 0, "broken pipe"
    return "error", int(ExitCode.USAGE), f"{type(e).__name__}: {e}"


def _finish(store: Store, run_id: str, status: str, exit_code: int, **kw) -> None:
    """Record how the run ended, not cut short by a stop signal; one received meanwhile
    makes it an incomplete run, recorded so, and goes on up."""
    with signals_deferred() as got:
        store.finish_run(run_id, status, exit_code=exit_code, **kw)
        ENDED.update(store=store, run_id=run_id, exit_code=exit_code)
    if got:
        stop = Terminated(got[0])
        store.finish_run(run_id, "incomplete", exit_code=stop.exit_code, message=str(stop))
        ENDED.update(exit_code=stop.exit_code)
        raise stop


# the run this process recorded last as ended (store, run_id, exit_code), for settle()
ENDED: dict = {}


def settle(exit_code: int, message: str | None = None) -> None:
    """The command ends with ``exit_code``: if the run it recorded last as ended says
    otherwise (the command failed, or was stopped, after the run was recorded: writing its
    JSON, say), that run is recorded with this code. Called once per command, by the CLI."""
    ended = dict(ENDED)
    ENDED.clear()
    if not ended or ended["exit_code"] == exit_code:
        return
    status = "incomplete" if exit_code > 128 else STATUS_BY_EXIT.get(exit_code, "error")
    try:
        ended["store"].set_run_exit(ended["run_id"], status, exit_code=exit_code, message=message)
    except SovError:  # the store went away meanwhile: the run keeps what it had
        pass


@contextmanager
def recorded_run(store: Store, command: str, argv: list[str] | None = None) -> Iterator[Run]:
    """Record the run's start, and its end whatever happens inside, with the exit code the
    process ends with."""
    with signals_deferred() as got:  # a run recorded as started is recorded as ended
        run_id = store.start_run(command, argv if argv is not None else sys.argv[1:])
    if got:
        stop = Terminated(got[0])
        _finish(store, run_id, "incomplete", stop.exit_code, message=str(stop))
        raise stop
    run = Run(store, run_id)
    try:
        yield run
    except BaseException as e:
        status, code, message = ending(e)
        _finish(store, run_id, status, code, message=message)
        raise
    else:
        status = STATUS_BY_EXIT.get(run.exit_code, "error")
        _finish(store, run_id, status, run.exit_code, summary=run.summary)
