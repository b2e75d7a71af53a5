"""``sov qec sweep | threshold | lambda``: grids of QEC tasks, the threshold and Λ.

The three commands share their flags (one list, :func:`_grid_command`), their run
(:func:`_execute`) and the library's grid (``verifier.workflows.sweep``); each adds only
its fit. They attach themselves to the ``sov qec`` group (``verifier.cli.qec.app``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Sequence

import typer

from verifier.cli import options as o
from verifier.cli import wiring
from verifier.cli.qec import app

SinterCsvOpt = Annotated[Optional[Path], typer.Option("--sinter-csv", metavar="FILE.csv",
                                                      help="Also write the points as sinter CSV (for `sinter plot`).")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.svg", help="Write the plot (svg, png or pdf).")]
BaselineOpt = Annotated[Optional[Path], typer.Option("--baseline-csv", metavar="FILE.csv",
                                                     help="A sinter CSV (e.g. from sinter collect) to fit and draw as a baseline.")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=0, help="Parametric bootstrap resamples for the interval.")]
ConventionOpt = Annotated[str, typer.Option(
    "--convention", metavar="google|single-round-count",
    help="How ε_d is measured: google = fit 1 - 2 P_L(n) = A (1 - 2ε)^n over several round counts n "
         "(A free); single-round-count = one experiment per distance (rounds = d or --rounds), A = 1.")]
RoundsFactorsOpt = Annotated[Optional[str], typer.Option(
    "--rounds-factors", metavar="F1,F2,...",
    help="google convention: the round counts n = F x d of each distance [default: 1,3,9].")]
FitWindowOpt = Annotated[float, typer.Option("--fit-window", min=0.0,
                                             help="Scaling fit uses rates within ±this (relative) of the crossings; 0 = all.")]

GridDecoderOpt = Annotated[str, typer.Option("--decoder", help=o.DECODER_HELP + " Or a model family, one file per distance: 'DIR/NAME_d{d}_T{rounds}_{basis}.onnx', a directory, or A.onnx,B.onnx (docs/cli.md, Model families).")]

_GRID = [("decoder", GridDecoderOpt, "pymatching"), ("code", o.CodeOpt, "surface"), ("distances", o.DistancesOpt, "3,5,7"), ("p", o.PListOpt, None),
         ("rounds", o.RoundsOpt, None), ("basis", o.BasisOpt, "z"), ("noise", o.NoiseOpt, "uniform")]
_RUN = [*o.RUNTIME_BLOCK, ("workers", o.WorkersOpt, None), ("executor", o.ExecutorOpt, "local"),
        ("scheduler", o.SchedulerOpt, None), ("db", o.DbOpt, None), ("json_out", o.JsonOpt, None)]


def _grid_command(name: str, *, shots: int, fit: Sequence[tuple] = (), plots: bool = False):
    """Register ``fn(**flags)`` as ``sov qec NAME`` with the shared flags (in the order
    --help lists them) around the command's own ``fit`` flags. typer reads a command's
    flags from its signature, so the three commands get one generated signature instead
    of three hand-written copies that drift apart."""
    params = [*_GRID, ("shots", o.ShotsOpt, shots), ("seed", o.SeedOpt, o.SEED), ("max_errors", o.MaxErrorsOpt, None),
              *fit, *_RUN, *([("plot", PlotOpt, None)] if plots else []), ("sinter_csv", SinterCsvOpt, None),
              *([("baseline_csv", BaselineOpt, None)] if plots else []), ("quiet", o.QuietOpt, False)]

    def register(fn: Callable[..., int]) -> Callable[..., int]:
        fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a) for n, a, d in params],
            return_annotation=int)
        return app.command(name)(fn)

    return register


@dataclass(frozen=True)
class GridFlags:
    decoder: str
    code: str
    distances: str
    p: str | None
    rounds: int | None
    basis: str
    noise: str
    shots: int
    seed: int
    max_errors: int | None
    contract: str | None
    provider: str
    threads: int | None
    batch_size: int
    finisher: str | None
    workers: int | None
    executor: str
    scheduler: str | None
    db: Any
    json_out: str | None
    sinter_csv: Path | None
    quiet: bool
    plot: Path | None = None
    baseline_csv: Path | None = None

    @classmethod
    def take(cls, flags: dict[str, Any]) -> "GridFlags":
        """The shared flags out of ``flags``, which keeps the command's own."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: flags.pop(k) for k in list(flags) if k in names})

    def spec(self):
        from verifier.workflows.sweep import grid

        return grid(self.distances, self.p, shots=self.shots, seed=self.seed, rounds=self.rounds,
                    basis=self.basis, noise=self.noise, code=self.code)

    def check_plot(self) -> None:
        from verifier.errors import UsageError

        if self.plot is not None and self.plot.suffix.lower() not in (".svg", ".png", ".pdf"):
            raise UsageError(f"--plot {self.plot}: give a .svg, .png or .pdf file name")


def _execute(f: GridFlags, spec, command: str, analyse: Callable, render: Callable,
             draw: Callable | None = None) -> int:
    """Start the workers, resolve the decoder, run the library's grid with this command's
    analysis, then print and write the JSON."""
    o.check_outputs(json_out=f.json_out, plot=f.plot, sinter_csv=f.sinter_csv)
    from reports.terminal import shot_progress
    from verifier.workflows.sweep import run_grid

    n_workers = o.workers_or_default(f.workers)
    o.start_workers(f.executor, n_workers)
    spec.workloads()  # validates every point before anything is recorded
    dec = wiring.decoder_or_family(f.decoder, contract=f.contract, provider=f.provider, threads=f.threads,
                                   batch_size=f.batch_size, workers=n_workers, finisher=f.finisher)
    store = o.store_for(f.db)
    with o.executor_for(f.executor, f.scheduler, n_workers) as ex:
        result, payload = run_grid(dec, spec, analyse, store=store, command=command, workers=n_workers,
                                   max_errors=f.max_errors, executor=ex,
                                   progress=lambda label: shot_progress(label, quiet=f.quiet),
                                   extras=lambda res: _extras(res, f, draw))
    console = o.human_console(f.json_out)
    for line in render(result, noise=f.noise, basis=f.basis, store_path=store.path):
        console.print(line)
    o.write_json(f.json_out, payload)
    return result.exit_code


def _extras(res, f: GridFlags, draw: Callable | None) -> dict[str, str]:
    """The plot and the sinter CSV, written inside the recorded run."""
    out = {}
    if draw is not None and f.plot is not None:
        draw(res, f)
        out["plot"] = str(f.plot)
    if f.sinter_csv is not None:
        wiring.write_sinter_csv(res.sweep, f.sinter_csv)
        out["sinter_csv"] = str(f.sinter_csv)
    return out


@_grid_command("sweep", shots=o.MEASURE_SHOTS)
def sweep_cmd(**flags: Any) -> int:
    """Run a decoder over a grid of memory workloads (distances x rates; --code surface, color or repetition).

    Every point is cached in the store by decoder fingerprint and workload: a re-run, or
    a sweep with more shots or more points, only runs what is missing. All points share
    one pool of worker processes."""
    from reports.terminal import sweep_lines
    from verifier.workflows.sweep import GridResult

    f = GridFlags.take(flags)
    return _execute(f, f.spec(), "qec sweep", GridResult, sweep_lines)


@_grid_command("threshold", shots=o.MEASURE_SHOTS, plots=True,
               fit=[("bootstrap", BootstrapOpt, 400), ("fit_window", FitWindowOpt, 0.35)])
def threshold_cmd(**flags: Any) -> int:
    """Measure the threshold: sweep, then fit where the distances' LER curves cross.

    Reports p_th from a finite-size-scaling fit with a bootstrap interval, and the
    crossing of each pair of successive distances. Exit 3 when the curves do not cross
    inside the swept rates."""
    from reports.terminal import threshold_lines
    from verifier.workflows.sweep import check_threshold_grid, threshold

    f = GridFlags.take(flags)
    spec = f.spec()
    check_threshold_grid(spec)
    f.check_plot()
    baselines = wiring.read_sinter_csv(f.baseline_csv) if f.baseline_csv is not None else {}
    return _execute(f, spec, "qec threshold", lambda r: threshold(r, baselines=baselines, **flags),
                    threshold_lines, draw=_draw_threshold)


def _draw_threshold(res, f: GridFlags) -> None:
    from reports.plots import plot_threshold

    plot_threshold(res.fit, f.plot, baselines=res.baseline_points or None, baseline_fits=res.baseline_fits or None,
                   title=f"{res.sweep.decoder_name}: {f.noise} noise, rounds = {f.rounds or 'd'}, "
                         f"basis {f.basis.upper()}")


@_grid_command("lambda", shots=o.GATE_SHOTS, plots=True,
               fit=[("bootstrap", BootstrapOpt, 2000), ("convention", ConventionOpt, "google"),
                    ("rounds_factors", RoundsFactorsOpt, None)])
def lambda_cmd(**flags: Any) -> int:
    """Measure the error-suppression factor Λ = ε_d / ε_{d+2} at one physical error rate.

    ε_d is the per-round logical error. Default (google convention): each distance runs at
    n = d, 3d, 9d rounds and 1 - 2 P_L(n) = A (1 - 2 ε_d)^n is fitted with A free;
    --convention single-round-count takes one experiment (rounds = d), A = 1. Λ comes from
    a weighted log-linear fit of ε_d against d, with a bootstrap interval. --shots is per
    experiment. Exit 3 when a distance saw no logical error (run more shots)."""
    from reports.terminal import lambda_lines
    from verifier.errors import UsageError
    from verifier.workflows.sweep import check_lambda_grid, lambda_, lambda_grid

    f = GridFlags.take(flags)
    convention = flags.pop("convention")
    spec = lambda_grid(f.spec(), convention, flags.pop("rounds_factors"))
    check_lambda_grid(spec)
    f.check_plot()
    baselines = wiring.read_sinter_csv_epsilon(f.baseline_csv, spec.ps[0]) if f.baseline_csv is not None else {}
    if f.baseline_csv is not None and not baselines:
        raise UsageError(f"{f.baseline_csv} has no rows at p = {spec.ps[0]:g}")
    return _execute(f, spec, "qec lambda",
                    lambda r: lambda_(r, baselines=baselines, convention=convention.lower(), **flags),
                    lambda_lines, draw=_draw_lambda)


def _draw_lambda(res, f: GridFlags) -> None:
    from reports.plots import plot_lambda

    spec = res.sweep.spec
    rounds = (", ".join(f"{k}d" if k > 1 else "d" for k in spec.rounds_factors)
              if spec is not None and spec.rounds_factors else f.rounds or "d")
    plot_lambda(res.fit, f.plot, baselines=res.baselines or None,
                title=f"{res.sweep.decoder_name}: {f.noise} noise, p = {res.p:g}, rounds = {rounds}")
