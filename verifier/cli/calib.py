"""``sov calib``: verify calibration models (``cal.fit``, ``cal.discriminator``) against a
ground-truth simulator and against Qibocal's own fits (docs/calibration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli.drift import calib as drift_calib

app = typer.Typer(help="Calibration models against simulated truth and Qibocal's fits.", no_args_is_help=True)

RepeatsOpt = Annotated[Optional[int], typer.Option("--repeats", min=1, help="Simulated qubits, each with its own truth [default: 40; readout 20].", show_default=False)]
CalShotsOpt = Annotated[Optional[int], typer.Option("--shots", min=2, help="Shots per sweep point (readout: per prepared state) [default: 1000; readout 2000].", show_default=False)]


@app.command("run")
def run(
    model: o.ModelOpt = "qibocal",
    experiment: o.ExperimentOpt = None,
    repeats: RepeatsOpt = None,
    seed: o.SeedOpt = o.SEED,
    shots: CalShotsOpt = None,
    sweep: o.SweepOpt = None,
    contract: o.ContractOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Run one calibration model on simulated qubits with known truth and record the result.

    Prints, per parameter, the truth's median, the median and 95th-percentile relative
    error, the normalized error (frequencies: in line half-widths), the bias and the
    failures; for readout the assignment fidelity against the prepared states."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import calib_result_notes, calib_result_table
    from verifier.calib.run import run_calibration
    from verifier.calib.sweep_shape import SweepShape
    from verifier.cli.wiring import calibration_model_from_spec
    from verifier.store.runs import recorded_run

    store = o.store_for(db)
    with recorded_run(store, "calib run") as rec:
        result = run_calibration(model, experiment, repeats=repeats, seed=seed, shots=shots, store=store,
                                 run=rec, contract=contract, resolve=calibration_model_from_spec,
                                 shape=SweepShape.parse(sweep))
        rec.summary = {"model": result.model, "experiment": result.experiment, "workload_id": result.workload_id,
                       "failures": len(result.failures)}
    console = o.human_console(json_out)
    console.print(calib_result_table(result))
    for line in calib_result_notes(result):
        console.print(line)
    o.write_json(json_out, result.to_json() | {"db": store.path, "run_id": rec.run_id})
    return 0


GateOpt = Annotated[bool, typer.Option("--gate", help="Judge the candidate per experiment against the baseline (with the truth from a truth.json in or beside the folder when it names the parameter): exit 0 pass, 1 fail, 3 inconclusive.")]
ToleranceOpt = Annotated[Optional[str], typer.Option("--tolerance", metavar="1.5x|1.5x+F|ABS", help="The gate's tolerance: the candidate's error may be at most this factor times the baseline's (plus F, default 0.0005) [default: 1.5x].", show_default=False)]
BaselineOpt = Annotated[str, typer.Option("--baseline", help="The gate's baseline: qibocal (its re-fit of the recorded data, else its recorded results).")]


@app.command("replay")
@o.hidden_aliases(bootstrap="--resamples")
def replay(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="A Qibocal output folder (data/<action>/data.npz, results.json, action.yml) or one action folder.")],
    model: o.ModelOpt = "sov-reference",
    experiment: o.ExperimentOpt = None,
    contract: o.ContractOpt = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="Parametric bootstrap resamples for the stability figures.")] = 8,
    gate: GateOpt = False,
    tolerance: ToleranceOpt = None,
    baseline: BaselineOpt = "qibocal",
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Replay a recorded Qibocal output folder: the candidate model and Qibocal's own fits
    on exactly the recorded data. Lists every action of the folder with what sov did with
    it, Qibocal's recorded figures and failures, a signal test per sweep and the flags;
    with --gate, a verdict per experiment (exit 0 / 1 / 3)."""
    return replay_and_gate(folder, model, experiment=experiment, contract=contract, bootstrap=bootstrap,
                           gate=gate, tolerance=tolerance, baseline=baseline, db=db, json_out=json_out)


def replay_and_gate(folder, model, *, experiment=None, contract=None, bootstrap: int = 8, gate: bool = False,
                    tolerance=None, baseline: str = "qibocal", db=None, json_out=None) -> int:
    """``sov calib replay`` and ``sov accept --replay``: one replay, optionally gated."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import calib_replay_gate_lines, calib_replay_lines, calib_replay_table
    from verifier.calib.replay import replay_folder
    from verifier.calib.replay_gate import gate_replay
    from verifier.calib.tolerance import Tolerance
    from verifier.cli.wiring import calibration_model_from_spec, qibocal_records
    from verifier.errors import UsageError
    from verifier.store.runs import recorded_run

    if baseline != "qibocal":
        raise UsageError(f"a replayed folder's baseline is Qibocal's own fit (--baseline qibocal), not {baseline!r}")
    tol = Tolerance.parse(tolerance)
    store = o.store_for(db)
    with recorded_run(store, "calib replay") as rec:
        report = replay_folder(folder, model, records=qibocal_records(), experiment=experiment, contract=contract,
                               n_boot=bootstrap, resolve=calibration_model_from_spec, store=store, run=rec)
        verdict = gate_replay(report, tol) if gate else None
        rec.summary = {"model": report["model"], "folder_id": report["folder_id"],
                       "actions": [a["action"] for a in report["actions"]],
                       **({"verdict": verdict["status"]} if verdict else {})}
    console = o.human_console(json_out)
    console.print(calib_replay_table(report))
    for line in calib_replay_lines(report) + (calib_replay_gate_lines(verdict) if verdict else []):
        console.print(line)
    o.write_json(json_out, report | ({"gate": verdict} if verdict else {}) | {"db": store.path, "run_id": rec.run_id})
    return verdict["exit_code"] if verdict else 0


AskModelOpt = Annotated[str, typer.Option("--model", help="openai:http://HOST:PORT/v1#MODEL (an OpenAI-compatible endpoint, asked about plots), or sov-reference (sov's own pipeline).")]
ScenarioOpt = Annotated[Optional[list[str]], typer.Option("--scenario", metavar="LABEL", help="Repeatable: the fault scenarios asked about (healthy, no_signal, under_driven, over_driven, wrong_frequency, too_short, beating, drifting, or all) [default: all].", show_default=False)]


@app.command("ask")
def ask(
    model: AskModelOpt,
    scenario: ScenarioOpt = None,
    seed: o.SeedOpt = o.SEED,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Seeds per scenario, sweep length and unit (and simulated healthy qubits per experiment).")] = 2,
    points: Annotated[str, typer.Option("--points", metavar="25,51,101", help="Sweep lengths of the fault scenarios, comma-separated.")] = "25,51,101",
    replay: Annotated[Optional[Path], typer.Option("--replay", metavar="DIR", help="Also ask about a recorded Qibocal output folder's sweeps (status, diagnosis and parameter questions, where a truth.json says the answer); alone, without --scenario, only about it.", show_default=False)] = None,
    min_accuracy: Annotated[Optional[float], typer.Option("--min-accuracy", min=0.0, max=1.0, metavar="F", help="Gate: exit 1 when any question type's accuracy is below F [default: no gate, exit 0].", show_default=False)] = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Ask a plot-reading calibration model the question set (experiment status, diagnosis,
    fit reliability, parameter extraction) on fault scenarios with known truth; score each
    question type beside chance and sov's own pipeline, and record every answer."""
    o.check_outputs(json_out=json_out)
    from reports.calib_questions import questions_lines, questions_table, scenarios_table
    from verifier.calib.ask import ask_model
    from verifier.cli.wiring import qibocal_records, question_answerer, reference_fits
    from verifier.qec.grid import parse_int_list
    from verifier.store.runs import recorded_run

    answerer = question_answerer(model)
    store = o.store_for(db)
    with recorded_run(store, "calib ask") as rec:
        card = ask_model(answerer, reference_fits(), scenarios=scenario or ([] if replay else ["all"]), seed=seed,
                         repeats=repeats, n_points=parse_int_list(points, flag="--points"), replay=replay,
                         records=qibocal_records() if replay else None, store=store, run_id=rec.run_id,
                         min_accuracy=min_accuracy)
        code = card["gate"]["exit_code"] if card["gate"] else 0
        rec.summary = {"model": card["model"], "items": card["items"],
                       "accuracy": {t: r["accuracy"] for t, r in card["types"].items()}}
        rec.exit_code = code
    console = o.human_console(json_out)
    console.print(questions_table(card))
    console.print(scenarios_table(card))
    for line in questions_lines(card):
        console.print(line)
    o.write_json(json_out, card | {"db": store.path, "run_id": rec.run_id})
    return code


@app.command("experiments")
def experiments(json_out: o.JsonOpt = None) -> int:
    """The experiments, their parameters and units, sweeps and truth ranges."""
    from reports.terminal import calib_experiments_table
    from verifier.calib.experiments import EXPERIMENTS

    o.human_console(json_out).print(calib_experiments_table(EXPERIMENTS.values()))
    o.write_json(json_out, [e.to_json() for e in EXPERIMENTS.values()])
    return 0


# the old spelling of ``sov drift calib``, hidden for one release
app.command("drift", hidden=True)(drift_calib)


@app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="Output folder (created).")],
    experiment: Annotated[Optional[list[str]], typer.Option("--experiment", "-e", metavar="NAME", help="Repeatable [default: all fit experiments].", show_default=False)] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Simulated qubits per experiment (one action folder each).")] = 1,
    seed: o.SeedOpt = o.SEED,
    scenario: Annotated[Optional[list[str]], typer.Option("--scenario", metavar="LABEL", help="Repeatable: write labelled fault scenarios instead (healthy, no_signal, under_driven, over_driven, wrong_frequency, too_short, beating, drifting, or all).", show_default=False)] = None,
    sweep: o.SweepOpt = None,
) -> int:
    """Write simulated experiments as a Qibocal output folder (Qibocal's own Data and
    Results writers) with the truth in truth.json beside it: input for `sov calib replay`."""
    from verifier.calib.sweep_shape import SweepShape
    from verifier.cli.wiring import export_for_replay
    from verifier.errors import UsageError

    shape = SweepShape.parse(sweep)
    if scenario and not shape.is_default:
        raise UsageError("--sweep shapes the simulated experiments; fault scenarios have their own sweeps")
    out = export_for_replay(folder, experiment or None, repeats=repeats, seed=seed, scenarios=scenario or None,
                            shape=None if shape.is_default else shape)
    o.human_console(None).print(f"wrote {out} (truth in {Path(out) / 'truth.json'})")
    return 0
