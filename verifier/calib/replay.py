"""Replay a recorded Qibocal output folder: the candidate model and Qibocal's own fits on
exactly the recorded data. There is no truth, so the figures are agreement and stability:

- per qubit: the candidate's estimate, Qibocal's re-fit, the value Qibocal recorded in
  ``results.json``, and their relative differences (candidate vs Qibocal; Qibocal's re-fit
  vs its record, which checks the folder reproduces);
- stability: each model's relative spread over parametric-bootstrap resamples of the
  recorded sweep (binomial with the recorded number of shots);
- readout: the share of shots both discriminators label alike, and each one's assignment
  fidelity against the recorded prepared states.

``DIR`` may be a whole Qibocal output folder (``data/<action>/...``) or one action folder.
Qibocal itself comes in as ``records`` (the CLI passes
``verifier.cli.wiring.qibocal_records()``): ``load(path)`` -> an action or None,
``refit(action)`` -> ({qubit: params}, {qubit: reason}), ``recorded(action)`` -> {qubit:
params}, ``fit(experiment, x, y, nshots, ctx)`` -> params or None, ``classify(params, iq)``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from verifier.calib.data import single_fit, single_readout
from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.experiments.readout import assignment_fidelity
from verifier.calib.run import BASELINE_NAMES, ModelFactory, close, fingerprint, open_model
from verifier.errors import UsageError


def _action_dirs(root: Path) -> list[Path]:
    if (root / "data.npz").is_file():
        return [root]
    base = root / "data" if (root / "data").is_dir() else root
    return sorted(p for p in base.iterdir() if p.is_dir() and (p / "data.npz").is_file())


def folder_id(dirs: list[Path]) -> str:
    h = hashlib.sha256()
    for d in dirs:
        for name in ("data.npz", "data.json", "action.yml"):
            f = d / name
            if f.is_file():
                h.update(name.encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return None
    return float(abs(a - b) / abs(b))


def _spread(vals: np.ndarray) -> float | None:
    v = vals[np.isfinite(vals)]
    if v.size < 2 or np.median(np.abs(v)) == 0:
        return None
    return float(np.std(v, ddof=1) / abs(np.median(v)))


def _actions(root: Path, records, model_spec: Any, experiment: str | None, resolve, contract, options) -> list:
    if not root.exists():
        raise UsageError(f"no such folder: {root}")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder (give a Qibocal output folder)")
    dirs = _action_dirs(root)
    if experiment is None and str(model_spec) not in BASELINE_NAMES:
        experiment = getattr(open_model(model_spec, None, resolve, contract=contract, options=options),
                             "experiment", None)
    actions = [a for a in (records.load(d) for d in dirs) if a is not None]
    if experiment is not None:
        get_experiment(experiment)
        actions = [a for a in actions if a.experiment == experiment]
    if not actions:
        raise UsageError(f"{root}: no Qibocal action with a supported experiment "
                         f"({'for ' + experiment if experiment else 'data.npz + action.yml'}) found")
    return actions


def replay_folder(folder: str | Path, model_spec: Any, *, records, experiment: str | None = None,
                  contract: str | None = None, n_boot: int = 8, seed: int = 0, options=None,
                  resolve: ModelFactory | None = None, store=None, run=None) -> dict[str, Any]:
    """Run the candidate and Qibocal on every supported action of a Qibocal output folder;
    with a store, record the candidate's values of each action in ``cal_results``."""
    root = Path(folder)
    actions = _actions(root, records, model_spec, experiment, resolve, contract, options)
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {"folder": str(root), "folder_id": folder_id([Path(a.path) for a in actions]),
                              "model": None, "actions": []}
    models: dict[str, Any] = {}
    for a in actions:
        entry: dict[str, Any] = {"action": a.action_id, "operation": a.operation, "experiment": a.experiment,
                                 "path": a.path, "nshots": a.nshots, "qubits": []}
        report["actions"].append(entry)
        try:
            if a.experiment not in models:
                models[a.experiment] = open_model(model_spec, a.experiment, resolve, contract=contract,
                                                  options=options)
            model = models[a.experiment]
        except UsageError as e:
            entry["skipped"] = str(e)
            continue
        report["model"] = getattr(model, "name", str(model_spec))
        report["fingerprint"] = fingerprint(model)
        q_fit, q_fail = records.refit(a)
        q_rec = records.recorded(a)
        replay_qubit = _readout_qubit if get_experiment(a.experiment).kind == "readout" else _fit_qubit
        for q in a.qubits:
            row: dict[str, Any] = {"qubit": q if isinstance(q, (int, str)) else str(q)}
            replay_qubit(row, model, records, a, q, q_fit, q_fail, q_rec, n_boot=n_boot, rng=rng)
            entry["qubits"].append(row)
    for m in models.values():
        close(m)
    if report["model"] is None:
        reasons = "; ".join(e.get("skipped", "") for e in report["actions"])
        raise UsageError(f"the model fits none of the folder's experiments: {reasons}")
    if store is not None:
        record_replay(store, report, run_id=run.run_id if run is not None else None)
    return report


def record_replay(store, report: dict[str, Any], *, run_id: str | None) -> None:
    """One ``cal_results`` row per replayed action (source ``replay``): the candidate's
    estimates (or readout fidelity) per qubit."""
    from verifier.store.calib import insert_result

    for a in report["actions"]:
        if "skipped" in a:
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
                      repeats=len(a["qubits"]), failures=sum(1 for q in a["qubits"] if "candidate_error" in q),
                      seconds=None, figures=json.dumps(a, default=str),
                      estimates=np.asarray(vals, dtype="<f8").tobytes())


def _readout_qubit(row: dict, model, records, a, q, q_fit: dict, q_fail: dict, q_rec: dict, **_) -> None:
    iq, states = a.shots(q)
    try:
        cand_pred = (model.classify(iq) if hasattr(model, "classify")
                     else model.classify_data(single_readout(iq, states))[0][0])
    except UsageError as e:
        row["candidate_error"] = str(e)
        return
    row["candidate_fidelity"] = float(assignment_fidelity(cand_pred[None], states[None])[0])
    if q in q_fit:
        qb = records.classify(q_fit[q], iq)
        row["qibocal_fidelity"] = float(assignment_fidelity(qb[None], states[None])[0])
        row["label_agreement"] = float(np.mean(qb == cand_pred))
        row["qibocal_refit"] = q_fit[q]
    else:
        row["qibocal_failure"] = q_fail.get(q, "no fit")
    if q in q_rec:
        row["qibocal_recorded"] = q_rec[q]


def _estimate(model, experiment: str, x, y, nshots: int, ctx: dict[str, float]) -> np.ndarray:
    if hasattr(model, "estimate"):
        return model.estimate(np.atleast_2d(x), np.atleast_2d(y))
    return model.estimate_data(single_fit(experiment, x, y, nshots, ctx)).estimates


def _fit_qubit(row: dict, model, records, a, q, q_fit: dict, q_fail: dict, q_rec: dict, *,
               n_boot: int, rng: np.random.Generator) -> None:
    exp = get_experiment(a.experiment)
    x, y = a.sweep(q)
    try:
        cand = _estimate(model, a.experiment, x, y, a.nshots, a.context(q))[0]
    except UsageError as e:
        row["candidate_error"] = str(e)
        return
    qf = q_fit.get(q)
    qr = q_rec.get(q)
    row["candidate"] = dict(zip(exp.param_names, map(float, cand)))
    row["qibocal_refit"] = dict(zip(exp.param_names, qf)) if qf is not None else None
    row["qibocal_recorded"] = dict(zip(exp.param_names, qr)) if qr is not None else None
    if qf is None:
        row["qibocal_failure"] = q_fail.get(q, "no fit")
    row["candidate_vs_qibocal"] = {p: _rel(float(cand[j]), qf[j] if qf else None)
                                   for j, p in enumerate(exp.param_names)}
    row["qibocal_refit_vs_recorded"] = {p: _rel(qf[j] if qf else None, qr[j] if qr else None)
                                        for j, p in enumerate(exp.param_names)}
    if n_boot > 0 and exp.y_meaning.startswith("excited"):
        row["stability"] = _stability(model, records, a, q, x, y, n_boot, rng)


def _stability(model, records, a, q, x, y, n_boot: int, rng: np.random.Generator) -> dict[str, dict]:
    """Each model's spread under parametric (binomial) resampling of the recorded sweep."""
    exp = get_experiment(a.experiment)
    p = np.clip(y, 0, 1)
    ys = rng.binomial(a.nshots, np.broadcast_to(p, (n_boot, p.size))) / a.nshots
    xs = np.broadcast_to(x, ys.shape)
    try:
        cb = _estimate(model, a.experiment, xs, ys, a.nshots, a.context(q))
    except UsageError:
        cb = np.full((n_boot, len(exp.params)), np.nan)
    qb = np.full((n_boot, len(exp.params)), np.nan)
    for i in range(n_boot):
        params = records.fit(a.experiment, x, ys[i], a.nshots, a.context(q))
        if params is not None:
            qb[i] = params
    return {p: {"candidate_rel_spread": _spread(cb[:, j]), "qibocal_rel_spread": _spread(qb[:, j]),
                "qibocal_failures": int((~np.isfinite(qb[:, j])).sum())}
            for j, p in enumerate(exp.param_names)}
