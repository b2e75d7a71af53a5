"""The run loop: one decoder over one or many workloads, block by block.

Every workload is a *task* (decoder fingerprint x workload stream). Blocks already in
the store for a task are not run again; the rest of ALL tasks go to one executor,
largest tasks first, so every core stays busy until the last block. Blocks travel
several per job (one round trip for a few blocks), except the last ``2 x workers``,
which go one per job so that no core idles through a long last job.

The parent process is the store's one writer: it records finished blocks (per-shot
predictions and failures, bit-packed) in short transactions paced by
:class:`RecordPacer`, so a killed run loses at most the blocks not yet written and the
same command resumes from what was recorded; on an error or an interrupt it writes what
has finished before the exception goes on. A completed run's result rows go in with its
last blocks, in one transaction.

``max_errors`` stops a task once it has seen that many logical errors: its remaining
blocks are not handed out, while blocks already in flight still count (as in sinter).

Progress is reported when a block is back and, for a slow decoder, while its jobs are in
flight: every inference batch a worker decodes (``verifier.engine.progress``) adds its
shots to the count shown (not to the errors, which are known only per block), until the
job's blocks replace the partial count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from verifier.engine.blocks import BlockOutcome, lean, run_blocks, sov_env
from verifier.engine.executors import Executor, InlineExecutor, Job, LocalExecutor
from verifier.engine.progress import SideFiles, Sink
from verifier.engine.results import SweepProgressFn, SweepResult, TaskResult
from verifier.qec.decoder import Decoder, fingerprint, member_for, member_json
from verifier.qec.workload import Block, QecWorkload
from verifier.stats.binomial import Stats

if TYPE_CHECKING:
    from verifier.store.db import Store

RECORD_EVERY_S = 2.0  # the first write of a run's blocks; later ones as RecordPacer says


class RecordPacer:
    """When the parent writes the blocks it has gathered. Each write is a transaction that
    opens the store, taken from the workers' cores: the writer keeps its share of the time
    under ~2 % (50x the last write's cost), writing at least every ``most`` seconds, so a
    killed run (``kill -9``; an interrupt writes what it has) loses at most that much
    work, and as soon as ``max_blocks`` are waiting, so the parent's memory does not grow
    with fast decoders."""

    def __init__(self, first: float = RECORD_EVERY_S, most: float = 30.0, share: float = 0.02,
                 max_blocks: int = 64):
        self.every, self.first, self.most, self.share = first, first, most, share
        self.max_blocks = max_blocks
        self.last = time.monotonic()

    def due(self, pending: int = 0) -> bool:
        return pending >= self.max_blocks or time.monotonic() - self.last >= self.every

    def wrote(self, started: float) -> None:
        """A write that began at ``time.monotonic()`` ``started`` has just ended."""
        self.last = time.monotonic()
        self.every = min(self.most, max(self.first, (self.last - started) / self.share))


class _Writer:
    """The parent's pending blocks and their paced writes (nothing without a store)."""

    def __init__(self, store: "Store | None", run_id: str | None):
        self.store, self.run_id = store, run_id
        self.pending: list[tuple[str, str, BlockOutcome]] = []  # (fingerprint, stream, outcome)
        self.pacer = RecordPacer()

    def add(self, fp: str, stream_id: str, outcome: BlockOutcome) -> None:
        if self.store is None:
            return
        self.pending.append((fp, stream_id, outcome))
        if self.pacer.due(len(self.pending)):
            t0 = time.monotonic()
            self.flush()
            self.pacer.wrote(t0)

    def flush(self, results: Sequence[dict] = ()) -> None:
        """One write per fingerprint (one, except for a model family's members); the
        result rows go with the last."""
        if self.store is None or not (self.pending or results):
            return
        by_fp: dict[str, list[tuple[str, BlockOutcome]]] = {}
        for fp, sid, outcome in self.pending:
            by_fp.setdefault(fp, []).append((sid, outcome))
        groups = list(by_fp.items()) or [(results[0]["fingerprint"], [])]
        for i, (fp, items) in enumerate(groups):
            self.store.record_blocks_many(fp, self.run_id, items,
                                          results=results if i == len(groups) - 1 else ())
        self.pending.clear()


@dataclass
class _Task:
    decoder: Decoder  # the run's decoder, or the family's member for this workload
    fp: str
    workload: QecWorkload
    todo: list[Block]  # the blocks the store does not hold
    total: Stats  # reused blocks, then every finished one
    reused: int
    left: int  # blocks of ``todo`` not back yet


# -- jobs -------------------------------------------------------------------------------------

def blocks_per_job(n_blocks: int, workers: int, *, max_per_job: int = 4) -> int:
    """Group blocks so that every worker gets at least ~4 jobs (load balance, prompt
    ``max_errors`` stops) while the per-job round trip is paid once per few blocks."""
    return max(1, min(max_per_job, n_blocks // (4 * max(1, workers))))


def block_jobs(decoder: Decoder, tasks: Sequence[tuple[QecWorkload, Sequence[Block]]], *,
               workers: int, fp: str | None = None,
               stopped: Callable[[int], bool] | None = None) -> Iterator[Job]:
    """The executor jobs that run each task's blocks, task after task, made as they are
    pulled; a job's ``tag`` is its task's position in ``tasks``, and a task for which
    ``stopped(tag)`` is true gets no more jobs. Jobs are keyed by task and blocks, so two
    askers of the same blocks share one run."""
    fp = fp or fingerprint(decoder)
    return task_jobs([(decoder, fp, w, todo) for w, todo in tasks], workers=workers, stopped=stopped)


def task_jobs(tasks: Sequence[tuple[Decoder, str, QecWorkload, Sequence[Block]]], *, workers: int,
              stopped: Callable[[int], bool] | None = None,
              sink: Callable[[str, int], Sink | None] | None = None) -> Iterator[Job]:
    """:func:`block_jobs` where each task has its own decoder and fingerprint (a family's
    members). ``sink(key, shots)``: where job ``key`` reports its decoded shots."""
    env = sov_env()
    n = sum(len(todo) for *_, todo in tasks)
    per = blocks_per_job(n, workers)
    singles_from = n - (min(n, 2 * max(1, workers)) if per > 1 else 0)
    start = 0  # position of the task's first block among all blocks
    for tag, (decoder, fp, workload, todo) in enumerate(tasks):
        shipped = lean(workload)
        for group in _groups(todo, per, singles_from - start):
            if stopped is not None and stopped(tag):
                break
            key = f"{fp[:16]}-{workload.stream_id[:16]}-{group[0].index}-{group[-1].index}-{group[-1].shots}"
            to = sink(key, sum(b.shots for b in group)) if sink is not None else None
            args = (decoder, shipped, group, env) if to is None else (decoder, shipped, group, env, to)
            yield Job(key, run_blocks, args, tag)
        start += len(todo)


def _groups(todo: Sequence[Block], per: int, singles_from: int) -> list[tuple[Block, ...]]:
    """``todo`` in runs of ``per`` blocks, one block per run from ``singles_from`` on."""
    head = max(0, min(len(todo), singles_from))
    groups = [tuple(todo[i:min(i + per, head)]) for i in range(0, head, per)]
    return groups + [(b,) for b in todo[head:]]


def _cost(w: QecWorkload) -> float:
    d = w.distance or 3
    r = w.rounds or d
    return float(d * d * r) * (1.0 + 100.0 * float(getattr(w, "p", 0.0) or 0.0))


# -- the loop ---------------------------------------------------------------------------------

def run_tasks(decoder: Decoder, workloads: Sequence[QecWorkload], *, store: "Store | None" = None,
              run_id: str | None = None, workers: int = 1, max_errors: int | None = None,
              executor: Executor | None = None, progress: SweepProgressFn | None = None,
              result_row: Callable[[TaskResult], dict] | None = None) -> SweepResult:
    """Run ``decoder`` on every shot of every workload, reusing the blocks ``store`` holds.

    ``executor`` says where blocks run: by default this process when there is one worker
    or one block to run, else the process-wide pool of ``workers`` processes. With a store
    and a ``run_id``, ``result_row(task)`` gives each task's row of the ``results`` table,
    written with the last blocks when every task has completed."""
    t_start = time.monotonic()
    fp = fingerprint(decoder)
    tasks = _open_tasks(store, decoder, fp, workloads)
    writer = _Writer(store, run_id)
    rows: list[dict] = []
    try:
        ran = _execute(tasks, writer, workers=workers, max_errors=max_errors,
                       executor=executor, progress=progress)
        points = [TaskResult(t.decoder.name, t.fp, t.decoder.model_sha256, t.workload, t.total,
                             reused_shots=t.reused, run_id=run_id, figures=_member(decoder, t))
                  for t in tasks]
        if result_row is not None and run_id is not None:
            rows = [result_row(p) for p in points]
    finally:  # on an error too: what finished is kept
        writer.flush(rows)
    return SweepResult(decoder.name, fp, None, points, run_id=run_id,
                       seconds=time.monotonic() - t_start, ran_shots=ran,
                       reused_shots=sum(t.reused for t in tasks))


def _member(decoder: Decoder, task: _Task) -> dict:
    """What a point's JSON says of the family member that ran it (nothing for one decoder)."""
    if task.decoder is decoder:
        return {}
    return {"member": member_json(task.decoder, task.fp)}


def _members(decoder: Decoder, fp: str, workloads: Sequence[QecWorkload]) -> list[tuple[Decoder, str]]:
    """Each workload's (decoder, fingerprint): ``decoder`` itself, or its family's member."""
    out, fps = [], {}
    for w in workloads:
        m = member_for(decoder, w)
        if m is decoder:
            out.append((m, fp))
        else:
            out.append((m, fps.setdefault(id(m), fingerprint(m))))
    return out


def _open_tasks(store: "Store | None", decoder: Decoder, fp: str,
                workloads: Sequence[QecWorkload]) -> list[_Task]:
    """Record the models, decoders and workloads; each task with the blocks already held."""
    members = _members(decoder, fp, workloads)
    if store is None:
        recorded: list[dict] = [{} for _ in workloads]
    else:
        by_fp: dict[str, list[int]] = {}
        for i, (_, f) in enumerate(members):
            by_fp.setdefault(f, []).append(i)
        for idx in by_fp.values():
            record = getattr(members[idx[0]][0], "model_record", None)
            if callable(record) and (rec := record()) is not None:
                store.record_model(**rec)
        if len(workloads) == 1:  # the decoder, the workload and its blocks in one transaction
            dec, f = members[0]
            recorded = [store.open_task(f, dec.name, dec.model_sha256, dec.fingerprint_spec(), workloads[0])]
        else:
            recorded = [{} for _ in workloads]
            for f, idx in by_fp.items():
                dec = members[idx[0]][0]
                store.record_decoder(f, dec.name, dec.model_sha256, dec.fingerprint_spec())
            store.record_workloads(workloads)
            for f, idx in by_fp.items():
                held = store.recorded_blocks_many(f, [workloads[i].stream_id for i in idx])
                for i in idx:
                    recorded[i] = held.get(workloads[i].stream_id, {})
    tasks = []
    for (dec, f), w, done in zip(members, workloads, recorded):
        total, todo = Stats(), []
        for b in w.blocks():
            r = done.get((b.index, b.shots))
            if r is None:
                todo.append(b)
            else:
                total += Stats(r.shots, r.errors, r.seconds, r.sample_seconds)
        tasks.append(_Task(dec, f, w, todo, total, total.shots, len(todo)))
    return tasks


class _InFlight:
    """Shots decoded by the jobs not yet back, as ``executor`` lets its jobs report them:
    from inside the job (inline), from side files read while waiting (local pool), or
    not at all (Dask: its workers may be other machines). For display only."""

    def __init__(self, executor: Executor, report: Callable[[int], None]):
        self.report = report
        channel = executor.progress_channel
        self.files = SideFiles() if channel == "file" else None
        self.inline = channel == "call"
        self.current = 0  # inline: the running job's count

    def sink(self, key: str, shots: int) -> Sink | None:
        if self.files is not None:
            return self.files.sink(key, shots)
        return self._counted if self.inline else None

    def _counted(self, count: int) -> None:
        self.current = count
        self.report(count)

    def idle(self) -> None:
        if self.files is not None:
            self.report(self.files.partial())

    def finished(self, key: str) -> None:
        self.current = 0
        if self.files is not None:
            self.files.finished(key)

    def shots(self) -> int:
        """The partial count as last seen (no file read: called once per finished job)."""
        return self.files.partial(read=False) if self.files is not None else self.current

    def close(self) -> None:
        if self.files is not None:
            self.files.close()


def _execute(tasks: list[_Task], writer: _Writer, *, workers: int,
             max_errors: int | None, executor: Executor | None,
             progress: SweepProgressFn | None) -> int:
    """Run every task's missing blocks, recording each outcome; the shots run."""
    def stopped(t: _Task) -> bool:
        return max_errors is not None and t.total.errors >= max_errors

    grand_total = sum(t.workload.shots for t in tasks)
    overall = sum((t.total for t in tasks), Stats())

    def report(partial: int = 0) -> None:
        if progress:
            done = sum(1 for t in tasks if t.left == 0 or stopped(t))
            progress(overall + Stats(shots=partial) if partial else overall, grand_total, done, len(tasks))

    report()
    # largest tasks first (distance^3 x rate, times the blocks left)
    order = sorted((t for t in tasks if t.todo and not stopped(t)),
                   key=lambda t: -_cost(t.workload) * len(t.todo))
    n_todo = sum(len(t.todo) for t in order)
    if not n_todo:
        return 0
    if executor is None:
        executor = InlineExecutor() if min(workers, n_todo) <= 1 else LocalExecutor(workers)
    flight = _InFlight(executor, report) if progress else None
    jobs = task_jobs([(t.decoder, t.fp, t.workload, t.todo) for t in order], workers=executor.workers,
                     stopped=lambda i: stopped(order[i]), sink=flight.sink if flight else None)
    ran = 0
    try:
        waiting = {"idle": flight.idle} if flight is not None and flight.files is not None else {}
        for job, outcomes in executor.map_unordered(jobs, **waiting):
            if flight is not None:  # its blocks now count in full: its partial count goes first
                flight.finished(job.key)
            task = order[job.tag]
            for outcome in outcomes:
                task.total += outcome.stats
                overall += outcome.stats
                task.left -= 1
                ran += outcome.stats.shots
                writer.add(task.fp, task.workload.stream_id, outcome)
            # once per job: its blocks arrive together, and a count shown per block would
            # step back below what the job had reported from inside
            report(flight.shots() if flight is not None else 0)
    finally:
        if flight is not None:
            flight.close()
    return ran
