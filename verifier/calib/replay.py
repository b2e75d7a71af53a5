"""Replay a recorded Qibocal output folder: the candidate model and Qibocal's own fits on
exactly the recorded data, every action of the folder accounted for.

Every action folder is listed with what sov did with it (``verifier.calib.folder``):
``replayed``, ``unsupported`` (the operation is named), ``interrupted`` (action.yml
without data.npz), ``unreadable``, or ``not served`` (the model serves another
experiment). For a replayed action, per qubit (``verifier.calib.replay_rows``): the
candidate's estimate, Qibocal's re-fit, every figure Qibocal recorded in results.json
(readout fidelity, Ramsey's corrected frequency, chi2, ...), the signal test
(``verifier.calib.signal``), the truth where a truth.json is in or beside the folder, the
stability under binomial resampling, and flags for every difference worth a look. A
Qibocal fit that failed (results.json without the qubit) is a failure with Qibocal's
reason, reproduced by re-running its fit on the recorded data (the folder keeps no log).

Defects of the data are the folder's (exit 2, one line naming the folder, the action and
the problem), checked for every action before any model runs: non-finite points, renamed
fields, a sweep whose length the model's fixed input width cannot take.

Qibocal itself comes in as ``records`` (the CLI passes ``verifier.cli.wiring.qibocal_records()``):
``load(path)``, ``refit(action)``, ``recorded(action)``, ``figures(action)``,
``fit(experiment, x, y, nshots, ctx)``, ``classify(params, iq)``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.folder import load_truth, scan_folder, truth_of
from verifier.calib.replay_rows import fit_qubit, readout_qubit
from verifier.calib.run import BASELINE_NAMES, ModelFactory, close, fingerprint, open_model
from verifier.errors import UsageError


def folder_id(dirs: list[Path]) -> str:
    h = hashlib.sha256()
    for d in dirs:
        for name in ("data.npz", "data.json", "action.yml"):
            f = d / name
            if f.is_file():
                h.update(name.encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def _check_sweep(action, q, n_points: int | None, resample: str | None = None) -> None:
    """The folder's defects, named before any model runs."""
    where = f"{Path(action.path).parent.parent if Path(action.path).parent.name == 'data' else action.path}: " \
            f"action {action.action_id}"
    if get_experiment(action.experiment).kind == "readout":
        iq, states = action.shots(q)
        bad = np.where(~np.isfinite(iq).all(axis=1))[0]
        if bad.size:
            raise UsageError(f"{where}: qubit {q}: shot {int(bad[0])} of {len(iq)} has a non-finite I/Q value")
        if not set(np.unique(states).tolist()) <= {0, 1} or len(set(states.tolist())) < 2:
            raise UsageError(f"{where}: qubit {q}: the prepared states must be 0 and 1, both present")
        return
    x, y = action.sweep(q)
    if x.shape != y.shape:
        raise UsageError(f"{where}: qubit {q}: {x.size} sweep values but {y.size} measured values")
    for name, v in (("sweep value", x), ("measured value", y)):
        bad = np.where(~np.isfinite(v))[0]
        if bad.size:
            raise UsageError(f"{where}: qubit {q}: {name} at point {int(bad[0])} of {v.size} is {v[bad[0]]}")
    if x.size < 3:
        raise UsageError(f"{where}: qubit {q}: {x.size} sweep points are too few to fit")
    if n_points is not None and x.size != n_points and resample is None:
        raise UsageError(f"{where}: the model takes sweeps of exactly {n_points} points, this one has "
                         f"{x.size} (it declares no resampling rule): refused before any run")


def _model_for(models: dict, exp: str, model_spec, resolve, contract, options):
    if exp not in models:
        try:
            models[exp] = open_model(model_spec, exp, resolve, contract=contract, options=options)
        except UsageError as e:
            models[exp] = e
    return models[exp]


def plan_folder(root: Path, records, model_spec, experiment, resolve, contract, options):
    """The folder's actions, each with the loaded action and model (or why not)."""
    entries = scan_folder(root)
    if not entries:
        raise UsageError(f"{root}: no Qibocal action (action.yml, data.npz) found")
    if experiment is None and str(model_spec) not in BASELINE_NAMES:
        probe = open_model(model_spec, None, resolve, contract=contract, options=options)
        experiment = getattr(probe, "experiment", None)
        if probe is not model_spec:
            close(probe)
    if experiment is not None:
        get_experiment(experiment)
    models: dict[str, Any] = {}
    plan = []
    for e in entries:
        action = records.load(e.path) if e.status == "replayable" else None
        model = None
        if action is not None and (experiment is None or action.experiment == experiment):
            model = _model_for(models, action.experiment, model_spec, resolve, contract, options)
            if not isinstance(model, UsageError):
                for q in action.qubits:
                    _check_sweep(action, q, getattr(model, "n_points", None), getattr(model, "resample", None))
        plan.append((e, action, model))
    if not any(m is not None and not isinstance(m, UsageError) for _, _, m in plan):
        served = [e for e, a, m in plan if a is not None]
        why = "; ".join(sorted({str(m) for _, _, m in plan if isinstance(m, UsageError)}))
        raise UsageError(f"{root}: no Qibocal action with a supported experiment "
                         f"{'for ' + experiment + ' ' if experiment else ''}found"
                         + (f" ({len(served)} supported, but: {why})" if why else ""))
    return plan, models


def _entry(e, action, model) -> dict[str, Any]:
    d = e.to_json()
    if action is not None:
        d["suspicious"] = list(action.suspicious)
        d["nshots"] = action.nshots
    if e.status == "replayable":
        d["status"] = "replayed" if model is not None and not isinstance(model, UsageError) else "not served"
        if isinstance(model, UsageError):
            d["reason"] = str(model)
        elif model is None:
            d["reason"] = "the model serves another experiment"
    d["qubits"] = []
    return d


def replay_folder(folder: str | Path, model_spec: Any, *, records, experiment: str | None = None,
                  contract: str | None = None, n_boot: int = 8, seed: int = 0, options=None,
                  resolve: ModelFactory | None = None, store=None, run=None) -> dict[str, Any]:
    """Run the candidate and Qibocal on every supported action of a Qibocal output folder
    and account for every other one; with a store, record each replayed action in
    ``cal_results`` (its failures counted, Qibocal's too)."""
    root = Path(folder)
    plan, models = plan_folder(root, records, model_spec, experiment, resolve, contract, options)
    truth, truth_file = load_truth(root)
    rng = np.random.default_rng(seed)
    replayed = [Path(a.path) for _, a, m in plan if a is not None]
    report: dict[str, Any] = {"folder": str(root), "folder_id": folder_id(replayed), "model": None,
                              "truth_file": truth_file, "actions": []}
    for e, action, model in plan:
        entry = _entry(e, action, model)
        report["actions"].append(entry)
        if entry["status"] != "replayed":
            continue
        report["model"] = getattr(model, "name", str(model_spec))
        report["fingerprint"] = fingerprint(model)
        q_fit, q_fail = records.refit(action)
        ctx = {"refit": q_fit, "failed": q_fail, "recorded": records.recorded(action),
               "figures": records.figures(action),
               "truth": {**truth.get("_folder", {}), **truth_of(truth, action.action_id, action.experiment)}}
        replay_qubit = readout_qubit if get_experiment(action.experiment).kind == "readout" else fit_qubit
        for q in action.qubits:
            row: dict[str, Any] = {"qubit": q if isinstance(q, (int, str)) else str(q)}
            replay_qubit(row, model, records, action, q, ctx, n_boot=n_boot, rng=rng)
            entry["qubits"].append(row)
        entry["qibocal"] = _qibocal_status(action, entry["qubits"])
    for m in models.values():
        if not isinstance(m, UsageError):
            close(m)
    report["summary"] = summary(report)
    if store is not None:
        record_replay(store, report, run_id=run.run_id if run is not None else None)
    return report


def _qibocal_status(action, rows: list[dict]) -> str:
    if action.results_state != "present":
        return f"no record (results.json {action.results_state})"
    failed = [r for r in rows if r.get("qibocal_failure")]
    if failed:
        return "failed: " + failed[0]["qibocal_failure"]
    return "fitted"


def summary(report: dict) -> dict[str, Any]:
    acts = report["actions"]
    count = {s: sum(1 for a in acts if a["status"] == s) for s in sorted({a["status"] for a in acts})}
    rows = [q for a in acts for q in a["qubits"]]
    return {"actions": len(acts), "by_status": count,
            "qibocal_failed": sum(1 for a in acts if str(a.get("qibocal", "")).startswith("failed")),
            "candidate_failed": sum(1 for q in rows if q.get("candidate_failed")),
            "flags": sum(len(q.get("flags", [])) for q in rows),
            "no_signal": sum(1 for q in rows if (q.get("signal") or {}).get("verdict") == "no signal"),
            "poor_fit": sum(1 for q in rows if (q.get("signal") or {}).get("verdict") == "poor fit"),
            "suspicious": sum(len(a.get("suspicious", [])) for a in acts)}


def record_replay(store, report: dict[str, Any], *, run_id: str | None) -> None:
    """One ``cal_results`` row per replayed action (source ``replay``): the candidate's
    estimates (or readout fidelity) per qubit, its failed qubits counted; Qibocal's
    failures, the signal verdicts and flags are in the row's figures."""
    from verifier.store.calib import insert_result

    for a in report["actions"]:
        if a["status"] != "replayed":
            continue
        vals = []
        for q in a["qubits"]:
            if "candidate" in q:
                vals.append(list(q["candidate"].values()))
            elif "candidate_fidelity" in q:
                vals.append([q["candidate_fidelity"]])
        insert_result(store, run_id=run_id, model=report["model"], fingerprint=report.get("fingerprint", ""),
                      model_sha256=None, experiment=a["experiment"], workload_id=report["folder_id"],
                      workload=json.dumps({"folder": report["folder"], "action": a["action"]}), source="replay",
                      repeats=len(a["qubits"]), failures=sum(1 for q in a["qubits"] if q.get("candidate_failed")),
                      seconds=None, figures=json.dumps(a, default=str),
                      estimates=np.asarray(vals, dtype="<f8").tobytes())
