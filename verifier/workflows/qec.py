"""Library entry points for QEC replays; the CLI's ``sov qec run`` is a thin wrapper."""

from __future__ import annotations

from verifier.qec.decoder import Decoder
from verifier.engine.replay import ProgressFn, TaskResult, replay
from verifier.store.runs import Run
from verifier.qec.workload import QecWorkload


def run_task(decoder: Decoder, workload: QecWorkload, *, run: Run | None = None, workers: int = 1,
             max_errors: int | None = None, progress: ProgressFn | None = None,
             executor=None) -> TaskResult:
    """Check the decoder against the workload, replay every shot, record the result."""
    decoder.check(workload)
    store = run.store if run is not None else None
    if store is not None:
        record = getattr(decoder, "model_record", None)
        if callable(record) and (rec := record()) is not None:
            store.record_model(**rec)
    # the result row goes in with the last blocks, in one transaction
    return replay(decoder, workload, store=store, run_id=run.run_id if run else None,
                  workers=workers, max_errors=max_errors, progress=progress, executor=executor,
                  record_result=store is not None)
