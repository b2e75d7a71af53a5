"""``sov drift``: check watched models against their history; print schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Drift checks of watched models against their history.", no_args_is_help=True)


@app.command("check")
def check(
    name: Annotated[Optional[list[str]], typer.Option("--name", metavar="NAME", help="Watched model(s) to check.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every watched model.")] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="Family-wise false-alarm level (Holm over every series checked).")] = 0.01,
    latency_tolerance: Annotated[float, typer.Option("--latency-tolerance", help="Latency shifts smaller than this fraction are never drift.")] = 0.5,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Sampling seed [default: fresh random, recorded].")] = None,
    key: Annotated[Optional[Path], typer.Option("--key", metavar="PRIVATE_KEY", help="Sign the evidence records.")] = None,
    workers: o.WorkersOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Re-hash each watched file, replay its reference workload(s) with a fresh seed and
    compare with its history. Exit 1 on drift, naming what moved (file hash, LER, latency)."""
    from verifier.workflows import drift as drift
    from verifier.cli.watch import make_decoder_factory
    from verifier.cli.wiring import calibration_model_from_spec
    from verifier.errors import UsageError
    from verifier.store.runs import recorded_run

    if bool(name) == all_:
        raise UsageError("give --name NAME (repeatable) or --all")
    keys = None
    if key is not None:
        from verifier.evidence.keys import load_keys

        keys = load_keys(key, want="private")
    n_workers = o.workers_or_default(workers)
    store = o.store_for(db)
    with recorded_run(store, "drift check") as rec:
        report = drift.check(store, None if all_ else list(name), run=rec,
                             make_decoder=make_decoder_factory(n_workers), workers=n_workers,
                             alpha=alpha, seed=seed, latency_tolerance=latency_tolerance, keys=keys,
                             make_calibration_model=calibration_model_from_spec)
        rec.exit_code = report.exit_code
        rec.summary = {"status": "drift" if report.drift else "ok",
                       "models": {m.watched.name: ("drift" if m.drift else "ok") for m in report.models}}
    console = o.human_console(json_out)
    for m in report.models:
        colour = "red" if m.drift else "green"
        console.print(f"[bold {colour}]{m.watched.name}: {'DRIFT' if m.drift else 'ok'}[/]  ({m.watched.path})")
        for s in m.series:
            if s.error:
                continue
            if s.signature is not None:
                console.print(f"  {s.series}: calibration signature {s.signature.get('digest', '')[:16]}"
                              + ("" if s.cal_shift is None else
                                 ("; identical to history" if s.cal_shift.get("identical") else
                                  f"; shift {s.cal_shift.get('shift')}")))
                continue
            hist = (f"history {s.history_errors}/{s.history_shots} over {s.history_checks} checks"
                    if s.history_checks else "no history yet: this check starts it")
            console.print(f"  {s.series}: {s.errors}/{s.shots} errors (LER {s.ler:.3e}); {hist}"
                          + (f"; p = {s.ler_p:.2g}" if s.ler_p is not None else ""))
        for f in m.findings:
            console.print(f"  [{colour}]moved: {f}[/]")
    o.write_json(json_out, report.to_json())
    return report.exit_code


@app.command("schedule")
def schedule(
    name: Annotated[str, typer.Option("--name", help="The watched model to check.")],
    every: Annotated[str, typer.Option("--every", help="Interval: 30m, 6h, 1d, 1w.")] = "1d",
    fmt: Annotated[str, typer.Option("--format", help="systemd (service + timer units) or cron (a crontab line).")] = "systemd",
    db: o.DbOpt = None,
) -> int:
    """Print the systemd units or the crontab line that run `sov drift check` for NAME."""
    import os
    import shutil
    import sys

    from verifier.workflows import drift as drift

    store = o.store_for(db)
    drift.get(store, name)  # refuse a name that is not watched
    exe = shutil.which("sov") or f"{sys.executable} -c 'from verifier.cli.launch import entry; entry()'"
    if os.path.exists(os.path.join(os.path.dirname(sys.executable), "sov")):
        exe = os.path.join(os.path.dirname(sys.executable), "sov")
    text = drift.schedule(name, every, fmt, sov_exe=exe, db=str(Path(store.path).resolve()),
                          workdir=os.getcwd())
    sys.stdout.write(text)
    return 0
