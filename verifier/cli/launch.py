"""The ``sov`` console script: starts the worker processes' forkserver, when the command
will replay shots on local workers, before typer is even imported, then runs the CLI.

Typer's import and command-line parsing take ~0.3 s, and the forkserver's imports (numpy,
stim, PyMatching) ~0.9 s of one core; started here, the two overlap instead of following
each other. This module only *guesses* from argv: the command itself starts the forkserver
again (idempotently) once typer has parsed its options (``verifier.cli.options.start_workers``),
so a wrong guess costs one idle process and nothing else. It imports nothing heavy,
and ends the process without the interpreter's module teardown (see :func:`_exit`).
"""

from __future__ import annotations

import sys

# the commands that replay shots on a pool of local worker processes
REPLAY_COMMANDS = {("qec", "run"), ("qec", "sweep"), ("qec", "threshold"), ("qec", "lambda")}
GLOBAL_FLAGS = {"--debug"}


def _option(args: list[str], name: str) -> str | None:
    """The last value given to ``name`` (``--name V`` or ``--name=V``), if any."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def will_use_local_workers(args: list[str]) -> bool:
    """Whether ``sov ARGS`` looks like a replay command on more than one local worker."""
    words = [a for a in args if a not in GLOBAL_FLAGS]
    if tuple(words[:2]) not in REPLAY_COMMANDS or "--help" in words or "-h" in words:
        return False
    if (_option(words, "--executor") or "local").lower() != "local":
        return False
    workers = _option(words, "--workers")
    if workers is None:
        from verifier.engine.executors import default_workers

        return default_workers() > 1
    try:
        return int(workers) > 1
    except ValueError:
        return False  # typer will say what is wrong with it


def entry() -> None:  # pragma: no cover - exercised through the console script in tests
    if will_use_local_workers(sys.argv[1:]):
        from verifier.engine.pool import start_forkserver

        start_forkserver()
    from verifier.cli.app import main

    _exit(main())


def _exit(code: int) -> None:
    """End the process as the interpreter would (join threads, run the exit hooks: the
    worker pool, the model sandboxes, temporary files, logging), then skip the teardown
    that only frees memory: clearing the modules of numpy, DuckDB, onnxruntime, rich and
    typer takes ~0.1 s after every command. Every file sov writes is closed by then."""
    import atexit
    import os
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    run_hooks = getattr(atexit, "_run_exitfuncs", None)
    if shutdown is None or run_hooks is None:  # pragma: no cover - another interpreter
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    shutdown()
    run_hooks()
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    os._exit(code)


def _flush(stream) -> None:
    try:
        stream.flush()
    except (OSError, ValueError):  # a closed or broken pipe: nothing more to say on it
        pass
