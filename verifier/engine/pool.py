"""The local worker pool: one process pool per sov process, its workers forked from a
*forkserver* that has already imported numpy, stim and PyMatching.

Forking from a forkserver is cheap, safe next to onnxruntime's and DuckDB's threads,
and its workers re-import nothing of the parent's ``__main__``; a script read from
standard input, which no worker could re-import, gets plain ``fork`` workers instead.
The pool lives as long as the process, so a sweep of many tasks (or a test session)
pays worker start-up once; every worker ends as soon as the process that owns the pool
is gone.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

# what the forkserver imports before forking workers; the last one makes the forkserver
# end without interpreter teardown (verifier.engine.forkserver_exit)
PRELOAD = ["numpy", "stim", "pymatching", "verifier.engine.blocks", "verifier.qec.workload",
           "verifier.stats.binomial", "verifier.engine.forkserver_exit"]


def _pool_init(owner: int | None = None) -> None:  # keep each worker to one core's worth of threads
    import signal

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if owner:
        # the sov process decides when its workers stop (stop_pool), even when a signal
        # reaches its whole process group (Ctrl-C, systemd, a CI runner cancelling a job)
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
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
        # or forkserver worker (its __main__ has no file to import: the workers die or
        # hang); fork needs no re-import
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


def _detach_pool():
    """Take the pool out of this process's hands (None when there is none), once a worker
    still being started has finished: one started when this process exits (an error right
    after the warm-up began) would find the pool's semaphores gone and print a traceback."""
    with _POOL_LOCK:
        pool = _POOL.pop("pool", None)
        warming = _POOL.pop("warming", None)
        _POOL.clear()
    if warming is not None:
        warming.join(timeout=30.0)
    return pool


def shutdown_pool() -> None:
    pool = _detach_pool()
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def stop_pool() -> None:
    """Stop the pool now, its running jobs included (Ctrl-C, SIGTERM, SIGHUP): queued jobs
    are cancelled, the workers killed and reaped; their model sandboxes die with them."""
    pool = _detach_pool()
    if pool is None:
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    for p in procs:
        try:
            p.join(timeout=10.0)
        except (OSError, ValueError, AssertionError):
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def _shutdown_at_exit() -> None:
    """(Re-)register :func:`shutdown_pool` at exit, after multiprocessing's own exit hook
    (exit hooks run last-registered first): the pool must be shut down, and a worker
    still starting waited for, before multiprocessing unlinks the semaphores a starting
    worker reads (else that worker prints a traceback as this process exits)."""
    atexit.unregister(shutdown_pool)
    atexit.register(shutdown_pool)


def warm_pool(pool, workers: int) -> None:
    """Have ``pool`` start its ``workers`` processes now, from a thread (starting the
    forkserver blocks until it has imported), once per pool."""
    if _POOL.get("warmed") or _POOL.get("pool") is not pool:
        return
    _POOL["warmed"] = True

    def start() -> None:
        try:
            for _ in range(workers):
                pool.submit(os.getpid)
        except RuntimeError:  # the pool was shut down meanwhile
            pass

    thread = threading.Thread(target=start, name="sov-pool-warm", daemon=True)
    _POOL["warming"] = thread
    thread.start()
