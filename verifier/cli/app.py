"""The ``sov`` command: a thin typer layer over the library.

Every user error ends as one line on stderr and one of the exit codes of verifier/errors.py
(0 pass, 1 gate failed, 2 usage/input, 3 inconclusive, 4 integrity); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from verifier import __version__
from verifier.cli import accept, calib, compare, demo, drift, evidence, history, keys, models, qec, report, watch
from verifier.cli import sweep as _sweep  # noqa: F401  (registers qec sweep/threshold/lambda)
from verifier.errors import ExitCode, SovError

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


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns (and exits with) the process exit code."""
    import click

    try:  # typer >= 0.2x vendors its own click: its exceptions are not click's
        from typer._click import exceptions as _tclick
    except ImportError:  # pragma: no cover
        _tclick = click.exceptions

    args = list(sys.argv[1:] if argv is None else argv)
    _DEBUG["on"] = "--debug" in args or os.environ.get("SOV_DEBUG") == "1"
    code: int
    try:
        rv = app(args=args, prog_name="sov", standalone_mode=False)
        code = int(rv) if isinstance(rv, int) else 0
    except SovError as e:
        if _DEBUG["on"]:
            raise
        sys.stderr.write(f"sov: error: {_one_line(str(e))}\n")
        code = int(e.exit_code)
    except (click.exceptions.Abort, getattr(_tclick, "Abort", click.exceptions.Abort)):
        sys.stderr.write("sov: aborted\n")
        code = 130
    except (click.exceptions.UsageError, _tclick.UsageError) as e:
        if _DEBUG["on"]:
            raise
        where = f" (sov {e.ctx.command_path.split(' ', 1)[1]})" if e.ctx and " " in e.ctx.command_path else ""
        sys.stderr.write(f"sov: error: {_one_line(e.format_message())}{where}; see --help\n")
        code = int(ExitCode.USAGE)
    except (click.exceptions.ClickException, _tclick.ClickException) as e:
        if _DEBUG["on"]:
            raise
        sys.stderr.write(f"sov: error: {_one_line(e.format_message())}\n")
        code = int(ExitCode.USAGE)
    except KeyboardInterrupt:
        sys.stderr.write("sov: interrupted\n")
        code = 130
    except BrokenPipeError:
        code = 0
    except OSError as e:  # the file system refused (name too long, permissions, disk full, ...)
        if _DEBUG["on"]:
            raise
        name = f": {str(e.filename)[:80]}" if e.filename else ""
        sys.stderr.write(f"sov: error: {e.strerror or _one_line(str(e))}{name}\n")
        code = int(ExitCode.USAGE)
    except Exception as e:  # a bug in sov: still one line, unless --debug
        if _DEBUG["on"]:
            raise
        sys.stderr.write(f"sov: internal error: {type(e).__name__}: {_one_line(str(e))} "
                         "(run with --debug for the traceback)\n")
        code = int(ExitCode.USAGE)
    sys.stdout.flush()
    return code


def entry() -> None:  # pragma: no cover - the console script
    sys.exit(main())
