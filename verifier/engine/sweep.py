"""Sweeps: one decoder over a grid of memory workloads (distances x physical error rates).

Every grid point is a *task* = (decoder fingerprint, workload stream). Its blocks are the
same blocks ``sov qec run`` records, so a re-run, a sweep with more shots, or a sweep with
extra distances or rates only runs the blocks that are missing from the store.

The blocks of ALL tasks are scheduled on one executor (by default one process pool for
the whole sweep), largest tasks first, so every core stays busy until the last block;
the parent process is the store's single writer, recording finished blocks in short
transactions as ``replay`` does. ``--max-errors`` stops a task once it has seen that many
logical errors (blocks already in flight still count, as in sinter).

The executor is the one swappable step: anything with ``run(jobs, skip)`` that yields
``(job, BlockOutcome)`` pairs as blocks complete (see :class:`BlockExecutor`), e.g. a Dask
cluster, can replace :class:`ProcessExecutor`.

Seeds: the point (d, p) of a sweep with ``--seed S`` samples with its own seed derived
from ``(S, distance, rounds, p)``, so the points are statistically independent (the
intervals and the bootstrap assume it). The derived seed is part of each workload's spec
and printed with it; ``sov qec run --seed`` with that value replays the same shots.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

from verifier.qec.decoder import Decoder, fingerprint
from verifier.errors import UsageError
from verifier.engine.replay import BlockOutcome, RecordPacer, TaskResult, _pool_init, run_block
from verifier.stats.binomial import Stats
from verifier.qec.grid import SweepSpec
from verifier.hashing import sha256_bytes
from verifier.qec.workload import Block, QecWorkload

if TYPE_CHECKING:
    from verifier.store.runs import Run
    from verifier.store.db import Store

SweepProgressFn = Callable[[Stats, int, int, int], None]  # (all stats, total shots, tasks done, tasks)


# -- executing blocks ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockJob:
    """One block of one task: everything a worker needs to produce its BlockOutcome."""

    task: int  # index into the sweep's task list
    decoder: Decoder
    workload: QecWorkload
    block: Block


class BlockExecutor(Protocol):
    """Runs blocks somewhere and yields their outcomes as they complete.

    ``skip(job)`` is asked just before a job is handed out; a job it answers True for is
    dropped (its task has stopped early). Outcomes may arrive in any order."""

    def run(self, jobs: Sequence[BlockJob], skip: Callable[[BlockJob], bool]) -> Iterator[tuple[BlockJob, BlockOutcome]]:
        ...


def _run_job(job: BlockJob) -> BlockOutcome:
    return run_block(job.decoder, job.workload, job.block)


@dataclass
class InlineExecutor:
    """Runs every block in this process (``--workers 1``)."""

    def run(self, jobs: Sequence[BlockJob], skip: Callable[[BlockJob], bool]) -> Iterator[tuple[BlockJob, BlockOutcome]]:
        for job in jobs:
            if not skip(job):
                yield job, _run_job(job)


@dataclass
class ProcessExecutor:
    """One spawn process pool for all the blocks of all the tasks.

    At most ``2 * workers`` blocks are in flight, so ``skip`` is asked late enough for
    early stopping to save work; jobs are handed out in the order given (callers give
    them task by task, so each worker compiles a decoder for few workloads)."""

    workers: int

    def run(self, jobs: Sequence[BlockJob], skip: Callable[[BlockJob], bool]) -> Iterator[tuple[BlockJob, BlockOutcome]]:
        import multiprocessing as mp

        if not jobs:
            return
        queue = list(reversed(jobs))
        ctx = mp.get_context("spawn")  # safe with onnxruntime threads and an open DuckDB
        with ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)), mp_context=ctx,
                                 initializer=_pool_init) as pool:
            inflight: dict[Future, BlockJob] = {}
            try:
                while queue or inflight:
                    while queue and len(inflight) < 2 * self.workers:
                        job = queue.pop()
                        if not skip(job):
                            inflight[pool.submit(_run_job, job)] = job
                    if not inflight:
                        break
                    finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                    for f in finished:
                        job = inflight.pop(f)
                        yield job, f.result()
            except BaseException:
                for f in inflight:
                    f.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def default_executor(workers: int) -> BlockExecutor:
    """This process for one worker, else the process-wide pool of ``verifier.engine.executors``
    (started once per process, several blocks per job); ``ProcessExecutor`` above is the
    self-contained alternative."""
    from verifier.engine.executors import SweepExecutor, make_executor

    return SweepExecutor(make_executor("local", workers=workers))


# -- the sweep --------------------------------------------------------------------------------

def task_id(fp: str, workload: QecWorkload) -> str:
    """Task = decoder fingerprint x workload stream (what the store's blocks are keyed by)."""
    return sha256_bytes(f"{fp}:{workload.stream_id}".encode())


@dataclass
class SweepResult:
    decoder_name: str
    fingerprint: str
    spec: SweepSpec | None
    points: list[TaskResult]
    run_id: str | None = None
    seconds: float = 0.0  # wall time of the whole sweep
    ran_shots: int = 0
    reused_shots: int = 0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"decoder": self.decoder_name, "fingerprint": self.fingerprint,
                "sweep": self.spec.to_json() if self.spec else None, "run_id": self.run_id,
                "wall_seconds": self.seconds, "ran_shots": self.ran_shots,
                "reused_shots": self.reused_shots,
                "points": [point_json(r) for r in self.points], **self.extra}


def point_json(r: TaskResult) -> dict:
    w = r.workload
    lo, hi = r.ler_ci
    eps = r.ler_per_round
    from verifier.stats.suppression import epsilon_interval

    elo, ehi = epsilon_interval(r.stats.errors, r.stats.shots, w.rounds) if w.rounds else (None, None)
    return {"distance": w.distance, "rounds": w.rounds, "p": getattr(w, "p", None),
            "basis": w.basis, "noise": getattr(w, "noise", None), "seed": getattr(w, "seed", None),
            "shots": r.stats.shots, "errors": r.stats.errors, "ler": r.stats.ler,
            "ler_ci": [lo, hi], "ler_per_round": eps, "ler_per_round_ci": [elo, ehi],
            "seconds": r.stats.seconds, "reused_shots": r.reused_shots,
            "workload_id": w.id, "task_id": task_id(r.fingerprint, w)}


def run_sweep(decoder: Decoder, workloads: Sequence[QecWorkload], *, store: "Store | None" = None,
              run: "Run | None" = None, workers: int = 1, max_errors: int | None = None,
              executor: BlockExecutor | None = None, progress: SweepProgressFn | None = None,
              spec: SweepSpec | None = None) -> SweepResult:
    """Run ``decoder`` on every workload, reusing recorded blocks; one executor for all.

    With ``run`` the blocks, the decoder, the workloads and one ``results`` row per point
    are recorded in ``run.store``."""
    t_start = time.monotonic()
    if run is not None:
        store = run.store
    run_id = run.run_id if run is not None else None
    if not workloads:
        raise UsageError("the sweep has no points")
    for w in workloads:  # refuse before any shot
        decoder.check(w)
    fp = fingerprint(decoder)
    if store is not None:
        record = getattr(decoder, "model_record", None)
        if callable(record) and (rec := record()) is not None:
            store.record_model(**rec)
        store.record_decoder(fp, decoder.name, decoder.model_sha256, decoder.fingerprint_spec())
        store.record_workloads(workloads)

    totals: list[Stats] = []
    reused: list[int] = []
    jobs_by_task: list[list[BlockJob]] = []
    recorded = store.recorded_blocks_many(fp, [w.stream_id for w in workloads]) if store is not None else {}
    for i, w in enumerate(workloads):
        done = recorded.get(w.stream_id, {})
        t = Stats()
        todo = []
        for b in w.blocks():
            r = done.get((b.index, b.shots))
            if r is None:
                todo.append(BlockJob(i, decoder, w, b))
            else:
                t += Stats(r.shots, r.errors, r.seconds, r.sample_seconds)
        totals.append(t)
        reused.append(t.shots)
        jobs_by_task.append(todo)

    def stopped(i: int) -> bool:
        return max_errors is not None and totals[i].errors >= max_errors

    # largest tasks first (distance^3 x rate, times the blocks left), task by task
    order = sorted(range(len(workloads)), key=lambda i: -_cost(workloads[i]) * len(jobs_by_task[i]))
    jobs = [j for i in order if not stopped(i) for j in jobs_by_task[i]]
    grand_total = sum(w.shots for w in workloads)
    remaining = {i: len(jobs_by_task[i]) for i in range(len(workloads))}

    def tasks_done() -> int:
        return sum(1 for i in range(len(workloads)) if remaining[i] == 0 or stopped(i))

    def report() -> None:
        if progress:
            progress(sum(totals, Stats()), grand_total, tasks_done(), len(workloads))

    pending: list[tuple[str, BlockOutcome]] = []
    pacer = RecordPacer()

    def flush() -> None:
        t0 = time.monotonic()
        if store is not None and pending:
            store.record_blocks_many(fp, run_id, pending)
        pending.clear()
        pacer.wrote(t0)

    ran = 0
    report()
    ex = executor or default_executor(workers)
    try:
        for job, outcome in ex.run(jobs, lambda j: stopped(j.task)):
            i = job.task
            totals[i] += outcome.stats
            ran += outcome.stats.shots
            remaining[i] -= 1
            if store is not None:
                pending.append((workloads[i].stream_id, outcome))
                if pacer.due(len(pending)):
                    flush()
            report()
    finally:
        flush()

    points = [TaskResult(decoder.name, fp, decoder.model_sha256, w, totals[i],
                         reused_shots=reused[i], run_id=run_id) for i, w in enumerate(workloads)]
    if run is not None:
        run.store.record_results(run_id, [
            r.result_row(sweep=True, distance=r.workload.distance, rounds=r.workload.rounds,
                         p=getattr(r.workload, "p", None)) for r in points])
    return SweepResult(decoder.name, fp, spec, points, run_id=run_id,
                       seconds=time.monotonic() - t_start, ran_shots=ran,
                       reused_shots=sum(reused))


def _cost(w: QecWorkload) -> float:
    d = w.distance or 3
    r = w.rounds or d
    return float(d * d * r) * (1.0 + 100.0 * float(getattr(w, "p", 0.0) or 0.0))


def sweep(decoder: Decoder, spec: SweepSpec, **kwargs) -> SweepResult:
    """Run the grid ``spec`` (see :func:`run_sweep` for the keyword arguments)."""
    return run_sweep(decoder, spec.workloads(), spec=spec, **kwargs)


def points_table(result: SweepResult) -> list[tuple[int, float, int, int]]:
    """``(distance, p, shots, errors)`` of every point: what the fits consume."""
    return [(r.workload.distance, float(getattr(r.workload, "p")), r.stats.shots, r.stats.errors)
            for r in result.points]

