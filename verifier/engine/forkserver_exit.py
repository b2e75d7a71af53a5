"""Imported by the local workers' forkserver only (it is the last module of
``verifier.engine.pool.PRELOAD``): lets the forkserver end at once when the sov process that
started it exits.

The forkserver leaves its loop by raising SystemExit once its last client is gone; the
interpreter would then tear down numpy, stim, PyMatching, networkx and scipy, ~0.2 s
during which the forkserver still holds the user's stdout and stderr, so a pipe
(``sov ... | tee log``, a CI step capturing output) stays open after sov itself has
ended. The exit hook registered here skips that teardown; the forkserver has nothing
to flush or clean. Imported anywhere else, this module does nothing.
"""

from __future__ import annotations

import atexit
import os
import sys


def _in_forkserver() -> bool:
    fs = sys.modules.get("multiprocessing.forkserver")
    if fs is None:
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is fs.main.__code__:
            return True
        frame = frame.f_back
    return False


def _end_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


if _in_forkserver():
    atexit.register(_end_now)
