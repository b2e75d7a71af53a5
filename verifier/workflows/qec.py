"""Library entry points for QEC replays; the CLI's ``sov qec run`` is a thin wrapper."""

from __future__ import annotations

from verifier.engine.replay import replay
from verifier.engine.results import ProgressFn, TaskResult
from verifier.qec.decoder import Decoder
from verifier.qec.workload import QecWorkload
from verifier.store.db import Store
from verifier.store.runs import Run, recorded_run


def run_task(decoder: Decoder, workload: QecWorkload, *, run: Run | None = None, workers: int = 1,
             max_errors: int | None = None, progress: ProgressFn | None = None,
             executor=None) -> TaskResult:
    """Check the decoder against the workload, replay every shot, record the result (the
    run loop records the model and decoder, and the result row with the last blocks)."""
    decoder.check(workload)
    return replay(decoder, workload, store=run.store if run is not None else None,
                  run_id=run.run_id if run is not None else None, workers=workers,
                  max_errors=max_errors, progress=progress, executor=executor,
                  record_result=run is not None)


def record_task(decoder: Decoder, workload: QecWorkload, *, store: Store, workers: int = 1,
                max_errors: int | None = None, progress: ProgressFn | None = None,
                executor=None) -> tuple[TaskResult, dict]:
    """:func:`run_task` in a recorded ``qec run`` run: the result and its JSON payload."""
    with recorded_run(store, "qec run") as rec:
        result = run_task(decoder, workload, run=rec, workers=workers, max_errors=max_errors,
                          progress=progress, executor=executor)
        payload = result.to_json()
        payload["db"] = store.path
        rec.summary = {"decoder": decoder.name, "workload_id": workload.id, "shots": result.stats.shots,
                       "errors": result.stats.errors}
    return result, payload
