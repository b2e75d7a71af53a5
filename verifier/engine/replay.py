"""The replay engine: run one task (decoder x workload) block by block.

Blocks already in the store for this decoder fingerprint and workload stream are not
run again; the rest run in worker processes (``workers`` > 1) or in this process, each
worker compiling the decoder once per workload. The parent process is the one writer:
it records finished blocks (per-shot predictions and failures, bit-packed) in short
transactions, paced by :class:`RecordPacer`, so a killed run loses at most the blocks
not yet written and the same command resumes from what was recorded.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from verifier.qec.decoder import Decoder, fingerprint
from verifier.engine.executors import Executor, InlineExecutor, Job, LocalExecutor
from verifier.engine.executors import default_workers as default_workers  # noqa: F401  (re-exported)
from verifier.engine.executors import _pool_init as _pool_init  # noqa: F401  (used by verifier.engine.sweep)
from verifier.stats.binomial import Stats, clopper_pearson, per_round
from verifier.qec.workload import Block, QecWorkload

if TYPE_CHECKING:
    from verifier.store.db import Store

RECORD_EVERY_S = 2.0  # the first write of a run's blocks; later ones as RecordPacer says
ProgressFn = Callable[[Stats, int], None]


@dataclass(frozen=True)
class BlockOutcome:
    block: Block
    stats: Stats
    predictions: bytes  # pack_predictions(): the [shots, O] prediction bits, packed
    failures: bytes  # np.packbits(fail, bitorder="little")
    prediction_bits: int  # O, the bits per shot in ``predictions``


def pack_predictions(pred: np.ndarray, num_observables: int) -> bytes:
    """Decoder output ``uint8[shots, ceil(O/8)]`` (PyMatching's bit-packed layout) -> the
    stored layout: the ``[shots, O]`` bits in C order, packed with
    ``np.packbits(bitorder="little")``, so shot ``s``'s observable ``k`` is bit ``s * O + k``
    (``ceil(shots * O / 8)`` bytes: an eighth of PyMatching's layout for one observable)."""
    bits = np.unpackbits(pred, axis=1, count=num_observables, bitorder="little")
    return np.packbits(bits, axis=None, bitorder="little").tobytes()


def unpack_predictions(blob: bytes, shots: int, bits: int) -> np.ndarray:
    """The stored layout (:func:`pack_predictions`) -> ``uint8[shots, bits]`` of 0/1."""
    flat = np.unpackbits(np.frombuffer(blob, np.uint8), count=shots * bits, bitorder="little")
    return flat.reshape(shots, bits)


@dataclass
class TaskResult:
    decoder_name: str
    fingerprint: str
    model_sha256: str | None
    workload: QecWorkload
    stats: Stats
    reused_shots: int = 0
    run_id: str | None = None
    figures: dict = field(default_factory=dict)

    @property
    def ler_ci(self) -> tuple[float, float]:
        return clopper_pearson(self.stats.errors, self.stats.shots)

    @property
    def ler_per_round(self) -> float | None:
        return per_round(self.stats.ler, self.workload.rounds)

    def result_row(self, **figures) -> dict:
        """The task's row of the store's ``results`` table (``Store.record_results``)."""
        s = self.stats
        return {"fingerprint": self.fingerprint, "workload_id": self.workload.id, "shots": s.shots,
                "errors": s.errors, "seconds": s.seconds, "ler": s.ler, "ler_ci": self.ler_ci,
                "ler_per_round": self.ler_per_round, "shots_per_second": s.shots_per_second,
                "figures": {"decoder": self.decoder_name, **figures, "reused_shots": self.reused_shots}}

    def to_json(self) -> dict:
        s = self.stats
        lo, hi = self.ler_ci
        return {
            "decoder": self.decoder_name,
            "fingerprint": self.fingerprint,
            "model_sha256": self.model_sha256,
            "workload_id": self.workload.id,
            "workload": self.workload.spec(),
            "shots": s.shots,
            "errors": s.errors,
            "ler": s.ler,
            "ler_ci": [lo, hi],
            "ler_ci_confidence": 0.95,
            "ler_per_round": self.ler_per_round,
            "rounds": self.workload.rounds,
            "shots_per_second": s.shots_per_second,
            "seconds": s.seconds,
            "sample_seconds": s.sample_seconds,
            "reused_shots": self.reused_shots,
            "run_id": self.run_id,
            **self.figures,
        }


# -- worker side -------------------------------------------------------------------------

# (thread, decoder, stream) -> compiled decoder; one entry per thread so that a Dask worker
# running several threads never shares a matching graph or a session between them
_COMPILED: dict[tuple, object] = {}


def _decoder_key(decoder: Decoder):
    try:
        hash(decoder)
        return decoder
    except TypeError:
        return fingerprint(decoder)


def _compiled(decoder: Decoder, workload: QecWorkload):
    key = (threading.get_ident(), _decoder_key(decoder), workload.stream_id)
    c = _COMPILED.get(key)
    if c is None:
        if len(_COMPILED) > 8:
            _COMPILED.clear()
        c = decoder.compile_for(workload)
        _COMPILED[key] = c
    return c


def run_block(decoder: Decoder, workload: QecWorkload, block: Block) -> BlockOutcome:
    """Sample (or read) one block, decode it and score it. Runs in a worker."""
    compiled = _compiled(decoder, workload)
    t0 = time.perf_counter()
    dets, obs = workload.sample_block(block)
    t1 = time.perf_counter()
    pred = compiled.decode_packed(dets)
    t2 = time.perf_counter()
    pred = np.ascontiguousarray(pred, dtype=np.uint8)
    if pred.shape != obs.shape:
        from verifier.errors import IntegrityError

        raise IntegrityError(f"decoder returned predictions of shape {pred.shape}, expected {obs.shape}")
    fail = np.any(pred != obs, axis=1)
    n_obs = workload.num_observables
    return BlockOutcome(block, Stats(shots=block.shots, errors=int(fail.sum()), seconds=t2 - t1,
                                     sample_seconds=t1 - t0),
                        pack_predictions(pred, n_obs), np.packbits(fail, bitorder="little").tobytes(), n_obs)


def run_blocks(decoder: Decoder, workload: QecWorkload, blocks: tuple[Block, ...],
               env: dict[str, str] | None = None) -> list[BlockOutcome]:
    """Several consecutive blocks in one job: one round trip to the worker for all.

    ``env``: the parent's ``SOV_*`` settings (sandbox, limits) when the job was made; a
    long-lived worker forked from a forkserver would otherwise keep the ones of its start."""
    if env is not None:
        _apply_sov_env(env)
    _reuse_circuit(workload)
    return [run_block(decoder, workload, b) for b in blocks]


_CIRCUITS: dict[str, object] = {}


def _reuse_circuit(workload: QecWorkload) -> None:
    """Jobs ship lean workloads (no circuit): a worker builds each stream's circuit once
    (si1000's noise pass costs ~70 ms at d = 9) and hands it to every later job."""
    cached = getattr(workload, "__dict__", None)
    if cached is None or "_circuit" in cached:
        return
    circuit = _CIRCUITS.get(workload.stream_id)
    if circuit is None:
        if len(_CIRCUITS) > 16:
            _CIRCUITS.clear()
        circuit = _CIRCUITS[workload.stream_id] = workload._circuit
    else:
        cached["_circuit"] = circuit


def sov_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("SOV_")}


def _apply_sov_env(env: dict[str, str]) -> None:
    if env == sov_env():
        return
    _COMPILED.clear()  # compiled under other settings (e.g. sandbox on/off)
    for k in [k for k in os.environ if k.startswith("SOV_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)


def _lean(workload: QecWorkload) -> QecWorkload:
    """A copy without the cached stim circuit, so shipping it to workers costs ~100 bytes
    instead of the circuit's text (each worker rebuilds the circuit once)."""
    import dataclasses

    if dataclasses.is_dataclass(workload) and "_circuit" in getattr(workload, "__dict__", {}):
        try:
            return dataclasses.replace(workload)
        except (TypeError, ValueError):
            return workload
    return workload


def blocks_per_job(n_blocks: int, workers: int, *, max_per_job: int = 4) -> int:
    """Group blocks so that every worker gets at least ~4 jobs (load balance, prompt
    ``max_errors`` stops) while the per-job round trip is paid once per few blocks."""
    return max(1, min(max_per_job, n_blocks // (4 * max(1, workers))))


def block_jobs(decoder: Decoder, workload: QecWorkload, todo: list[Block], *, workers: int,
               fp: str | None = None) -> list[Job]:
    """The executor jobs that run ``todo``: keyed by task and first block, so two askers
    of the same blocks share one run."""
    fp = fp or fingerprint(decoder)
    lean = _lean(workload)
    env = sov_env()
    per = blocks_per_job(len(todo), workers)
    # the last 2 x workers blocks go one per job, so no core idles through a long last job
    tail = min(len(todo), 2 * max(1, workers)) if per > 1 else 0
    head = len(todo) - tail
    groups = [tuple(todo[i:min(i + per, head)]) for i in range(0, head, per)]
    groups += [(b,) for b in todo[head:]]
    jobs = []
    for group in groups:
        key = f"{fp[:16]}-{workload.stream_id[:16]}-{group[0].index}-{group[-1].index}-{group[-1].shots}"
        jobs.append(Job(key, run_blocks, (decoder, lean, group, env)))
    return jobs


# -- parent side -------------------------------------------------------------------------

class RecordPacer:
    """When the parent writes the blocks it has gathered. Each write is a transaction that
    opens the store (~30 ms of CPU, more when the workers keep every core busy), taken
    from the workers' cores: the writer keeps its share of the time under ~2 % (50x the
    last write's cost), writing at least every ``most`` seconds, so a killed run (``kill
    -9``; an interrupt writes what it has) loses at most that much work, and as soon as
    ``max_blocks`` are waiting, so the parent's memory does not grow with fast decoders."""

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


def replay(decoder: Decoder, workload: QecWorkload, *, store: "Store | None" = None,
           run_id: str | None = None, workers: int = 1, max_errors: int | None = None,
           progress: ProgressFn | None = None, executor: "Executor | None" = None,
           record_result: bool = False) -> TaskResult:
    """Run ``decoder`` on every shot of ``workload`` (reusing recorded blocks).

    ``executor`` (``verifier.engine.executors``) says where the blocks run; by default this
    process when ``workers`` is 1, else the process-wide pool of ``workers`` processes.
    ``record_result``: when the replay completes, record the task's result row of run
    ``run_id`` in the same transaction as the last blocks (each opening of the store
    costs ~30 ms, at the end of the run where nothing else overlaps it)."""
    fp = fingerprint(decoder)
    done = (store.open_task(fp, decoder.name, decoder.model_sha256, decoder.fingerprint_spec(), workload)
            if store is not None else {})
    wanted = workload.blocks()
    total = Stats()
    todo: list[Block] = []
    for b in wanted:
        r = done.get((b.index, b.shots))
        if r is None:
            todo.append(b)
        else:
            total += Stats(r.shots, r.errors, r.seconds, r.sample_seconds)
    reused = total.shots
    if progress:
        progress(total, workload.shots)

    pending_records: list[BlockOutcome] = []
    pacer = RecordPacer()

    def absorb(outcome: BlockOutcome) -> None:
        nonlocal total
        total += outcome.stats
        if store is not None:
            pending_records.append(outcome)
            if pacer.due(len(pending_records)):
                t0 = time.monotonic()
                store.record_blocks(fp, workload.stream_id, run_id, pending_records)
                pending_records.clear()
                pacer.wrote(t0)
        if progress:
            progress(total, workload.shots)

    def enough() -> bool:
        return max_errors is not None and total.errors >= max_errors

    result: TaskResult | None = None
    try:
        if todo and not enough():
            if executor is None:
                n = min(workers, len(todo))
                executor = InlineExecutor() if n <= 1 else LocalExecutor(workers)
            jobs = block_jobs(decoder, workload, todo, workers=executor.workers, fp=fp)
            for _job, outcomes in executor.map_unordered(jobs, stop=enough):
                for outcome in outcomes:
                    absorb(outcome)
        result = TaskResult(decoder.name, fp, decoder.model_sha256, workload, total,
                            reused_shots=reused, run_id=run_id)
    finally:  # on an error too: what finished is kept
        rows = [result.result_row()] if result is not None and record_result and run_id else []
        if store is not None and (pending_records or rows):
            store.record_blocks(fp, workload.stream_id, run_id, pending_records, results=rows)
    return result
