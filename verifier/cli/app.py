"""The ``sov`` command: a thin typer layer over the library.

Every user error ends as one line on stderr and one of the exit codes of verifier/errors.py
(0 pass, 1 gate failed, 2 usage/input, 3 inconclusive, 4 integrity; 130 Ctrl-C, 129 SIGHUP,
143 SIGTERM); ``--debug``, anywhere on the command line, shows the traceback before that line
and changes no exit code.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Optional

import typer

from verifier import __version__
from verifier.cli import accept, calib, compare, demo, drift, evidence, history, keys, models, qec, report, watch
from verifier.cli import sweep as _sweep  # noqa: F401  (registers qec sweep/threshold/lambda)
from verifier.errors import ExitCode, SovError, Terminated, stop_on_signals

app = typer.Typer(
    name="sov",
    help="Vendor-neutral verifier for QEC decoders and calibration models delivered as ONNX.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# one module per command group; none imports a heavy library at module level
app.add_typer(qec.app, name="qec")  # run, latency, crosscheck; sweep, threshold, lambda (cli/sweep.py)
app.add_typer(models.app, name="models")
app.command("demo")(demo.demo)
app.command("accept")(accept.accept)
app.add_typer(watch.app, name="watch", hidden=True)  # old spelling of drift add|list|remove
app.add_typer(drift.app, name="drift")
app.add_typer(history.app, name="history")
app.add_typer(keys.app, name="keys")
app.add_typer(evidence.app, name="evidence")
app.add_typer(calib.app, name="calib")
app.command("compare")(compare.compare)
app.command("report")(report.report)

_DEBUG = {"on": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sov {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """sov replays reference workloads through vendor models and open baselines, and
    records every result in DuckDB."""
    if debug:
        _DEBUG["on"] = True


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def split_debug(args: list[str]) -> tuple[list[str], bool]:
    """``args`` without ``--debug``, and whether it was there: the flag is global, so it may
    come anywhere before a ``--`` (``sov --debug models inspect X``, ``sov models inspect X
    --debug``). Left to click, a ``--debug`` after the subcommand is an option that command
    does not have: a usage error, which ``--debug`` itself turned into a traceback and exit 1."""
    end = args.index("--") if "--" in args else len(args)
    head = [a for a in args[:end] if a != "--debug"]
    return head + args[end:], len(head) != end


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns (and exits with) the process exit code.

    Ctrl-C, SIGTERM and SIGHUP stop a command alike (verifier.errors.stop_on_signals): the
    run being recorded is marked incomplete, the workers are stopped, one line on stderr,
    exit 128 + the signal's number (130, 143, 129)."""
    from verifier.store import runs

    args, debug = split_debug(list(sys.argv[1:] if argv is None else argv))
    _DEBUG["on"] = debug or os.environ.get("SOV_DEBUG") == "1"
    runs.ENDED.clear()
    _LAST_LINE["line"] = None
    with stop_on_signals():
        try:
            rv = app(args=args, prog_name="sov", standalone_mode=False)
            code = int(rv) if isinstance(rv, int) else 0
        except BaseException as e:  # noqa: BLE001 - each kind ends as one line and its exit code
            code = _ended(e)
    runs.settle(code, _LAST_LINE["line"])  # the store says what the process returns
    _flush(sys.stdout)
    return code


def _ended(e: BaseException) -> int:
    """The exit code for ``e``, having said why on stderr in one line (after the traceback,
    with --debug, for an error: a signal or an interrupt is no error)."""
    import click

    try:  # typer >= 0.2x vendors its own click: its exceptions are not click's
        from typer._click import exceptions as _tclick
    except ImportError:  # pragma: no cover
        _tclick = click.exceptions
    if isinstance(e, Terminated):
        _stop_workers()
        return _say(f"sov: {e}", e.exit_code)
    if isinstance(e, (KeyboardInterrupt, click.exceptions.Abort, getattr(_tclick, "Abort", click.exceptions.Abort))):
        _stop_workers()
        return _say("sov: interrupted" if isinstance(e, KeyboardInterrupt) else "sov: aborted", 130)
    if isinstance(e, BrokenPipeError):
        return 0
    if isinstance(e, SystemExit):  # sys.exit(code) inside a command: that code, as Python gives it
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    if not isinstance(e, Exception):
        raise e
    if _DEBUG["on"]:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    if isinstance(e, SovError):
        return _say(f"sov: error: {_one_line(str(e))}", int(e.exit_code))
    if isinstance(e, (click.exceptions.UsageError, _tclick.UsageError)):
        where = f" (sov {e.ctx.command_path.split(' ', 1)[1]})" if e.ctx and " " in e.ctx.command_path else ""
        return _say(f"sov: error: {_one_line(e.format_message())}{where}; see --help", int(ExitCode.USAGE))
    if isinstance(e, (click.exceptions.ClickException, _tclick.ClickException)):
        return _say(f"sov: error: {_one_line(e.format_message())}", int(ExitCode.USAGE))
    if isinstance(e, OSError):  # the file system refused (name too long, permissions, disk full, ...)
        name = f": {str(e.filename)[:80]}" if e.filename else ""
        return _say(f"sov: error: {e.strerror or _one_line(str(e))}{name}", int(ExitCode.USAGE))
    # a bug in sov: still one line
    hint = "" if _DEBUG["on"] else " (run with --debug for the traceback)"
    return _say(f"sov: internal error: {type(e).__name__}: {_one_line(str(e))}{hint}", int(ExitCode.USAGE))


_LAST_LINE: dict = {"line": None}


def _say(line: str, code: int) -> int:
    _LAST_LINE["line"] = line.removeprefix("sov: ").removeprefix("error: ")
    _flush(sys.stderr, line + "\n")
    return code


def _flush(stream, text: str = "") -> None:
    try:
        if text:
            stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # a closed or broken pipe: nothing more to say on it
        pass


def _stop_workers() -> None:
    """Stop the local workers now, jobs running included (they would otherwise finish
    their blocks before the process could exit)."""
    from verifier.engine.pool import stop_pool

    stop_pool()


def entry() -> None:  # pragma: no cover - the console script
    sys.exit(main())
