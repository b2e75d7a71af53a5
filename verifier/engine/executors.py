"""Where replay work runs: in this process, in a local process pool, or on a Dask cluster.

An :class:`Executor` runs :class:`Job` values (a picklable function and its arguments,
named by a key) and hands their results back, in completion order, to the one process
that records them: the parent. Workers never write to the store.

- ``inline``: in this process, one job after another (``--workers 1``).
- ``local``: a process pool that lives as long as this process, so a sweep of many
  tasks (or a test session) pays worker start-up once. Workers are forked from a
  *forkserver* that has already imported numpy, stim and PyMatching, which is cheap,
  safe next to onnxruntime's and DuckDB's threads, and works when the main script is
  read from standard input.
- ``dask``: a Dask distributed cluster (``--executor dask --scheduler ADDR``), or a
  ``LocalCluster`` on this machine when no scheduler is given. Jobs are submitted under
  their key, so Dask itself runs a job that two tasks ask for only once.

:meth:`Executor.map_unordered` keeps a bounded window of jobs in flight (memory does not
grow with the number of shots), de-duplicates jobs by key, stops submitting when asked to
(``max_errors``), and cancels what is still queued on error or interruption.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from verifier.errors import UsageError

EXECUTORS = ("local", "dask")
PRELOAD = ["numpy", "stim", "pymatching", "verifier.engine.replay", "verifier.qec.workload", "verifier.stats.binomial",
           "verifier.engine.forkserver_exit"]  # the last: it makes the forkserver end without teardown


@dataclass(frozen=True)
class Job:
    key: str  # the same key means the same work: run once, delivered to every asker
    fn: Callable[..., Any]
    args: tuple


class Executor:
    """Runs jobs somewhere and returns their results to the calling (recording) process."""

    name = "executor"
    workers = 1

    # -- what each backend provides --------------------------------------------------
    def submit(self, job: Job) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def wait_first(self, handles: set) -> tuple[set, set]:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self, handle: Any) -> Any:
        return handle.result()

    def cancel(self, handles: Iterable[Any]) -> None:
        for h in handles:
            h.cancel()

    def release(self, handle: Any) -> None:
        """Forget a finished job's result where the backend keeps it (Dask)."""

    def close(self) -> None:
        """Give back what this executor owns (a shared pool stays for the next caller)."""

    def info(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the driver every backend shares ---------------------------------------------
    def map_unordered(self, jobs: Iterable[Job], *, window: int | None = None,
                      stop: Callable[[], bool] | None = None) -> Iterator[tuple[Job, Any]]:
        """Yield ``(job, result)`` as jobs finish. At most ``window`` distinct jobs are in
        flight; a job whose key is in flight (or recently finished) is not run again but
        its result is delivered for it too. Once ``stop()`` is true no new job starts."""
        window = window or 2 * max(1, self.workers)
        stop = stop or (lambda: False)
        it = iter(jobs)
        inflight: dict[Any, list[Job]] = {}  # handle -> the jobs waiting for it
        by_key: dict[str, Any] = {}
        recent: OrderedDict[str, Any] = OrderedDict()  # key -> result, a few finished ones
        exhausted = False
        try:
            while True:
                while not exhausted and len(inflight) < window and not stop():
                    job = next(it, None)
                    if job is None:
                        exhausted = True
                        break
                    if job.key in by_key:
                        inflight[by_key[job.key]].append(job)
                        continue
                    if job.key in recent:
                        yield job, recent[job.key]
                        continue
                    h = self.submit(job)
                    inflight[h] = [job]
                    by_key[job.key] = h
                if not inflight:
                    return
                done, _ = self.wait_first(set(inflight))
                for h in done:
                    waiting = inflight.pop(h)
                    by_key.pop(waiting[0].key, None)
                    res = self.result(h)  # raises the worker's exception here
                    self.release(h)
                    recent[waiting[0].key] = res
                    while len(recent) > 64:
                        recent.popitem(last=False)
                    for job in waiting:
                        yield job, res
        finally:
            if inflight:
                self.cancel(list(inflight))


class InlineExecutor(Executor):
    """Runs every job in this process, in order."""

    name = "inline"

    def map_unordered(self, jobs: Iterable[Job], *, window: int | None = None,
                      stop: Callable[[], bool] | None = None) -> Iterator[tuple[Job, Any]]:
        done: OrderedDict[str, Any] = OrderedDict()
        for job in jobs:
            if stop is not None and stop():
                return
            if job.key not in done:
                done[job.key] = job.fn(*job.args)
                while len(done) > 64:
                    done.popitem(last=False)
            yield job, done[job.key]


# -- local process pool ----------------------------------------------------------------------

def _pool_init(owner: int | None = None) -> None:  # keep each worker to one core's worth of threads
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if owner:
        _exit_with(owner)


def _exit_with(owner: int) -> None:
    """End this worker as soon as the sov process that owns the pool is gone, ``kill -9``
    included (a pool worker otherwise waits for work forever, and keeps its model sandbox)."""
    import select
    import time

    def watch() -> None:
        try:
            fd = os.pidfd_open(owner)
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])  # readable once the owner has exited
            os._exit(1)
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="sov-owner-watch", daemon=True).start()


_POOL_LOCK = threading.Lock()
_POOL: dict[str, Any] = {}


def _mp_context(start_method: str | None = None):
    import multiprocessing as mp

    method = start_method or os.environ.get("SOV_START_METHOD") or (
        "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if method in ("forkserver", "spawn") and not start_method and _main_not_importable() \
            and "fork" in mp.get_all_start_methods():
        # a script read from standard input (python -) cannot be re-imported by a spawned
        # or forkserver worker (FACTS.md); fork needs no re-import
        method = "fork"
    ctx = mp.get_context(method)
    if method == "forkserver":
        # never '__main__': a script read from stdin (python -) cannot be re-imported
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start_forkserver(start_method: str | None = None) -> None:
    """Start the forkserver that local workers are forked from, without waiting for it:
    it imports numpy, stim and PyMatching (~0.9 s of one core) while this process goes
    on. Nothing else is created (no pool, no semaphores), so an early exit leaves nothing
    behind; the forkserver ends with this process."""
    ctx = _mp_context(start_method)
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the forkserver's workers
        forkserver.ensure_running()


def _main_not_importable() -> bool:
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return isinstance(main_file, str) and (main_file.startswith("<") or not os.path.exists(main_file))


def shared_pool(workers: int, *, start_method: str | None = None):
    """The process pool of this process (created on first use, resized on demand)."""
    from concurrent.futures import ProcessPoolExecutor

    with _POOL_LOCK:
        pool = _POOL.get("pool")
        if pool is not None and (_POOL.get("workers") != workers or getattr(pool, "_broken", False)
                                 or _POOL.get("start_method") != start_method):
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        if pool is None:
            os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the forkserver
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(start_method),
                                       initializer=_pool_init, initargs=(os.getpid(),))
            _shutdown_at_exit()
            _POOL.update(pool=pool, workers=workers, start_method=start_method, warmed=False)
        return pool


def shutdown_pool() -> None:
    with _POOL_LOCK:
        pool = _POOL.pop("pool", None)
        warming = _POOL.pop("warming", None)
        _POOL.clear()
    if warming is not None:
        # a worker still being started when this process exits (an error right after the
        # warm-up began) would find the pool's semaphores gone and print a traceback
        warming.join(timeout=30.0)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _shutdown_at_exit() -> None:
    """(Re-)register :func:`shutdown_pool` at exit, after multiprocessing's own exit hook
    (exit hooks run last-registered first): the pool must be shut down, and a worker
    still starting waited for, before multiprocessing unlinks the semaphores a starting
    worker reads (else that worker prints a traceback as this process exits)."""
    atexit.unregister(shutdown_pool)
    atexit.register(shutdown_pool)


class LocalExecutor(Executor):
    """Worker processes on this machine (one shared pool per process lifetime)."""

    name = "local"

    def __init__(self, workers: int, *, start_method: str | None = None, warm: bool = False):
        self.workers = max(1, int(workers))
        self.start_method = start_method
        self._pool = shared_pool(self.workers, start_method=start_method)
        if warm:
            self.warm()

    def warm(self) -> None:
        """Start the worker processes now (they import numpy, stim, PyMatching), so that
        their start overlaps the parent's own set-up (store transactions, model checks)."""
        if _POOL.get("warmed"):
            return
        _POOL["warmed"] = True
        pool = self._pool

        def start() -> None:  # in a thread: starting the forkserver blocks until it imported
            try:
                for _ in range(self.workers):
                    pool.submit(os.getpid)
            except RuntimeError:  # the pool was shut down meanwhile
                pass

        thread = threading.Thread(target=start, name="sov-pool-warm", daemon=True)
        _POOL["warming"] = thread
        thread.start()

    def submit(self, job: Job) -> Any:
        try:
            return self._pool.submit(job.fn, *job.args)
        except RuntimeError:  # the shared pool broke (a worker died): start a fresh one
            self._pool = shared_pool(self.workers, start_method=self.start_method)
            return self._pool.submit(job.fn, *job.args)

    def wait_first(self, handles: set) -> tuple[set, set]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, pending = wait(handles, return_when=FIRST_COMPLETED)
        return set(done), set(pending)

    def result(self, handle: Any) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return handle.result()
        except BrokenProcessPool:
            shutdown_pool()
            raise UsageError("a worker process died (out of memory or killed); "
                             "retry with fewer --workers") from None


# -- Dask distributed ------------------------------------------------------------------------

class DaskExecutor(Executor):
    """Jobs on a Dask distributed cluster. ``scheduler`` is an address
    (``tcp://host:8786``), or None for a LocalCluster of ``workers`` processes on this
    machine (one thread each). Workers need sov installed and the same model files at the
    same paths (a shared filesystem), as every Dask deployment does."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, workers: int | None = None,
                 client: Any = None, timeout_s: float | None = None):
        try:
            import distributed
        except ImportError:
            raise UsageError("--executor dask needs Dask: pip install 'sov-verifier[dask]' "
                             "(dask[distributed])") from None
        self._distributed = distributed
        if timeout_s is None:  # how long to try to reach a scheduler / wait for workers
            timeout_s = float(os.environ.get("SOV_DASK_TIMEOUT_S", "20"))
        self._cluster = None
        self._own_client = client is None
        self.scheduler = scheduler
        if client is not None:
            self.client = client
        elif scheduler:
            try:
                self.client = distributed.Client(scheduler, timeout=f"{timeout_s}s",
                                                 set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {first}") from None
        else:
            import logging

            n = workers or default_workers()
            self._cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                                     processes=True, dashboard_address=None,
                                                     silence_logs=logging.ERROR)
            self.client = distributed.Client(self._cluster, set_as_default=False)
            self.client.wait_for_workers(n, timeout=timeout_s)
        threads = sum(self.client.nthreads().values())
        self.workers = max(1, threads)

    def submit(self, job: Job) -> Any:
        # the key names the work: Dask runs a key that is already known only once
        return self.client.submit(job.fn, *job.args, key=f"sov-{job.key}", pure=False)

    def wait_first(self, handles: set) -> tuple[set, set]:
        with self.client.as_current():
            done, pending = self._distributed.wait(list(handles), return_when="FIRST_COMPLETED")
        return set(done), set(pending)

    def cancel(self, handles: Iterable[Any]) -> None:
        hs = list(handles)
        if hs:
            try:
                self.client.cancel(hs)
            except Exception:  # closing anyway
                pass

    def release(self, handle: Any) -> None:
        handle.release()

    def info(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers,
                "scheduler": self.scheduler or "LocalCluster"}

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def default_workers() -> int:
    """The cores this process may use (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def make_executor(kind: str = "local", *, workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor the CLI flags name: ``local`` (inline when ``workers`` is 1) or ``dask``."""
    kind = (kind or "local").lower()
    if kind not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind == "dask":
        return DaskExecutor(scheduler, workers=workers)
    if scheduler:
        raise UsageError("--scheduler applies to --executor dask")
    return InlineExecutor() if workers <= 1 else LocalExecutor(workers, warm=True)


# -- adapter for verifier.engine.sweep (its BlockExecutor protocol: run(jobs, skip)) ----------------

def _run_sweep_group(decoder: Any, workload: Any, blocks: tuple, env: dict | None = None) -> list:
    from verifier.engine.replay import run_blocks

    return run_blocks(decoder, workload, blocks, env)


class SweepExecutor:
    """Runs the block jobs of ``verifier.engine.sweep`` (``BlockJob``: task, decoder, workload,
    block) on any :class:`Executor`: consecutive blocks of one task travel as one job,
    the workload without its cached circuit, keyed by decoder fingerprint and stream so
    identical work is run once; ``skip`` is asked as late as the window allows."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self.workers = executor.workers

    def run(self, jobs, skip):
        from verifier.qec.decoder import fingerprint
        from verifier.engine.replay import _lean, blocks_per_job, sov_env

        jobs = list(jobs)
        per = blocks_per_job(len(jobs), self.executor.workers)
        fps: dict[int, str] = {}
        leans: dict[int, Any] = {}
        env = sov_env()

        def groups() -> Iterator[Job]:
            group: list = []
            for j in jobs:
                if skip(j):
                    continue
                if group and (group[-1].task != j.task or len(group) >= per):
                    yield make(group)
                    group = []
                group.append(j)
            if group:
                yield make(group)

        def make(group: list) -> Job:
            first = group[0]
            fp = fps.get(id(first.decoder)) or fps.setdefault(id(first.decoder), fingerprint(first.decoder))
            lean = leans.get(first.task) or leans.setdefault(first.task, _lean(first.workload))
            blocks = tuple(g.block for g in group)
            key = (f"{fp[:16]}-{first.workload.stream_id[:16]}-{blocks[0].index}-"
                   f"{blocks[-1].index}-{blocks[-1].shots}")
            return _GroupJob(key, _run_sweep_group, (first.decoder, lean, blocks, env), tuple(group))

        for job, outcomes in self.executor.map_unordered(groups()):
            for bj, outcome in zip(job.block_jobs, outcomes):
                yield bj, outcome

    def close(self) -> None:
        self.executor.close()


@dataclass(frozen=True)
class _GroupJob(Job):
    block_jobs: tuple = ()
