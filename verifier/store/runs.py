"""A run is one sov command as recorded in the store: started, then finished with a
status that says how it ended (ok, failed gate, integrity failure, error, incomplete)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from verifier.errors import ExitCode, IntegrityError, SovError
from verifier.store.db import Store

STATUS_BY_EXIT = {ExitCode.OK: "ok", ExitCode.GATE_FAILED: "failed",
                  ExitCode.INCONCLUSIVE: "inconclusive", ExitCode.INTEGRITY: "integrity",
                  ExitCode.USAGE: "error"}


@dataclass
class Run:
    store: Store
    run_id: str
    exit_code: int = 0
    summary: dict = field(default_factory=dict)


@contextmanager
def recorded_run(store: Store, command: str, argv: list[str] | None = None) -> Iterator[Run]:
    """Record the run's start, and its end whatever happens inside."""
    run_id = store.start_run(command, argv if argv is not None else sys.argv[1:])
    run = Run(store, run_id)
    try:
        yield run
    except IntegrityError as e:
        store.finish_run(run_id, "integrity", exit_code=int(e.exit_code), message=str(e))
        raise
    except SovError as e:
        store.finish_run(run_id, "error", exit_code=int(e.exit_code), message=str(e))
        raise
    except KeyboardInterrupt:
        store.finish_run(run_id, "incomplete", exit_code=130, message="interrupted")
        raise
    except BaseException as e:
        store.finish_run(run_id, "error", exit_code=2, message=f"{type(e).__name__}: {e}")
        raise
    else:
        status = STATUS_BY_EXIT.get(ExitCode(run.exit_code), "ok") if run.exit_code in ExitCode._value2member_map_ else "error"
        store.finish_run(run_id, status, exit_code=run.exit_code, summary=run.summary)
