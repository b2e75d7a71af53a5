"""Library entry points for QEC replays; the CLI's ``sov qec run`` is a thin wrapper."""

from __future__ import annotations

from verifier.decoding import Decoder
from verifier.replay import ProgressFn, TaskResult, replay
from verifier.runs import Run
from verifier.workload import QecWorkload


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
    result = replay(decoder, workload, store=store, run_id=run.run_id if run else None,
                    workers=workers, max_errors=max_errors, progress=progress, executor=executor)
    if store is not None:
        s = result.stats
        store.record_result(run.run_id, result.fingerprint, workload.id, shots=s.shots,
                            errors=s.errors, seconds=s.seconds, ler=s.ler, ler_ci=result.ler_ci,
                            ler_per_round=result.ler_per_round,
                            shots_per_second=s.shots_per_second,
                            figures={"decoder": result.decoder_name,
                                     "reused_shots": result.reused_shots})
    return result
