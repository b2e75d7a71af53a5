"""``sov drift``: register the models in service (add, list, remove), check them against
their history, print schedules, and compare a calibration model's drift signature (calib).
``sov watch add|list|remove`` and ``sov calib drift`` are the old spellings (hidden
aliases, cli/watch.py and cli/calib.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring
from verifier.errors import UsageError

app = typer.Typer(help="Watched models in service and their drift checks against their history.",
                  no_args_is_help=True)

ModelFileOpt = Annotated[Optional[Path], typer.Option("--model", metavar="FILE",
                                                     help="A calibration model in service (.onnx), with --experiment.")]
DecoderFileOpt = Annotated[Optional[Path], typer.Option("--decoder", metavar="FILE",
                                                       help="A QEC decoder in service (.onnx).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="The watched model's name.", show_default=False)]
ExperimentOpt = o.experiment_opt("A calibration model (--model): watch the parameters it returns on sov's fixed "
                                 "reference data for this experiment.")
OldOperand = Annotated[Optional[str], typer.Argument(hidden=True, show_default=False)]  # the previous release's operand, hidden


def _in_service(decoder: Path | None, model: Path | None, path: str | None, experiment: str | None) -> Path:
    """The model file of ``sov drift add``: ``--decoder FILE`` (QEC) or ``--model FILE -e NAME``
    (calibration); the positional PATH of the previous release still works, hidden."""
    if decoder is not None and model is not None:
        raise UsageError("give --decoder FILE (a QEC decoder) or --model FILE (a calibration model), not both")
    if decoder is not None and experiment is not None:
        raise UsageError("--experiment watches a calibration model: give it as --model FILE")
    if model is not None and experiment is None:
        raise UsageError("--model (a calibration model) needs --experiment")
    given = decoder if decoder is not None else model
    return Path(o.one_operand(str(given) if given is not None else None, path,
                              "--model" if experiment else "--decoder", "the model in service"))


@o.workload_options(shots=o.MEASURE_SHOTS)
@o.runtime_options("contract", "provider", "batch_size")
def add(
    decoder: DecoderFileOpt = None,
    model: ModelFileOpt = None,
    name: Annotated[str, typer.Option("--name", help="A short name for it (used by sov drift check --name).")] = ...,
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml", help="Take the reference workloads from a policy file.")] = None,
    workload: Optional[dict] = None,  # the workload flags: see o.workload_options
    runtime: Optional[dict] = None,  # --contract --provider --batch-size: see o.runtime_options
    experiment: ExperimentOpt = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not replay the reference workload now (the first drift check then starts the history).")] = False,
    replay: Annotated[Optional[Path], typer.Option("--replay", metavar="DIR", help="A calibration model (--model, --experiment): its reference data is this recorded Qibocal folder's sweeps instead of sov's simulated set.")] = None,
    workers: o.WorkersOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    path: OldOperand = None,
) -> int:
    """Register a model in service: path, sha256 and reference workload(s); replays the
    reference workload once to start its history."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_watched
    from verifier.gates.policy import resolve_policy
    from verifier.workflows.drift import register

    if replay is not None and experiment is None:
        raise UsageError("--replay DIR is a calibration model's reference data: give --model FILE --experiment E")
    file = _in_service(decoder, model, path, experiment)
    pol = resolve_policy(policy, workload, experiment=experiment, purpose="watch")
    n_workers = o.workers_or_default(workers)
    w, checks = register(o.store_for(db), file, name, list(pol.workloads),
                         make_decoder=wiring.drift_decoder_factory(n_workers),
                         load_calibration=wiring.load_calibration_model,
                         signature=wiring.calibration_signature,
                         decoder_options={"provider": runtime["provider"], "batch_size": runtime["batch_size"]},
                         contract=runtime["contract"], experiment=experiment, replay_now=not no_run, workers=n_workers,
                         folder=replay)
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


def remove(name: NameOpt = None, db: o.DbOpt = None, json_out: o.JsonOpt = None,
           old_name: OldOperand = None) -> int:
    """Stop watching a model (its history stays in the store)."""
    from verifier.workflows.drift_registry import remove as unwatch

    name = o.one_operand(name, old_name, "--name", "the watched model's name")
    w = unwatch(o.store_for(db), name)
    o.human_console(json_out).print(f"no longer watching {name} ({w.path})")
    o.write_json(json_out, {"removed": name})
    return 0


def check(
    name: Annotated[Optional[list[str]], typer.Option("--name", metavar="NAME", help="Watched model(s) to check.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every watched model.")] = False,
    per_year: Annotated[float, typer.Option("--false-alarms-per-year", help="Yearly false-alarm budget of an unchanged model, spent evenly over the checks of a year at --every.")] = 0.05,
    every: Annotated[str, typer.Option("--every", help="How often this check runs (30m, 6h, 1d, 1w): sets each check's share of the budget.")] = "1d",
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="Family-wise level of this one check (Holm over every series), instead of the budget's share.", show_default=False)] = None,
    latency_tolerance: Annotated[float, typer.Option("--latency-tolerance", help="Latency shifts smaller than this fraction are never drift.")] = 0.5,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Sampling seed [default: fresh random, recorded].")] = None,
    key: o.KeyOpt = None,
    workers: o.WorkersOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Re-hash each watched file, replay its reference workload(s) with a fresh seed and
    compare with its history. Exit 1 on drift, naming what moved (file hash, LER, latency)."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_drift
    from verifier.stats.drift import FalseAlarmBudget
    from verifier.workflows.drift import run_check
    from verifier.workflows.drift_schedule import every_seconds

    n_workers = o.workers_or_default(workers)
    report = run_check(o.store_for(db), name, all_=all_, make_decoder=wiring.drift_decoder_factory(n_workers),
                       signature=wiring.calibration_signature, workers=n_workers, alpha=alpha,
                       budget=FalseAlarmBudget(per_year, every_seconds(every)), seed=seed,
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


def calib(
    model: o.ModelOpt,
    experiment: o.ExperimentOpt = None,
    rel_tolerance: Annotated[float, typer.Option("--rel-tolerance", min=0.0, help="Largest relative change of any returned parameter that is not a shift.")] = 1e-4,
    replay: Annotated[Optional[Path], typer.Option("--replay", metavar="DIR", help="Take the signature on a recorded Qibocal folder's sweeps instead of the simulated reference set.")] = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """A calibration model's drift signature: the parameters it returns on a fixed reference
    data set (or a recorded Qibocal folder, --replay), compared with the last signature
    recorded for the same model name and experiment (on the same folder; no registration
    needed). Exit 0 unchanged (or first signature), 1 a shift."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import calib_drift_message
    from verifier.calib.accept import drift_against_last
    from verifier.store.runs import recorded_run

    store = o.store_for(db)
    with recorded_run(store, "calib drift") as rec:
        folder_sig = None if replay is None else wiring.calibration_folder_signature(model, replay, experiment)
        sig, prev, cmp = drift_against_last(store, model, experiment, rel_tolerance=rel_tolerance,
                                            run_id=rec.run_id, resolve=wiring.calibration_model_from_spec,
                                            signature=folder_sig)
        rec.exit_code = 1 if cmp and cmp["drift"] else 0
        rec.summary = {"model": sig["model"], "experiment": sig["experiment"], "digest": sig["digest"],
                       "drift": bool(cmp and cmp["drift"])}
    o.human_console(json_out).print(calib_drift_message(sig, prev, cmp))
    o.write_json(json_out, {"signature": sig, "previous_digest": prev["digest"] if prev else None,
                            "comparison": cmp, "run_id": rec.run_id})
    return rec.exit_code


def register_watch_commands(group: typer.Typer) -> None:
    """add, list, remove: in ``sov drift`` and in the hidden old ``sov watch``."""
    group.command("add")(add)
    group.command("list")(list_cmd)
    group.command("remove")(remove)


register_watch_commands(app)
app.command("check")(check)
app.command("schedule")(schedule)
app.command("calib")(calib)
