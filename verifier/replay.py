"""The replay engine: run one task (decoder x workload) block by block.

Blocks already in the store for this decoder fingerprint and workload stream are not
run again; the rest run in worker processes (``workers`` > 1) or in this process, each
worker compiling the decoder once per workload. The parent process is the one writer:
it records each finished block (per-shot predictions and failures, bit-packed) in
short transactions, so an interrupted run loses at most the blocks in flight, and the
same command resumes from what was recorded.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from verifier.decoding import Decoder, fingerprint
from verifier.stats import Stats, clopper_pearson, per_round
from verifier.workload import Block, QecWorkload

if TYPE_CHECKING:
    from verifier.store import Store

RECORD_EVERY_S = 1.0
ProgressFn = Callable[[Stats, int], None]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@dataclass(frozen=True)
class BlockOutcome:
    block: Block
    stats: Stats
    predictions: bytes  # uint8[shots, ceil(O/8)], little-endian bit-packed, C order
    failures: bytes  # np.packbits(fail, bitorder="little")


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

_COMPILED: dict[tuple[str, str], object] = {}


def _compiled(decoder: Decoder, workload: QecWorkload):
    key = (fingerprint(decoder), workload.stream_id)
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
    return BlockOutcome(block, Stats(shots=block.shots, errors=int(fail.sum()), seconds=t2 - t1,
                                     sample_seconds=t1 - t0),
                        pred.tobytes(), np.packbits(fail, bitorder="little").tobytes())


def _pool_init() -> None:  # keep each worker to one core's worth of threads
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# -- parent side -------------------------------------------------------------------------

def replay(decoder: Decoder, workload: QecWorkload, *, store: "Store | None" = None,
           run_id: str | None = None, workers: int = 1, max_errors: int | None = None,
           progress: ProgressFn | None = None) -> TaskResult:
    """Run ``decoder`` on every shot of ``workload`` (reusing recorded blocks)."""
    fp = fingerprint(decoder)
    if store is not None:
        store.record_decoder(fp, decoder.name, decoder.model_sha256, decoder.fingerprint_spec())
        store.record_workload(workload)
    wanted = workload.blocks()
    done = store.recorded_blocks(fp, workload.stream_id) if store is not None else {}
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
    last_record = time.monotonic()

    def absorb(outcome: BlockOutcome) -> None:
        nonlocal total, last_record
        total += outcome.stats
        if store is not None:
            pending_records.append(outcome)
            if time.monotonic() - last_record >= RECORD_EVERY_S:
                store.record_blocks(fp, workload.stream_id, run_id, pending_records)
                pending_records.clear()
                last_record = time.monotonic()
        if progress:
            progress(total, workload.shots)

    def enough() -> bool:
        return max_errors is not None and total.errors >= max_errors

    try:
        if todo and not enough():
            if workers <= 1 or len(todo) == 1:
                for b in todo:
                    absorb(run_block(decoder, workload, b))
                    if enough():
                        break
            else:
                _run_pool(decoder, workload, todo, workers, absorb, enough)
    finally:
        if store is not None and pending_records:
            store.record_blocks(fp, workload.stream_id, run_id, pending_records)
    return TaskResult(decoder.name, fp, decoder.model_sha256, workload, total,
                      reused_shots=reused, run_id=run_id)


def _run_pool(decoder: Decoder, workload: QecWorkload, todo: list[Block], workers: int,
              absorb: Callable[[BlockOutcome], None], enough: Callable[[], bool]) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # safe with onnxruntime threads and an open DuckDB
    queue = list(reversed(todo))
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                             initializer=_pool_init) as pool:
        inflight: set[Future] = set()
        try:
            while queue or inflight:
                while queue and len(inflight) < 2 * workers and not enough():
                    inflight.add(pool.submit(run_block, decoder, workload, queue.pop()))
                if not inflight:
                    break
                finished, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for f in finished:
                    absorb(f.result())
                if enough():
                    queue.clear()
        except BaseException:
            for f in inflight:
                f.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
