"""``sov qec sweep | threshold | lambda``: grids of QEC tasks, the threshold and Λ.

The commands attach themselves to the ``sov qec`` group (``verifier.cli.qec.app``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring
from verifier.cli.qec import app

DecoderOpt = Annotated[str, typer.Option("--decoder", help="pymatching, pymatching-correlated, a built-in model, or FILE.onnx.")]
DistancesOpt = Annotated[str, typer.Option("--distances", metavar="3,5,7", help="Code distances, comma-separated.")]
PListOpt = Annotated[Optional[str], typer.Option("--p", metavar="LIST",
                                                 help="Physical error rates: 0.004,0.005,... or lo:hi:n (log-spaced).",
                                                 show_default=False)]
MaxErrorsOpt = Annotated[Optional[int], typer.Option("--max-errors", min=1,
                                                     help="Stop each point early after this many logical errors.")]
SinterCsvOpt = Annotated[Optional[Path], typer.Option("--sinter-csv", metavar="FILE.csv",
                                                      help="Also write the points as sinter CSV (for `sinter plot`).")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.svg", help="Write the plot (svg, png or pdf).")]
BaselineOpt = Annotated[Optional[Path], typer.Option("--baseline-csv", metavar="FILE.csv",
                                                     help="A sinter CSV (e.g. from sinter collect) to fit and draw as a baseline.")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=0, help="Parametric bootstrap resamples for the interval.")]


def _spec(distances: str, p: str | None, shots: int, seed: int, rounds: int | None, basis: str, noise: str):
    from verifier.errors import UsageError
    from verifier.qec.grid import SweepSpec, parse_float_list, parse_int_list

    if p is None:
        raise UsageError("give --p, the physical error rates (e.g. --p 0.004,0.006,0.008)")
    ds = parse_int_list(distances, flag="--distances")
    if any(d < 2 for d in ds):
        raise UsageError(f"--distances must be at least 2, got {distances}")
    return SweepSpec(ds, parse_float_list(p, flag="--p"), shots, seed, rounds, basis.lower(), noise.lower())


def _check_plot(plot: Path | None) -> None:
    from verifier.errors import UsageError

    if plot is not None and plot.suffix.lower() not in (".svg", ".png", ".pdf"):
        raise UsageError(f"--plot {plot}: give a .svg, .png or .pdf file name")


def _prepare(*, decoder: str, spec, workers, contract, provider, threads, batch_size, executor):
    """The decoder and worker count, checked before a run is recorded (the local workers
    start meanwhile)."""
    n_workers = o.workers_or_default(workers)
    o.start_workers(executor, n_workers)
    spec.workloads()  # validates every point before anything is recorded
    dec = wiring.decoder_from_spec(decoder, contract=contract, provider=provider, threads=threads,
                              batch_size=batch_size, workers=n_workers)
    return dec, n_workers


def _run(rec, dec, spec, *, n_workers: int, max_errors, quiet, executor=None):
    """Run (or reuse) the sweep inside the recorded run ``rec``."""
    from reports.terminal import shot_progress
    from verifier.engine.sweep import sweep

    with shot_progress(f"{dec.name} sweep ({len(spec.distances) * len(spec.ps)} points)", quiet=quiet) as cb:
        progress = (lambda s, total, done, n: cb(s, total)) if cb else None
        return sweep(dec, spec, run=rec, workers=n_workers, max_errors=max_errors, progress=progress,
                     executor=executor)


def _points_table(result, title: str):
    from rich.table import Table

    from reports.terminal import fmt_rate

    t = Table(title=title, title_justify="left")
    for col in ("d", "rounds", "p", "shots", "errors", "LER (95% CI)", "LER / round", "reused"):
        t.add_column(col, justify="left" if col.startswith("LER") else "right")
    for q in sorted(result.points, key=lambda r: (r.workload.distance, r.workload.p)):
        lo, hi = q.ler_ci
        t.add_row(str(q.workload.distance), str(q.workload.rounds), f"{q.workload.p:g}",
                  f"{q.stats.shots:,}", f"{q.stats.errors:,}", fmt_rate(q.stats.ler, lo, hi),
                  fmt_rate(q.ler_per_round), f"{q.reused_shots:,}")
    return t


@app.command("sweep")
def sweep_cmd(
    decoder: DecoderOpt = "pymatching",
    distances: DistancesOpt = "3,5,7",
    p: PListOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    shots: o.ShotsOpt = 10_000,
    seed: o.SeedOpt = 0,
    max_errors: MaxErrorsOpt = None,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    workers: o.WorkersOpt = None,
    executor: o.ExecutorOpt = "local",
    scheduler: o.SchedulerOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    sinter_csv: SinterCsvOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Run a decoder over a grid of rotated-memory workloads (distances x rates).

    Every point is cached in the store by decoder fingerprint and workload: a re-run, or
    a sweep with more shots or more points, only runs what is missing. All points share
    one pool of worker processes."""
    spec = _spec(distances, p, shots, seed, rounds, basis, noise)
    from verifier.store.runs import recorded_run

    dec, n_workers = _prepare(decoder=decoder, spec=spec, workers=workers, contract=contract,
                              provider=provider, threads=threads, batch_size=batch_size,
                              executor=executor)
    store = o.store_for(db)
    with o.executor_for(executor, scheduler, n_workers) as ex, recorded_run(store, "qec sweep") as rec:
        result = _run(rec, dec, spec, n_workers=n_workers, max_errors=max_errors, quiet=quiet,
                      executor=ex)
        payload = result.to_json()
        payload["db"] = store.path
        if sinter_csv is not None:
            from adapters.sinter_interop import write_sinter_csv

            write_sinter_csv(result, sinter_csv)
            payload["sinter_csv"] = str(sinter_csv)
        rec.summary = {"decoder": result.decoder_name, "points": len(result.points),
                       "ran_shots": result.ran_shots, "reused_shots": result.reused_shots}
    console = o.human_console(json_out)
    console.print(_points_table(result, f"{result.decoder_name}: {noise} noise, basis {basis}"))
    console.print(f"{result.ran_shots:,} shots run, {result.reused_shots:,} reused from {store.path} "
                  f"in {result.seconds:.1f} s")
    o.write_json(json_out, payload)
    return 0


@app.command("threshold")
def threshold_cmd(
    decoder: DecoderOpt = "pymatching",
    distances: DistancesOpt = "3,5,7",
    p: PListOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    shots: o.ShotsOpt = 10_000,
    seed: o.SeedOpt = 0,
    max_errors: MaxErrorsOpt = None,
    bootstrap: BootstrapOpt = 400,
    fit_window: Annotated[float, typer.Option("--fit-window", min=0.0,
                                              help="Scaling fit uses rates within ±this (relative) of the crossings; 0 = all.")] = 0.35,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    workers: o.WorkersOpt = None,
    executor: o.ExecutorOpt = "local",
    scheduler: o.SchedulerOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    plot: PlotOpt = None,
    sinter_csv: SinterCsvOpt = None,
    baseline_csv: BaselineOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Measure the threshold: sweep, then fit where the distances' LER curves cross.

    Reports p_th from a finite-size-scaling fit with a bootstrap interval, and the
    crossing of each pair of successive distances. Exit 3 when the curves do not cross
    inside the swept rates."""
    from verifier.errors import UsageError
    from verifier.stats.threshold import fit_threshold, points_from_results

    spec = _spec(distances, p, shots, seed, rounds, basis, noise)
    if len(spec.distances) < 2 or len(spec.distances) * len(spec.ps) < 6:
        raise UsageError("a threshold needs at least two distances and six points in all "
                         "(e.g. --distances 3,5,7 --p 0.005,0.007,0.009)")
    _check_plot(plot)
    baselines = _read_baseline(baseline_csv)
    from verifier.store.runs import recorded_run

    dec, n_workers = _prepare(decoder=decoder, spec=spec, workers=workers, contract=contract,
                              provider=provider, threads=threads, batch_size=batch_size,
                              executor=executor)
    store = o.store_for(db)
    with o.executor_for(executor, scheduler, n_workers) as ex, recorded_run(store, "qec threshold") as rec:
        result = _run(rec, dec, spec, n_workers=n_workers, max_errors=max_errors, quiet=quiet,
                      executor=ex)
        fit = fit_threshold(points_from_results(result.points), bootstrap=bootstrap, seed=spec.seed,
                            window=fit_window or None)
        payload = {**fit.to_json(), "decoder": result.decoder_name, "fingerprint": result.fingerprint,
                   "sweep": spec.to_json(), "run_id": result.run_id, "db": store.path,
                   "wall_seconds": result.seconds, "ran_shots": result.ran_shots,
                   "reused_shots": result.reused_shots}
        from verifier.engine.results import point_json

        payload["points"] = [point_json(r) for r in sorted(result.points, key=lambda r: (r.workload.distance, r.workload.p))]
        base_fits, base_objs = {}, {}
        for label, pts in baselines.items():
            try:
                bf = fit_threshold(pts, bootstrap=bootstrap, seed=spec.seed, window=fit_window or None)
                base_fits[label] = bf.to_json()
                base_objs[label] = bf
            except ValueError as e:
                base_fits[label] = {"status": "fit_failed", "message": str(e),
                                    "points": [q.to_json() for q in pts]}
        if baselines:
            payload["baselines"] = base_fits
        if plot is not None:
            from reports.plots import plot_threshold

            plot_threshold(fit, plot, baselines=baselines or None, baseline_fits=base_objs or None,
                           title=f"{result.decoder_name}: {noise} noise, rounds = "
                                 f"{rounds or 'd'}, basis {basis.upper()}")
            payload["plot"] = str(plot)
        if sinter_csv is not None:
            from adapters.sinter_interop import write_sinter_csv

            write_sinter_csv(result, sinter_csv)
            payload["sinter_csv"] = str(sinter_csv)
        code = 0 if fit.status == "ok" else 3
        rec.exit_code = code
        rec.summary = {"decoder": result.decoder_name, "threshold": fit.threshold,
                       "threshold_ci": list(fit.threshold_ci), "status": fit.status}
    console = o.human_console(json_out)
    console.print(_points_table(result, f"{result.decoder_name}: {noise} noise, basis {basis}"))
    console.print(_threshold_line(fit))
    for c in fit.crossings:
        a, b = c["distances"]
        lo, hi = c["crossing_ci"]
        where = f"{c['crossing']:.4%}" if c["crossing"] is not None else "no crossing in range"
        ci = f" [{lo:.4%}, {hi:.4%}]" if lo is not None else ""
        console.print(f"  d = {a} / {b} curves cross at {where}{ci}")
    for label, bf in base_fits.items():
        th = bf.get("threshold")
        console.print(f"  baseline {label}: threshold "
                      + (f"{th:.4%} [{bf['threshold_ci'][0]:.4%}, {bf['threshold_ci'][1]:.4%}]" if th else bf.get("message", "n/a")))
    if fit.status != "ok":
        console.print(f"inconclusive: {fit.message}")
    console.print(f"{result.ran_shots:,} shots run, {result.reused_shots:,} reused, {result.seconds:.1f} s")
    o.write_json(json_out, payload)
    return code


def _threshold_line(fit) -> str:
    if fit.threshold is None:
        return f"threshold: not measured ({fit.message})"
    lo, hi = fit.threshold_ci
    ci = f" [{lo:.4%}, {hi:.4%}] ({int(round(fit.confidence * 100))}% CI)" if lo is not None else ""
    win = f", fit over p in [{fit.window[0]:g}, {fit.window[1]:g}]" if fit.window else ""
    return (f"threshold p_th = {fit.threshold:.4%}{ci}; nu = {fit.nu:.2f}, "
            f"chi2/dof = {fit.chi2:.1f}/{fit.dof}{win}")


def _read_baseline(path: Path | None) -> dict:
    if path is None:
        return {}
    from adapters.sinter_interop import read_sinter_csv

    return read_sinter_csv(path)


@app.command("lambda")
def lambda_cmd(
    decoder: DecoderOpt = "pymatching",
    distances: DistancesOpt = "3,5,7",
    p: PListOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    shots: o.ShotsOpt = 100_000,
    seed: o.SeedOpt = 0,
    max_errors: MaxErrorsOpt = None,
    bootstrap: BootstrapOpt = 2000,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    workers: o.WorkersOpt = None,
    executor: o.ExecutorOpt = "local",
    scheduler: o.SchedulerOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    plot: PlotOpt = None,
    sinter_csv: SinterCsvOpt = None,
    baseline_csv: BaselineOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Measure the error-suppression factor Λ = ε_d / ε_{d+2} at one physical error rate.

    ε_d is the per-round logical error, 1 - 2 P_L = (1 - 2 ε_d)^rounds; Λ comes from a
    weighted log-linear fit of ε_d against d over all distances, with a bootstrap
    interval. Exit 3 when a distance saw no logical error (run more shots)."""
    from verifier.errors import UsageError
    from verifier.stats.suppression import fit_lambda, points_from_results

    spec = _spec(distances, p, shots, seed, rounds, basis, noise)
    if len(spec.ps) != 1:
        raise UsageError(f"sov qec lambda takes one physical error rate (--p 0.003), got {len(spec.ps)}")
    if len(spec.distances) < 2:
        raise UsageError("Λ needs at least two distances (e.g. --distances 3,5,7)")
    _check_plot(plot)
    baselines = {}
    if baseline_csv is not None:
        from adapters.sinter_interop import read_sinter_csv_epsilon

        baselines = read_sinter_csv_epsilon(baseline_csv, spec.ps[0])
        if not baselines:
            raise UsageError(f"{baseline_csv} has no rows at p = {spec.ps[0]:g}")
    from verifier.store.runs import recorded_run

    dec, n_workers = _prepare(decoder=decoder, spec=spec, workers=workers, contract=contract,
                              provider=provider, threads=threads, batch_size=batch_size,
                              executor=executor)
    store = o.store_for(db)
    with o.executor_for(executor, scheduler, n_workers) as ex, recorded_run(store, "qec lambda") as rec:
        result = _run(rec, dec, spec, n_workers=n_workers, max_errors=max_errors, quiet=quiet,
                      executor=ex)
        fit = fit_lambda(points_from_results(result.points), bootstrap=bootstrap, seed=spec.seed)
        payload = {**fit.to_json(), "p": spec.ps[0], "decoder": result.decoder_name,
                   "fingerprint": result.fingerprint, "sweep": spec.to_json(),
                   "run_id": result.run_id, "db": store.path, "wall_seconds": result.seconds,
                   "ran_shots": result.ran_shots, "reused_shots": result.reused_shots}
        base_fits = {label: fit_lambda(pts, bootstrap=bootstrap, seed=spec.seed)
                     for label, pts in baselines.items()}
        if base_fits:
            payload["baselines"] = {label: bf.to_json() for label, bf in base_fits.items()}
        if plot is not None:
            from reports.plots import plot_lambda

            plot_lambda(fit, plot, baselines=base_fits or None, title=f"{result.decoder_name}: {noise} noise, p = {spec.ps[0]:g}, "
                                         f"rounds = {rounds or 'd'}")
            payload["plot"] = str(plot)
        if sinter_csv is not None:
            from adapters.sinter_interop import write_sinter_csv

            write_sinter_csv(result, sinter_csv)
            payload["sinter_csv"] = str(sinter_csv)
        code = 0 if fit.status == "ok" else 3
        rec.exit_code = code
        rec.summary = {"decoder": result.decoder_name, "lambda": fit.lam,
                       "lambda_ci": list(fit.lam_ci), "status": fit.status}
    console = o.human_console(json_out)
    console.print(_points_table(result, f"{result.decoder_name}: {noise} noise, p = {spec.ps[0]:g}"))
    if fit.lam is not None:
        lo, hi = fit.lam_ci
        ci = f" [{lo:.3f}, {hi:.3f}] ({int(round(fit.confidence * 100))}% CI)" if lo is not None else ""
        console.print(f"Λ = {fit.lam:.3f}{ci}")
    for pr in fit.pairwise:
        if pr["lambda"] is not None:
            lo, hi = pr["lambda_ci"]
            console.print(f"  ε_{pr['from']} / ε_{pr['to']} = {pr['lambda']:.3f}"
                          + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""))
    for label, bf in base_fits.items():
        if bf.lam is not None and bf.lam_ci[0] is not None:
            console.print(f"  baseline {label}: Λ = {bf.lam:.3f} [{bf.lam_ci[0]:.3f}, {bf.lam_ci[1]:.3f}]")
        else:
            console.print(f"  baseline {label}: Λ not measured ({bf.message})")
    if fit.status != "ok":
        console.print(f"inconclusive: {fit.message}")
    o.write_json(json_out, payload)
    return code
