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
from verifier.qec import limits

# -- named defaults -------------------------------------------------------------------------
# One constant per meaning; docs/cli.md says why the meanings differ.

MEASURE_SHOTS = 10_000  # shots per workload of a measurement (qec run, crosscheck, sweep, compare, ...)
GATE_SHOTS = 100_000  # shots per workload of a decision that needs power (accept, qec lambda)
LATENCY_SHOTS = 10_000  # timed shots of a latency probe (qec latency): enough for a p99.9
COMPARE_LATENCY_SHOTS = 2_000  # timed shots per task of a comparison (every decoder x every point)
WARMUP_SHOTS = 1_000  # untimed shots before a latency probe
BATCH_SIZE = 8192  # shots per model inference call when throughput matters
SEED = 0  # sampling seed: the same flags give the same shots
# the largest workloads accepted, checked where workloads are built (docs/cli.md, Maxima)
MAX_SHOTS, MAX_DISTANCE, MAX_ROUNDS = limits.MAX_SHOTS, limits.MAX_DISTANCE, limits.MAX_ROUNDS
MAX_CAL_SHOTS, MAX_CAL_REPEATS = limits.MAX_CAL_SHOTS, limits.MAX_CAL_REPEATS

# -- shared options -------------------------------------------------------------------------

DbOpt = Annotated[Optional[Path], typer.Option("--db", help="DuckDB store file [default: $SOV_DB or ./sov.duckdb].",
                                               show_default=False)]
JsonOpt = Annotated[Optional[str], typer.Option("--json", metavar="FILE",
                                                help="Write machine-readable results to FILE ('-' = stdout).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", min=1, help="Worker processes [default: all cores].",
                                                   show_default=False)]
PolicyOpt = Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml",
                                                   help="Workloads and gates from a policy file (docs/policy.md).")]

DECODER_HELP = ("A baseline: pymatching, pymatching-correlated (graphlike DEMs: surface, repetition), "
                "tesseract, bposd (any DEM; qLDPC), chromobius (color codes), belief-matching "
                "(extra [belief]); options as NAME:KEY=VALUE,... (docs/baselines.md). Or a "
                "built-in model, FILE.onnx, or predictions:FILE (predictions made elsewhere).")
DecoderOpt = Annotated[str, typer.Option("--decoder", help=DECODER_HELP)]
ModelOpt = Annotated[str, typer.Option("--model", help="qibocal, sov-reference, a built-in model (sov models list), FILE.onnx, or openai:http://HOST:PORT/v1#MODEL (an OpenAI-compatible endpoint, asked about plots).")]
EXPERIMENTS = ("resonator_spectroscopy, qubit_spectroscopy, rabi_amplitude, rabi_length, t1, ramsey, spin_echo "
               "or readout")


def experiment_opt(help: str):
    """``--experiment/-e NAME`` with this command's meaning of it (every command spells it so)."""
    return Annotated[Optional[str], typer.Option("--experiment", "-e", metavar="NAME", help=help, show_default=False)]


ExperimentOpt = experiment_opt(f"{EXPERIMENTS} [default: the model's sov.experiment].")
SweepOpt = Annotated[Optional[str], typer.Option(
    "--sweep", metavar="points=N,span=F,readout=none,units=au,line=gaussian,polarity=peak|dip",
    help="Simulate another sweep than the documented one (any subset of the keys; line and polarity: spectroscopies) [default: the documented sweep].",
    show_default=False)]

DistanceOpt = Annotated[Optional[int], typer.Option("--distance", "-d", min=2, help="Code distance.")]
DistancesOpt = Annotated[str, typer.Option("--distances", metavar="3,5,7", help="Code distances, comma-separated.")]
RoundsOpt = Annotated[Optional[int], typer.Option("--rounds", "-r", min=1, help="QEC rounds [default: distance].",
                                                  show_default=False)]
BasisOpt = Annotated[str, typer.Option("--basis", help="Memory basis: x or z.")]
CodeOpt = Annotated[str, typer.Option("--code", metavar="surface|color|repetition",
                                      help="Code of the generated memory: surface (rotated), color (6.6.6, "
                                           "odd d >= 3, Chromobius-annotated) or repetition (docs/baselines.md).")]
NoiseOpt = Annotated[str, typer.Option("--noise", help="Noise model: uniform or si1000.")]
POpt = Annotated[Optional[float], typer.Option("--p", help="Physical error rate.")]
PListOpt = Annotated[Optional[str], typer.Option("--p", metavar="LIST",
                                                 help="Physical error rates: 0.004,0.005,... or lo:hi:n (log-spaced).",
                                                 show_default=False)]
ShotsOpt = Annotated[int, typer.Option("--shots", min=1, help="Shots per workload.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Sampling seed.")]
MaxErrorsOpt = Annotated[Optional[int], typer.Option("--max-errors", min=1,
                                                     help="Stop each workload early after this many logical errors.")]
CircuitOpt = Annotated[Optional[Path], typer.Option("--circuit", metavar="FILE.stim",
                                                    help="Your own stim circuit (sampled, or with --dets/--obs replayed).")]
DetsOpt = Annotated[Optional[Path], typer.Option("--dets", metavar="FILE", help="Recorded detection events (a dets file may carry the observables too: then no --obs).")]
ObsOpt = Annotated[Optional[Path], typer.Option("--obs", metavar="FILE", help="Recorded observable flips.")]
DemOpt = Annotated[Optional[Path], typer.Option("--dem", metavar="FILE.dem",
                                                help="Detector error model to decode against (plain or .gz), "
                                                     "e.g. the one fitted to a device [default: the circuit's].",
                                                show_default=False)]
DatasetOpt = Annotated[Optional[Path], typer.Option("--dataset", metavar="DIR",
                                                   help="A folder of recorded shots as a lab or vendor ships it "
                                                        "(Ising test bundle, Google experiment folder, or a stim "
                                                        "folder); says which files it used.", show_default=False)]
DataFormatOpt = Annotated[Optional[str], typer.Option("--data-format", metavar="b8|01|dets|ising-bin",
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
KeyOpt = Annotated[Optional[Path], typer.Option("--key", metavar="PRIVATE_KEY",
                                                help="Sign the evidence record(s) with this key file (sov keys generate).")]


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
    """The workload named by the shared workload flags (``verifier.qec.flags.from_flags``)."""
    from verifier.qec.flags import from_flags

    return from_flags(**flags)


_OUTPUT_FLAGS = {"json_out": "--json", "junit": "--junit", "evidence_out": "--evidence", "html": "--html",
                 "markdown": "--markdown", "plot": "--plot", "sinter_csv": "--sinter-csv"}


def check_outputs(**targets: Any) -> None:
    """Refuse, before any work, an output file that could not be written at the end:
    ``check_outputs(json_out=..., junit=..., evidence_out=..., html=..., markdown=..., plot=...)``
    (the commands' parameter names; None and ``-``, stdout, are skipped). The file must be
    a (new or existing) regular file in an existing folder this process may write to.
    Nothing is created here: a failed run leaves no empty file behind."""
    import os

    for name, target in targets.items():
        if target is None or str(target) == "-":
            continue
        flag = _OUTPUT_FLAGS.get(name, "--" + name.replace("_", "-"))
        path = Path(target)
        folder = path.parent if str(path.parent) else Path(".")
        if "\x00" in str(target):
            raise UsageError(f"cannot write {flag} {target!r}: the path holds a NUL byte")
        if path.is_dir():
            raise UsageError(f"cannot write {flag} {target}: it is a folder")
        if path.exists():
            if not os.access(path, os.W_OK):
                raise UsageError(f"cannot write {flag} {target}: permission denied")
            if not path.is_file():
                continue  # /dev/stdout, a FIFO: written directly
        elif not folder.is_dir():
            raise UsageError(f"cannot write {flag} {target}: folder {folder} does not exist")
        # atomic writers create a temporary file beside the target, so the folder must be writable
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write {flag} {target}: folder {folder} is not writable")


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
    # logs and CI get a wide, plain layout instead of rich's 80-column default, unless the
    # caller says how wide its page is (COLUMNS, which rich then reads itself)
    width = None if stream.isatty() or os.environ.get("COLUMNS", "").isdigit() else 140
    return Console(stderr=to_stderr, highlight=False, width=width)


# -- shared option blocks -------------------------------------------------------------------

def _replace_signature(command, params, call):
    """A wrapper of ``command`` whose signature (what typer reads as its flags) is ``params``,
    calling ``call(**kwargs)``; typer reads both the signature and the annotations."""
    import functools
    import inspect

    @functools.wraps(command)
    def wrapper(**kwargs):
        return call(**kwargs)

    wrapper.__signature__ = inspect.Signature(params, return_annotation=int)
    wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": int}
    return wrapper


def option_block(into: str, block: list[tuple[str, Any, Any]]):
    """Declare a block of options (name, annotation, default) once for many commands: the
    command's parameter ``into`` is replaced, at its place in ``--help``, by these options,
    and receives them back as one dict."""
    import inspect

    names = [b[0] for b in block]

    def decorate(command):
        params = []
        for prm in inspect.signature(command, eval_str=True).parameters.values():
            if prm.name != into:
                params.append(prm)
                continue
            params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a, default=d)
                       for n, a, d in block]
        return _replace_signature(command, params,
                                  lambda **kw: command(**{into: {n: kw.pop(n) for n in names}}, **kw))

    return decorate


def workload_options(*, shots: int | None, recorded: bool = True):
    """The workload flags (``--distance`` ... ``--data-format``) as the parameter ``workload``:
    a dict of ``verifier.qec.flags.from_flags``'s keyword arguments. ``shots``: this
    command's default shot count (None: the command declares its own --shots, which means
    something else there); ``recorded=False``: no --dets/--obs/--data-format (a command
    that only samples)."""
    block = [("code", CodeOpt, "surface"), ("distance", DistanceOpt, None), ("rounds", RoundsOpt, None),
             ("basis", BasisOpt, "z"),
             ("noise", NoiseOpt, "uniform"), ("p", POpt, None), ("shots", ShotsOpt, shots),
             ("seed", SeedOpt, SEED), ("circuit", CircuitOpt, None), ("dets", DetsOpt, None),
             ("obs", ObsOpt, None), ("data_format", DataFormatOpt, None), ("dem", DemOpt, None),
             ("dataset", DatasetOpt, None)]
    return option_block("workload", [b for b in block if (shots is not None or b[0] != "shots")
                                     and (recorded or b[0] not in ("dets", "obs", "data_format", "dataset"))])


FinisherOpt = Annotated[Optional[str], typer.Option("--finisher", metavar="BASELINE",
                                                    help="A pre-decoder's global decoder (pymatching, tesseract, "
                                                         "chromobius, ...), overriding its sov.finisher "
                                                         "[default: pymatching].", show_default=False)]
RUNTIME_BLOCK = [("contract", ContractOpt, None), ("provider", ProviderOpt, "cpu"), ("threads", ThreadsOpt, None),
                 ("batch_size", BatchOpt, BATCH_SIZE), ("finisher", FinisherOpt, None)]


def runtime_options(*names: str):
    """The model runtime flags (``--contract --provider --threads --batch-size``, or the
    ``names`` among contract, provider, threads, batch_size) as the parameter ``runtime``:
    a dict of ``wiring.decoder_from_spec``'s keyword arguments."""
    return option_block("runtime", [b for b in RUNTIME_BLOCK if not names or b[0] in names])


def operand(kind: Any, metavar: str, help: str):
    """A command's one positional operand (a file, a folder, a run id)."""
    return Annotated[kind, typer.Argument(metavar=metavar, help=help, show_default=False)]


def hidden_aliases(**aliases: str | tuple[str, ...]):
    """Keep old spellings of options working, out of ``--help``, for one release:
    ``@hidden_aliases(batch_size="--batch")`` adds a hidden ``--batch`` that fills the
    parameter ``batch_size`` (a repeatable option: the values add up). typer shows every
    name of an option in ``--help``, so an old spelling is a second, hidden option merged
    here rather than a second name of the first. Giving both spellings is a usage error."""
    import inspect
    import typing

    def decorate(command):
        sig = inspect.signature(command, eval_str=True)
        params = list(sig.parameters.values())
        merge = []
        for name, names in aliases.items():
            names = (names,) if isinstance(names, str) else tuple(names)
            main = sig.parameters[name]
            base, info = typing.get_args(main.annotation)[:2]
            is_list = typing.get_origin(base) in (list, typing.List) or any(
                typing.get_origin(a) in (list, typing.List) for a in typing.get_args(base))
            alias = typer.Option(*names, hidden=True, metavar=info.metavar, min=getattr(info, "min", None),
                                 max=getattr(info, "max", None))
            hidden = f"_alias_{name}"
            params.append(inspect.Parameter(hidden, inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation=Annotated[Optional[base], alias]))
            new = info.param_decls[0] if info.param_decls else info.default  # typer: Option("--x") puts it in default
            merge.append((name, hidden, names[0], new, main.default, is_list))

        def call(**kwargs):
            for name, hidden, old, new, default, is_list in merge:
                value = kwargs.pop(hidden)
                if value is None or (is_list and not value):
                    continue
                if is_list:
                    kwargs[name] = list(kwargs[name] or []) + list(value)
                elif kwargs[name] != default:
                    raise UsageError(f"{old} is the old spelling of {new}: give only {new}")
                else:
                    kwargs[name] = value
            return command(**kwargs)

        return _replace_signature(command, params, call)

    return decorate


def _hide_hidden_operands() -> None:
    """typer leaves a hidden operand (``typer.Argument(hidden=True)``) out of the help's list
    but still names it in the usage line; an old spelling must not appear there either."""
    from typer.core import TyperArgument

    shown = TyperArgument.get_usage_pieces
    if getattr(shown, "_sov", False):
        return

    def pieces(self, ctx):
        return [] if self.hidden else shown(self, ctx)

    pieces._sov = True  # type: ignore[attr-defined]
    TyperArgument.get_usage_pieces = pieces  # type: ignore[method-assign]


_hide_hidden_operands()


def one_operand(flag_value: Any, positional: Any, flag: str, what: str) -> Any:
    """The value of ``flag``, or of the hidden positional operand it replaced (kept for one
    release); both, or neither, is a usage error."""
    if flag_value is not None and positional is not None:
        raise UsageError(f"give {what} once: {flag} {flag_value} (not also as an operand)")
    value = flag_value if flag_value is not None else positional
    if value is None:
        raise UsageError(f"give {what}: {flag} ...")
    return value
