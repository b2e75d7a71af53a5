"""Option definitions shared by every command, and the small helpers that turn them into
library values (workloads, decoders, the store, JSON output).

Heavy libraries are imported inside the helpers, never at module level, so that
``sov --help`` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from verifier.errors import UsageError

# -- shared options -------------------------------------------------------------------------

DbOpt = Annotated[Optional[Path], typer.Option("--db", help="DuckDB store file [default: $SOV_DB or ./sov.duckdb].",
                                               show_default=False)]
JsonOpt = Annotated[Optional[str], typer.Option("--json", metavar="FILE",
                                                help="Write machine-readable results to FILE ('-' = stdout).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", min=1, help="Worker processes [default: all cores].",
                                                   show_default=False)]

DistanceOpt = Annotated[Optional[int], typer.Option("--distance", "-d", min=2, help="Code distance.")]
RoundsOpt = Annotated[Optional[int], typer.Option("--rounds", "-r", min=1, help="QEC rounds [default: distance].",
                                                  show_default=False)]
BasisOpt = Annotated[str, typer.Option("--basis", help="Memory basis: x or z.")]
NoiseOpt = Annotated[str, typer.Option("--noise", help="Noise model: uniform or si1000.")]
POpt = Annotated[Optional[float], typer.Option("--p", help="Physical error rate.")]
ShotsOpt = Annotated[int, typer.Option("--shots", min=1, help="Shots to replay.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Sampling seed.")]
CircuitOpt = Annotated[Optional[Path], typer.Option("--circuit", metavar="FILE.stim",
                                                    help="Your own stim circuit (sampled, or with --dets/--obs replayed).")]
DetsOpt = Annotated[Optional[Path], typer.Option("--dets", metavar="FILE", help="Recorded detection events.")]
ObsOpt = Annotated[Optional[Path], typer.Option("--obs", metavar="FILE", help="Recorded observable flips.")]
DataFormatOpt = Annotated[Optional[str], typer.Option("--data-format", metavar="b8|01|dets",
                                                      help="Format of --dets/--obs [default: from the file suffix].",
                                                      show_default=False)]

ContractOpt = Annotated[Optional[str], typer.Option("--contract", help="Model contract; overrides the model's metadata.")]
ProviderOpt = Annotated[str, typer.Option("--provider", help="onnxruntime execution provider: cpu, cuda, ...")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=0,
                                                   help="onnxruntime intra-op threads per worker [default: cores / workers].",
                                                   show_default=False)]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Shots per model inference call.")]
ExecutorOpt = Annotated[str, typer.Option("--executor", metavar="local|dask",
                                         help="Where blocks run: local worker processes, or a Dask cluster.")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", metavar="ADDR",
                                                     help="Dask scheduler address (tcp://host:8786); without it --executor dask starts a local cluster.")]


# -- helpers --------------------------------------------------------------------------------

def store_for(db: Path | None):
    from verifier.store.db import Store

    return Store(db)


def workers_or_default(workers: int | None) -> int:
    from verifier.engine.executors import default_workers

    return workers or default_workers()


def start_workers(kind: str | None, workers: int) -> None:
    """When the command will use local worker processes (``--executor local``, more than
    one worker), start the forkserver they are forked from now: its imports (numpy, stim,
    PyMatching: ~0.9 s of one core) then overlap this process's own imports, model checks
    and store transactions instead of following them. It creates nothing else (no pool,
    no semaphores): when the command then stops on bad input, the forkserver ends with
    this process."""
    if (kind or "local").lower() == "local" and workers > 1:
        from verifier.engine.pool import start_forkserver

        start_forkserver()


def executor_for(kind: str, scheduler: str | None, workers: int):
    """The executor named by --executor/--scheduler (``verifier.engine.executors``)."""
    from verifier.engine.executors import make_executor

    return make_executor(kind, workers=workers, scheduler=scheduler)


def qec_workload(**flags):
    """The workload named by the shared workload flags (``verifier.qec.workload.from_flags``)."""
    from verifier.qec.workload import from_flags

    return from_flags(**flags)


def write_json(target: str | None, payload: Any) -> None:
    if target is None:
        return
    from verifier.jsonsafe import json_safe

    text = json.dumps(json_safe(payload), indent=2, sort_keys=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from verifier.atomic import write_text_atomic

    try:
        write_text_atomic(target, text)  # never a half-written file
    except OSError as e:
        raise UsageError(f"cannot write --json {target}: {e.strerror}") from None


def human_console(json_target: str | None):
    """Where human output goes: stdout, or stderr when JSON goes to stdout."""
    from rich.console import Console

    to_stderr = json_target == "-"
    stream = sys.stderr if to_stderr else sys.stdout
    # logs and CI get a wide, plain layout instead of rich's 80-column default
    width = None if stream.isatty() else 140
    return Console(stderr=to_stderr, highlight=False, width=width)


# -- shared option blocks -------------------------------------------------------------------

def workload_options(*, shots: int):
    """Declare the workload flags (``--distance`` ... ``--data-format``) of a command once:
    the command's parameter ``workload`` is replaced, at its place in ``--help``, by these
    options, and receives them back as one dict (``verifier.qec.workload.from_flags``'s
    keyword arguments). ``shots``: this command's default shot count."""
    import functools
    import inspect

    block = [("distance", DistanceOpt, None), ("rounds", RoundsOpt, None), ("basis", BasisOpt, "z"),
             ("noise", NoiseOpt, "uniform"), ("p", POpt, None), ("shots", ShotsOpt, shots),
             ("seed", SeedOpt, 0), ("circuit", CircuitOpt, None), ("dets", DetsOpt, None),
             ("obs", ObsOpt, None), ("data_format", DataFormatOpt, None)]
    names = [b[0] for b in block]

    def decorate(command):
        params = []
        for prm in inspect.signature(command, eval_str=True).parameters.values():
            if prm.name != "workload":
                params.append(prm)
                continue
            params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a, default=d)
                       for n, a, d in block]

        @functools.wraps(command)
        def wrapper(**kwargs):
            return command(workload={n: kwargs.pop(n) for n in names}, **kwargs)

        wrapper.__signature__ = inspect.Signature(params, return_annotation=int)
        wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": int}
        return wrapper

    return decorate
