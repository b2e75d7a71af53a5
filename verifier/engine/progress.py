"""Shots decoded inside a job, before its blocks come back: what moves a slow model's bar.

A block of a slow model (a large ONNX network at tens of shots per second) can take
minutes; the run loop only learns its outcome when the whole job returns. So the worker
counts what it has decoded so far: a batched decoder calls :func:`decoded` after every
inference call, the block runner (``verifier.engine.blocks.run_blocks``) adds each block
as it completes, and the running count of the job goes to a *sink*:

- in this process (the inline executor) a callable, which the loop turns into a progress
  report at once;
- in a pool worker, an 8-byte side file named for the job (:class:`SideFiles`) that the
  parent reads while it waits for results. A file needs no lock, no manager process and
  nothing inherited at the pool's start (the pool outlives runs); a worker that cannot
  write it just reports nothing.

The counts are only ever shown: outcomes, stored rows and predictions never depend on
them. When a job's results arrive the loop drops its partial count before adding the
blocks' stats, so no shot is counted twice, and every partial count is capped at the
job's shots.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import threading
from typing import Callable, Union

_LOCAL = threading.local()
_COUNT = struct.Struct("<q")

Sink = Union[str, Callable[[int], None]]  # a side file's path, or a callable in this process


def decoded(rows: int) -> None:
    """A decoder has decoded ``rows`` more shots of the block being run (one inference
    batch). Outside a job that reports progress this is one attribute lookup."""
    counter = getattr(_LOCAL, "counter", None)
    if counter is not None:
        counter.add(rows)


class JobCounter:
    """The shots a job has decoded: its finished blocks, plus the batches of the block
    being decoded (never more than that block's shots)."""

    def __init__(self, sink: Sink):
        # in this process a finished block is reported by the loop itself once the job is
        # back; only batches are reported from inside the job
        self.in_process = callable(sink)
        self._write = sink if callable(sink) else _FileWriter(sink)
        self.done = 0
        self.within = 0
        self.cap = 0

    def __enter__(self) -> "JobCounter":
        _LOCAL.counter = self
        return self

    def __exit__(self, *exc: object) -> None:
        _LOCAL.counter = None
        if isinstance(self._write, _FileWriter):
            self._write.close()

    def start_block(self, shots: int) -> None:
        self.within, self.cap = 0, shots

    def add(self, rows: int) -> None:
        within = min(self.cap, self.within + max(0, int(rows)))
        if within != self.within:
            self.within = within
            self._write(self.done + within)

    def end_block(self) -> None:
        self.done += self.cap
        self.within = self.cap = 0
        if not self.in_process:
            self._write(self.done)


class _FileWriter:
    """The worker's side of a side file: the count at offset 0, rewritten in place."""

    def __init__(self, path: str):
        self.path, self.fd = path, None

    def __call__(self, count: int) -> None:
        if self.fd is None:
            if self.path == "":
                return
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            except OSError:  # the parent has gone or cleaned up: nothing to report to
                self.path = ""
                return
        try:
            os.pwrite(self.fd, _COUNT.pack(count), 0)
        except OSError:
            pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


PREFIX = "sov-progress-"


def _remove_orphans(where: str) -> None:
    """Side-file folders left by a parent that was killed (``kill -9`` skips the clean-up):
    their name carries the parent's pid; a folder whose process is gone is removed."""
    try:
        names = os.listdir(where)
    except OSError:
        return
    for name in names:
        pid = name[len(PREFIX):].split("-", 1)[0]
        if not name.startswith(PREFIX) or not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(os.path.join(where, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive, not ours to judge
        return True
    return True


class SideFiles:
    """The parent's side: one side file per job in flight, in a private temporary folder
    (in memory where ``/dev/shm`` exists), removed with :meth:`close`."""

    def __init__(self) -> None:
        shm = "/dev/shm"
        where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        _remove_orphans(where or tempfile.gettempdir())
        self.folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=where)
        self.jobs: dict[str, tuple[str, int, int]] = {}  # key -> (path, shots, last count read)
        self.made = 0

    def sink(self, key: str, shots: int) -> str:
        """The side file for job ``key`` of ``shots`` shots (one per key: a job two tasks
        ask for runs once)."""
        old = self.jobs.get(key)
        if old is not None:
            return old[0]
        self.made += 1
        path = os.path.join(self.folder, str(self.made))
        self.jobs[key] = (path, shots, 0)
        return path

    def partial(self, *, read: bool = True) -> int:
        """Shots decoded so far by the jobs not yet back: each count read never goes down
        (a torn read cannot make the bar step back) and stays within its job's shots.
        ``read=False``: the counts as last read (no file is opened)."""
        if not read:
            return sum(last for _, _, last in self.jobs.values())
        total = 0
        for key, (path, shots, last) in list(self.jobs.items()):
            try:
                with open(path, "rb") as f:
                    raw = f.read(_COUNT.size)
            except OSError:
                raw = b""
            if len(raw) == _COUNT.size:
                now = min(shots, max(last, _COUNT.unpack(raw)[0]))
                if now != last:
                    self.jobs[key] = (path, shots, now)
                    last = now
            total += last
        return total

    def finished(self, key: str) -> None:
        """Job ``key`` is back: its blocks now count in full, its side file goes."""
        entry = self.jobs.pop(key, None)
        if entry is not None:
            try:
                os.unlink(entry[0])
            except OSError:
                pass

    def close(self) -> None:
        self.jobs.clear()
        shutil.rmtree(self.folder, ignore_errors=True)
