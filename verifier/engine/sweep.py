"""Sweeps: one decoder over a grid of memory workloads (distances x physical error rates).

Every grid point is a *task* = (decoder fingerprint, workload stream). Its blocks are the
same blocks ``sov qec run`` records, so a re-run, a sweep with more shots, or a sweep with
extra distances or rates only runs the blocks that are missing from the store. The
blocks of all points share one executor (:func:`verifier.engine.loop.run_tasks`).

Seeds: the point (d, p) of a sweep with ``--seed S`` samples with its own seed derived
from ``(S, distance, rounds, p)`` (``verifier.qec.grid.point_seed``), so the points are
statistically independent (the intervals and the bootstrap assume it). The derived seed
is part of each workload's spec and printed with it; ``sov qec run --seed`` with that
value replays the same shots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from verifier.engine.loop import run_tasks
from verifier.engine.results import SweepProgressFn, SweepResult, TaskResult
from verifier.errors import UsageError
from verifier.qec.decoder import Decoder
from verifier.qec.grid import SweepSpec
from verifier.qec.workload import QecWorkload

if TYPE_CHECKING:
    from verifier.engine.executors import Executor
    from verifier.store.db import Store
    from verifier.store.runs import Run


def sweep(decoder: Decoder, spec: SweepSpec | Sequence[QecWorkload], *, store: "Store | None" = None,
          run: "Run | None" = None, workers: int = 1, max_errors: int | None = None,
          executor: "Executor | None" = None, progress: SweepProgressFn | None = None) -> SweepResult:
    """Run ``decoder`` on every point of the grid ``spec`` (or on the given workloads),
    reusing recorded blocks; one executor for all.

    The decoder is checked against every point before any shot. With ``run`` the blocks,
    the decoder, the workloads and one ``results`` row per point are recorded in
    ``run.store``."""
    grid = spec if isinstance(spec, SweepSpec) else None
    workloads = grid.workloads() if grid is not None else list(spec)
    if not workloads:
        raise UsageError("the sweep has no points")
    for w in workloads:  # refuse before any shot
        _check_point(decoder, w, workloads)
    if run is not None:
        store = run.store
    result = run_tasks(decoder, workloads, store=store, run_id=run.run_id if run is not None else None,
                       workers=workers, max_errors=max_errors, executor=executor, progress=progress,
                       result_row=TaskResult.sweep_row)
    result.spec = grid
    return result


def _check_point(decoder: Decoder, workload: QecWorkload, workloads: Sequence[QecWorkload]) -> None:
    """``decoder.check``; a single model refused at one distance of the grid but fit for
    another was built for one distance: the refusal names the point and the way out."""
    try:
        decoder.check(workload)
    except UsageError as e:
        if callable(getattr(decoder, "for_workload", None)) or not _serves_another(decoder, workload, workloads):
            raise
        raise UsageError(f"{e} (at d={workload.distance}, rounds={workload.rounds}); a model built for one "
                         "distance needs a family, one file per point: --decoder "
                         "'DIR/NAME_d{d}_T{rounds}_{basis}.onnx' (docs/cli.md, Model families)") from None


def _serves_another(decoder: Decoder, workload: QecWorkload, workloads: Sequence[QecWorkload]) -> bool:
    for w in workloads:
        if w.distance != workload.distance:
            try:
                decoder.check(w)
                return True
            except UsageError:
                pass
    return False
