"""``sov drift``: register the models in service (add, list, remove), check them against
their history, print schedules. ``sov watch add|list|remove`` is the old spelling
(a hidden alias, cli/watch.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring

app = typer.Typer(help="Watched models in service and their drift checks against their history.",
                  no_args_is_help=True)


@o.workload_options(shots=20_000)
def add(
    path: Annotated[Path, typer.Argument(help="The model file in service (.onnx).", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="A short name for it (used by sov drift check --name).")],
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml", help="Take the reference workloads from a policy file.")] = None,
    workload: Optional[dict] = None,  # the workload flags: see o.workload_options
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    batch_size: o.BatchOpt = 8192,
    experiment: Annotated[Optional[str], typer.Option("--experiment", help="A calibration model: watch the parameters it returns on sov's fixed reference data for this experiment.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not replay the reference workload now (the first drift check then starts the history).")] = False,
    workers: o.WorkersOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Register a model in service: path, sha256 and reference workload(s); replays the
    reference workload once to start its history."""
    from reports.terminal import print_watched
    from verifier.gates.policy import resolve_policy
    from verifier.workflows.drift import register

    pol = resolve_policy(policy, workload, experiment=experiment, purpose="watch")
    n_workers = o.workers_or_default(workers)
    w, checks = register(o.store_for(db), path, name, list(pol.workloads),
                         make_decoder=wiring.drift_decoder_factory(n_workers),
                         load_calibration=wiring.load_calibration_model,
                         signature=wiring.calibration_signature,
                         decoder_options={"provider": provider, "batch_size": batch_size},
                         contract=contract, experiment=experiment, replay_now=not no_run, workers=n_workers)
    print_watched(o.human_console(json_out), w, checks)
    o.write_json(json_out, w.to_json() | {"reference": [c.to_json() for c in checks]})
    return 0


def list_cmd(db: o.DbOpt = None, json_out: o.JsonOpt = None) -> int:
    """The watched models."""
    from reports.terminal import watched_table
    from verifier.workflows.drift_registry import list_watched

    ws = list_watched(o.store_for(db))
    o.human_console(json_out).print(watched_table(ws))
    o.write_json(json_out, [w.to_json() for w in ws])
    return 0


def remove(
    name: Annotated[str, typer.Argument(help="The watched model's name.", show_default=False)],
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Stop watching a model (its history stays in the store)."""
    from verifier.workflows.drift_registry import remove as unwatch

    w = unwatch(o.store_for(db), name)
    o.human_console(json_out).print(f"no longer watching {name} ({w.path})")
    o.write_json(json_out, {"removed": name})
    return 0


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
    from reports.terminal import print_drift
    from verifier.workflows.drift import run_check

    n_workers = o.workers_or_default(workers)
    report = run_check(o.store_for(db), name, all_=all_, make_decoder=wiring.drift_decoder_factory(n_workers),
                       signature=wiring.calibration_signature, workers=n_workers, alpha=alpha, seed=seed,
                       latency_tolerance=latency_tolerance, key_file=key)
    print_drift(o.human_console(json_out), report)
    o.write_json(json_out, report.to_json())
    return report.exit_code


def schedule(
    name: Annotated[str, typer.Option("--name", help="The watched model to check.")],
    every: Annotated[str, typer.Option("--every", help="Interval: 30m, 6h, 1d, 1w.")] = "1d",
    fmt: Annotated[str, typer.Option("--format", help="systemd (service + timer units) or cron (a crontab line).")] = "systemd",
    db: o.DbOpt = None,
) -> int:
    """Print the systemd units or the crontab line that run `sov drift check` for NAME."""
    import sys

    from verifier.workflows.drift_schedule import schedule_for

    sys.stdout.write(schedule_for(o.store_for(db), name, every, fmt))
    return 0


def register_watch_commands(group: typer.Typer) -> None:
    """add, list, remove: in ``sov drift`` and in the hidden old ``sov watch``."""
    group.command("add")(add)
    group.command("list")(list_cmd)
    group.command("remove")(remove)


register_watch_commands(app)
app.command("check")(check)
app.command("schedule")(schedule)
