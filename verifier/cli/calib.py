"""``sov calib``: verify calibration models (``cal.fit``, ``cal.discriminator``) against a
ground-truth simulator and against Qibocal's own fits (docs/calibration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Calibration models against simulated truth and Qibocal's fits.", no_args_is_help=True)

ModelOpt = Annotated[str, typer.Option("--model", help="qibocal, sov-reference, a built-in model (sov models list), FILE.onnx, or openai:http://HOST:PORT/v1#MODEL (an OpenAI-compatible endpoint, asked about plots).")]
ExperimentOpt = Annotated[Optional[str], typer.Option("--experiment", "-e", help="resonator_spectroscopy, qubit_spectroscopy, rabi_amplitude, rabi_length, t1, ramsey, spin_echo or readout [default: the model's sov.experiment].", show_default=False)]
RepeatsOpt = Annotated[Optional[int], typer.Option("--repeats", min=1, help="Simulated qubits, each with its own truth [default: 40; readout 20].", show_default=False)]
CalShotsOpt = Annotated[Optional[int], typer.Option("--shots", min=2, help="Shots per sweep point (readout: per prepared state) [default: 1000; readout 2000].", show_default=False)]


def _fmt(v, pct: bool = True) -> str:
    if v is None:
        return "-"
    if pct:
        return f"{v:.3%}" if abs(v) >= 1e-4 else f"{v:.2e}"
    return f"{v:.6g}"


@app.command("run")
def run(
    model: ModelOpt = "qibocal",
    experiment: ExperimentOpt = None,
    repeats: RepeatsOpt = None,
    seed: o.SeedOpt = 0,
    shots: CalShotsOpt = None,
    contract: o.ContractOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Run one calibration model on simulated qubits with known truth and record the result.

    Prints, per parameter, the truth's median, the median and 95th-percentile relative
    error, the normalized error (frequencies: in line half-widths), the bias and the
    failures; for readout the assignment fidelity against the prepared states."""
    from verifier.calib.run import run_calibration
    from verifier.store.runs import recorded_run

    store = o.store_for(db)
    with recorded_run(store, "calib run") as rec:
        result = run_calibration(model, experiment, repeats=repeats, seed=seed, shots=shots, store=store,
                                 run=rec, contract=contract)
        rec.summary = {"model": result.model, "experiment": result.experiment, "workload_id": result.workload_id,
                       "failures": len(result.failures)}
    payload = result.to_json() | {"db": store.path, "run_id": rec.run_id}
    console = o.human_console(json_out)
    console.print(result_table(result))
    for note in result.notes:
        console.print(f"note: {note}")
    if result.failures:
        first = sorted(result.failures.items())[:3]
        console.print(f"{len(result.failures)} failed fits, e.g. " + "; ".join(f"#{i}: {w}" for i, w in first))
    o.write_json(json_out, payload)
    return 0


def result_table(result):
    from rich.table import Table

    wl = result.workload
    t = Table(title=f"{result.model} on {result.experiment}: {wl['repeats']} simulated qubits, seed {wl['seed']}, "
                    f"{wl['shots']} shots (workload {result.workload_id[:12]})", title_justify="left")
    if result.experiment == "readout":
        f = result.figures["assignment_fidelity"]
        for c in ("assignment fidelity median", "p05", "min", "truth-informed reference", "gap"):
            t.add_column(c, justify="right")
        t.add_row(_fmt(f["assignment_fidelity_median"], False), _fmt(f["assignment_fidelity_p05"], False),
                  _fmt(f["assignment_fidelity_min"], False), _fmt(f.get("reference_fidelity_median"), False),
                  _fmt(f.get("gap_to_reference_median")))
        return t
    for c in ("parameter", "truth median", "rel. error median", "rel. error p95", "norm. error median",
              "norm. error p95", "bias", "failures"):
        t.add_column(c, justify="right" if c != "parameter" else "left")
    for p, f in result.figures.items():
        norm = "" if f["norm_error_scale"] == "truth" else " (linewidths)"
        t.add_row(f"{p} [{f['unit']}]", _fmt(f["truth_median"], False), _fmt(f["rel_error_median"]),
                  _fmt(f["rel_error_p95"]), _fmt(f["norm_error_median"]) + norm, _fmt(f["norm_error_p95"]),
                  _fmt(f["bias"]), f"{f['failures']}/{f['repeats']}")
    return t


@app.command("replay")
def replay(
    folder: Annotated[Path, typer.Argument(help="A Qibocal output folder (data/<action>/data.npz, results.json, action.yml) or one action folder.")],
    model: ModelOpt = "sov-reference",
    experiment: ExperimentOpt = None,
    contract: o.ContractOpt = None,
    resamples: Annotated[int, typer.Option("--resamples", min=0, help="Parametric-bootstrap resamples for the stability figures.")] = 8,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Replay a recorded Qibocal output folder: the candidate model and Qibocal's own fits
    on exactly the recorded data; reports their agreement, whether Qibocal's re-fit
    reproduces its recorded results.json, and each model's stability under resampling."""
    from verifier.calib.replay import replay_folder
    from verifier.store.runs import recorded_run

    store = o.store_for(db)
    with recorded_run(store, "calib replay") as rec:
        report = replay_folder(folder, model, experiment=experiment, contract=contract, n_boot=resamples)
        _record_replay(store, report, rec.run_id)
        rec.summary = {"model": report["model"], "folder_id": report["folder_id"],
                       "actions": [a["action"] for a in report["actions"]]}
    console = o.human_console(json_out)
    _print_replay(console, report)
    o.write_json(json_out, report | {"db": store.path, "run_id": rec.run_id})
    return 0


def _record_replay(store, report: dict, run_id: str) -> None:
    import json

    import numpy as np

    from verifier.store.db import now

    with store.connect() as con:
        for a in report["actions"]:
            if "skipped" in a:
                continue
            vals = []
            for q in a["qubits"]:
                if "candidate" in q:
                    vals.append(list(q["candidate"].values()))
                elif "candidate_fidelity" in q:
                    vals.append([q["candidate_fidelity"]])
            arr = np.asarray(vals, dtype="<f8")
            con.execute("INSERT INTO cal_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, report["model"], report.get("fingerprint", ""), None, a["experiment"],
                         report["folder_id"], json.dumps({"folder": report["folder"], "action": a["action"]}),
                         "replay", len(a["qubits"]), sum(1 for q in a["qubits"] if "candidate_error" in q),
                         None, json.dumps(a, default=str), arr.tobytes(), now()])


def _print_replay(console, report: dict) -> None:
    from rich.table import Table

    t = Table(title=f"{report['model']} vs Qibocal on {report['folder']} (folder {report['folder_id'][:12]})",
              title_justify="left")
    for c in ("action", "qubit", "parameter", "candidate", "qibocal re-fit", "recorded", "cand. vs qibocal",
              "cand. spread", "qibocal spread"):
        t.add_column(c)
    for a in report["actions"]:
        if "skipped" in a:
            t.add_row(a["action"], "-", a["experiment"], "skipped: " + a["skipped"][:60], "", "", "", "", "")
            continue
        for q in a["qubits"]:
            if "candidate_error" in q:
                t.add_row(a["action"], str(q["qubit"]), "-", "error: " + q["candidate_error"][:60], "", "", "", "", "")
            elif "candidate_fidelity" in q:
                t.add_row(a["action"], str(q["qubit"]), "assignment fidelity", _fmt(q["candidate_fidelity"], False),
                          _fmt(q.get("qibocal_fidelity"), False), "-",
                          f"labels agree {_fmt(q.get('label_agreement'))}", "", "")
            else:
                for p, v in q["candidate"].items():
                    st = (q.get("stability") or {}).get(p, {})
                    t.add_row(a["action"], str(q["qubit"]), p, _fmt(v, False),
                              _fmt((q["qibocal_refit"] or {}).get(p), False),
                              _fmt((q["qibocal_recorded"] or {}).get(p), False),
                              _fmt(q["candidate_vs_qibocal"].get(p)),
                              _fmt(st.get("candidate_rel_spread")), _fmt(st.get("qibocal_rel_spread")))
    console.print(t)


@app.command("experiments")
def experiments(json_out: o.JsonOpt = None) -> int:
    """The experiments, their parameters and units, sweeps and truth ranges."""
    from rich.table import Table

    from verifier.calib.experiments import EXPERIMENTS

    t = Table(title="calibration experiments (units: Hz, ns, a.u.)", title_justify="left")
    for c in ("experiment", "params", "points", "sweep", "truth drawn from"):
        t.add_column(c)
    for e in EXPERIMENTS.values():
        t.add_row(e.name, ", ".join(f"{p.name} [{p.unit}]" for p in e.params), str(e.n_points), e.sweep,
                  "; ".join(f"{k}: {v}" for k, v in e.truth_ranges))
    o.human_console(json_out).print(t)
    o.write_json(json_out, [e.to_json() for e in EXPERIMENTS.values()])
    return 0


@app.command("drift")
def drift(
    model: ModelOpt,
    experiment: ExperimentOpt = None,
    rel_tolerance: Annotated[float, typer.Option("--rel-tolerance", min=0.0, help="Largest relative change of any returned parameter that is not a shift.")] = 1e-4,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Drift signature: the parameters the model returns on a fixed reference data set,
    compared with the last signature recorded for the same model name and experiment.
    Exit 0 unchanged (or first signature), 1 a shift."""
    from verifier.calib.accept import compare_signatures, drift_signature, record_signature
    from verifier.store.runs import recorded_run

    store = o.store_for(db)
    with recorded_run(store, "calib drift") as rec:
        sig = drift_signature(model, experiment)
        prev = _previous_signature(store, sig["model"], sig["experiment"])
        cmp = compare_signatures(prev, sig, rel_tolerance=rel_tolerance) if prev else None
        record_signature(store, sig, run_id=rec.run_id)
        rec.exit_code = 1 if cmp and cmp["drift"] else 0
        rec.summary = {"model": sig["model"], "experiment": sig["experiment"], "digest": sig["digest"],
                       "drift": bool(cmp and cmp["drift"])}
    console = o.human_console(json_out)
    if prev is None:
        console.print(f"{sig['model']} on {sig['experiment']}: first signature {sig['digest'][:16]} recorded")
    elif not cmp["drift"]:
        console.print(f"{sig['model']} on {sig['experiment']}: no shift (signature {sig['digest'][:16]}, "
                      f"previous {prev['digest'][:16]})")
    else:
        console.print(f"{sig['model']} on {sig['experiment']}: SHIFT against the signature of "
                      f"{prev.get('model_sha256') or prev['fingerprint'][:16]}: {cmp['shift']}")
    o.write_json(json_out, {"signature": sig, "previous_digest": prev["digest"] if prev else None,
                            "comparison": cmp, "run_id": rec.run_id})
    return rec.exit_code


def _previous_signature(store, model: str, experiment: str):
    import json

    if not Path(store.path).exists():
        return None
    rows = store.query("SELECT signature FROM cal_signatures WHERE model = ? AND experiment = ? "
                       "ORDER BY recorded_at DESC LIMIT 1", [model, experiment])
    return json.loads(rows[0][0]) if rows else None


@app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(help="Output folder (created).")],
    experiment: Annotated[Optional[list[str]], typer.Option("--experiment", "-e", metavar="NAME", help="Repeatable; default: all fit experiments.")] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Simulated qubits per experiment (one action folder each).")] = 1,
    seed: o.SeedOpt = 0,
) -> int:
    """Write simulated experiments as a Qibocal output folder (Qibocal's own Data and
    Results writers) with the truth in truth.json beside it: input for `sov calib replay`."""
    from baselines.qibocal_fits import export_simulation
    from verifier.calib.experiments import experiment as get
    from verifier.errors import UsageError

    for e in experiment or []:
        if get(e).kind != "fit":
            raise UsageError(f"export writes fit experiments only, not {e!r}")
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} exists and is not empty")
    out = export_simulation(folder, experiment or None, repeats=repeats, seed=seed)
    o.human_console(None).print(f"wrote {out} (truth in {Path(out) / 'truth.json'})")
    return 0
