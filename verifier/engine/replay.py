"""Replay one task (decoder x workload) block by block: the run loop
(:func:`verifier.engine.loop.run_tasks`) over a single workload."""

from __future__ import annotations

from typing import TYPE_CHECKING

from verifier.engine.loop import run_tasks
from verifier.engine.results import ProgressFn, TaskResult
from verifier.qec.decoder import Decoder
from verifier.qec.workload import QecWorkload

if TYPE_CHECKING:
    from verifier.engine.executors import Executor
    from verifier.store.db import Store


def replay(decoder: Decoder, workload: QecWorkload, *, store: "Store | None" = None,
           run_id: str | None = None, workers: int = 1, max_errors: int | None = None,
           progress: ProgressFn | None = None, executor: "Executor | None" = None,
           record_result: bool = False) -> TaskResult:
    """Run ``decoder`` on every shot of ``workload`` (reusing recorded blocks).

    ``executor`` (``verifier.engine.executors``) says where the blocks run; by default this
    process when ``workers`` is 1, else the process-wide pool of ``workers`` processes.
    ``record_result``: when the replay completes, record the task's result row of run
    ``run_id`` in the same transaction as the last blocks (at the end of the run, where
    nothing else overlaps the store's opening)."""
    report = (lambda stats, total, _done, _tasks: progress(stats, total)) if progress else None
    result = run_tasks(decoder, [workload], store=store, run_id=run_id, workers=workers,
                       max_errors=max_errors, executor=executor, progress=report,
                       result_row=TaskResult.result_row if record_result else None)
    return result.points[0]
