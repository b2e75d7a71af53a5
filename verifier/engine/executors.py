"""Where replay work runs: in this process, in a local process pool, or on a Dask cluster.

An :class:`Executor` runs :class:`Job` values (a picklable function and its arguments,
named by a key) and hands their results back, in completion order, to the one process
that records them: the parent. Workers never write to the store.

- ``inline``: in this process, one job after another (``--workers 1``).
- ``local``: the process pool of :mod:`verifier.engine.pool`, which lives as long as
  this process (workers forked from a forkserver that has imported numpy, stim and
  PyMatching).
- ``dask``: a Dask distributed cluster (``--executor dask --scheduler ADDR``), or a
  ``LocalCluster`` on this machine when no scheduler is given. Jobs are submitted under
  their key, so Dask itself runs a job that two tasks ask for only once.

:meth:`Executor.map_unordered` keeps a bounded window of jobs in flight (memory does not
grow with the number of shots), de-duplicates jobs by key, stops submitting when asked to
(``max_errors``), and cancels what is still queued on error or interruption. While it
waits it can call ``idle()`` every ``every`` seconds: the run loop reads then how far the
jobs in flight have got (``verifier.engine.progress``; ``progress_channel`` says how this
backend's jobs report: a callable in this process, a side file, or not at all).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from verifier.engine.pool import shared_pool, shutdown_pool, warm_pool
from verifier.errors import UsageError

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Job:
    key: str  # the same key means the same work: run once, delivered to every asker
    fn: Callable[..., Any]
    args: tuple
    tag: Any = None  # the caller's: which of its tasks the result belongs to


class Executor:
    """Runs jobs somewhere and returns their results to the calling (recording) process."""

    name = "executor"
    workers = 1
    progress_channel: str | None = None  # "call" (this process), "file" (this machine), None

    # -- what each backend provides --------------------------------------------------
    def submit(self, job: Job) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def wait_first(self, handles: set, timeout: float | None = None) -> tuple[set, set]:  # pragma: no cover
        """(done, pending): at least one done, or none after ``timeout`` seconds."""
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
                      stop: Callable[[], bool] | None = None, idle: Callable[[], None] | None = None,
                      every: float = 0.25) -> Iterator[tuple[Job, Any]]:
        """Yield ``(job, result)`` as jobs finish. At most ``window`` distinct jobs are in
        flight; a job whose key is in flight (or recently finished) is not run again but
        its result is delivered for it too. Once ``stop()`` is true no new job starts.
        ``idle()`` is called after every ``every`` seconds in which no job finished."""
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
                if idle is None:
                    done, _ = self.wait_first(set(inflight))
                else:
                    done, _ = self.wait_first(set(inflight), timeout=every)
                    if not done:
                        idle()
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
    progress_channel = "call"

    def map_unordered(self, jobs: Iterable[Job], *, window: int | None = None,
                      stop: Callable[[], bool] | None = None, idle: Callable[[], None] | None = None,
                      every: float = 0.25) -> Iterator[tuple[Job, Any]]:
        done: OrderedDict[str, Any] = OrderedDict()
        for job in jobs:
            if stop is not None and stop():
                return
            if job.key not in done:
                done[job.key] = job.fn(*job.args)
                while len(done) > 64:
                    done.popitem(last=False)
            yield job, done[job.key]


class LocalExecutor(Executor):
    """Worker processes on this machine (one shared pool per process lifetime)."""

    name = "local"
    progress_channel = "file"

    def __init__(self, workers: int, *, start_method: str | None = None, warm: bool = False):
        self.workers = max(1, int(workers))
        self.start_method = start_method
        self._pool = shared_pool(self.workers, start_method=start_method)
        if warm:
            self.warm()

    def warm(self) -> None:
        """Start the worker processes now (they import numpy, stim, PyMatching), so that
        their start overlaps the parent's own set-up (store transactions, model checks)."""
        warm_pool(self._pool, self.workers)

    def submit(self, job: Job) -> Any:
        try:
            return self._pool.submit(job.fn, *job.args)
        except RuntimeError:  # the shared pool broke (a worker died): start a fresh one
            self._pool = shared_pool(self.workers, start_method=self.start_method)
            return self._pool.submit(job.fn, *job.args)

    def wait_first(self, handles: set, timeout: float | None = None) -> tuple[set, set]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, pending = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
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

    def wait_first(self, handles: set, timeout: float | None = None) -> tuple[set, set]:
        with self.client.as_current():
            try:
                done, pending = self._distributed.wait(list(handles), timeout=timeout,
                                                       return_when="FIRST_COMPLETED")
            except TimeoutError:
                return set(), set(handles)
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
    from verifier.environment import cores

    return max(1, cores())


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
