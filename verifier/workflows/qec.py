"""Library entry points for QEC replays: ``sov qec run`` and ``sov demo`` are thin wrappers."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Sequence

from verifier.environment import machine
from verifier.engine.replay import replay
from verifier.engine.results import ProgressFn, TaskResult
from verifier.qec.decoder import Decoder
from verifier.qec.workload import MemoryWorkload, QecWorkload

# (decoder, workload) -> verifier.qec.probe.FaultProbe or None: the single-fault probe
# (verifier.qec.probe.FaultProber, built with its baseline by verifier.cli.wiring.fault_prober)
ProbeFn = Callable[[Decoder, QecWorkload], Any]
from verifier.store.db import Store
from verifier.store.runs import Run, recorded_run
from verifier.workflows.syndromes import check_scored_shots


def run_task(decoder: Decoder, workload: QecWorkload, *, run: Run | None = None, workers: int = 1,
             max_errors: int | None = None, progress: ProgressFn | None = None,
             executor=None, probe: ProbeFn | None = None) -> TaskResult:
    """Check the decoder against the workload, run the single-fault ``probe`` (before any
    shot, so its warning comes first; its figures become the result's ``fault_probe``),
    replay every shot, record the result (the run loop records the model and decoder, and
    the result row with the last blocks). Predictions made elsewhere are first checked to
    belong to these shots (an export's commitment, ``verifier.workflows.syndromes``),
    reported in ``figures["commitment"]``."""
    decoder.check(workload)
    commitment = check_scored_shots(run.store if run is not None else None, decoder, workload)
    # the probe guards against a model built for another circuit; an open baseline builds
    # its decoder from this workload's own DEM, so probing it would only cost time
    baseline = decoder.model_sha256 is None
    found = probe(decoder, workload) if probe is not None and not baseline else None
    result = replay(decoder, workload, store=run.store if run is not None else None,
                    run_id=run.run_id if run is not None else None, workers=workers,
                    max_errors=max_errors, progress=progress, executor=executor,
                    record_result=run is not None)
    if commitment is not None:
        result.figures["commitment"] = commitment
    if probe is not None:
        result.figures["fault_probe"] = (
            {"skipped": "an open baseline, built from this workload's own detector error model",
             "reason": "open_baseline"} if baseline
            else found.to_json() if found is not None else None)
    return result


def record_task(decoder: Decoder, workload: QecWorkload, *, store: Store, workers: int = 1,
                max_errors: int | None = None, progress: ProgressFn | None = None,
                executor=None, probe: ProbeFn | None = None) -> tuple[TaskResult, dict]:
    """:func:`run_task` in a recorded ``qec run`` run: the result and its JSON payload."""
    with recorded_run(store, "qec run") as rec:
        result = run_task(decoder, workload, run=rec, workers=workers, max_errors=max_errors,
                          progress=progress, executor=executor, probe=probe)
        payload = result.to_json()
        payload["db"] = store.path
        payload["machine"] = machine()  # its load right after the timing: shots/s means little without it
        rec.summary = {"decoder": decoder.name, "workload_id": workload.id, "shots": result.stats.shots,
                       "errors": result.stats.errors, "load_average": payload["machine"]["load_average"]}
        if "fault_probe" in result.figures:
            rec.summary["fault_probe"] = result.figures["fault_probe"]
    return result, payload


def demo_workload(shots: int) -> MemoryWorkload:
    """``sov demo``'s workload: a d = 5 rotated memory at p = 0.003, the regime of
    ``docs/scorecard-grid.md``, with a seed of its own."""
    return MemoryWorkload(5, 5, "z", "uniform", 0.003, shots, 2026)


def run_demo(specs: Sequence[str], make_decoder: Callable[[str], Decoder], workload: QecWorkload, *,
             store: Store, workers: int = 1,
             progress_factory: Callable[[str], Any] = lambda _label: nullcontext(None)) -> tuple[list[TaskResult], str]:
    """``sov demo``: every decoder of ``specs`` (built by ``make_decoder`` inside the recorded
    run, so a model that fails to load is recorded too) on the same workload; the results
    and the run id."""
    results = []
    with recorded_run(store, "demo") as rec:
        for spec in specs:
            dec = make_decoder(spec)
            with progress_factory(spec) as progress:
                results.append(run_task(dec, workload, run=rec, workers=workers, progress=progress))
        rec.summary = {r.decoder_name: {"errors": r.stats.errors, "shots": r.stats.shots} for r in results}
    return results, rec.run_id
