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
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
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


def replay_folder(folder: str | Path, model_spec: Any, *, experiment: str | None = None,
                  contract: str | None = None, n_boot: int = 8, seed: int = 0, options=None) -> dict[str, Any]:
    """Run the candidate and Qibocal on every supported action of a Qibocal output folder."""
    from baselines.qibocal_fits import (FitFailed, QibocalReadout, fit_one, load_action, recorded_params,
                                        refit)
    from verifier.calib.run import fingerprint, resolve_model
    from verifier.calib.simulator import assignment_fidelity

    root = Path(folder)
    if not root.exists():
        raise UsageError(f"no such folder: {root}")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder (give a Qibocal output folder)")
    dirs = _action_dirs(root)
    if experiment is None and str(model_spec) not in ("qibocal", "sov-reference"):
        experiment = getattr(resolve_model(model_spec, None, contract=contract, options=options), "experiment", None)
    actions = [a for a in (load_action(d) for d in dirs) if a is not None]
    if experiment is not None:
        get_experiment(experiment)
        actions = [a for a in actions if a.experiment == experiment]
    if not actions:
        raise UsageError(f"{root}: no Qibocal action with a supported experiment "
                         f"({'for ' + experiment if experiment else 'data.npz + action.yml'}) found")
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
                models[a.experiment] = resolve_model(model_spec, a.experiment, contract=contract, options=options)
            model = models[a.experiment]
        except UsageError as e:
            entry["skipped"] = str(e)
            continue
        report["model"] = getattr(model, "name", str(model_spec))
        report["fingerprint"] = fingerprint(model)
        q_fit, q_fail = refit(a)
        q_rec = recorded_params(a)
        exp = get_experiment(a.experiment)
        for q in a.qubits:
            row: dict[str, Any] = {"qubit": q if isinstance(q, (int, str)) else str(q)}
            if exp.kind == "readout":
                iq, states = a.shots(q)
                data = _single_readout(iq, states)
                try:
                    cand_pred = model.classify_data(data)[0][0] if not hasattr(model, "classify") else model.classify(iq)
                except UsageError as e:
                    row["candidate_error"] = str(e)
                    entry["qubits"].append(row)
                    continue
                row["candidate_fidelity"] = float(assignment_fidelity(cand_pred[None], states[None])[0])
                if q in q_fit:
                    qb = QibocalReadout.classify_with(q_fit[q], iq)
                    row["qibocal_fidelity"] = float(assignment_fidelity(qb[None], states[None])[0])
                    row["label_agreement"] = float(np.mean(qb == cand_pred))
                    row["qibocal_refit"] = q_fit[q]
                else:
                    row["qibocal_failure"] = q_fail.get(q, "no fit")
                if q in q_rec:
                    row["qibocal_recorded"] = q_rec[q]
                entry["qubits"].append(row)
                continue
            x, y = a.sweep(q)
            try:
                if hasattr(model, "estimate"):
                    cand = model.estimate(x[None], y[None])[0]
                else:
                    cand = model.estimate_data(_single_fit(a.experiment, x, y, a.nshots, a.context(q))).estimates[0]
            except UsageError as e:
                row["candidate_error"] = str(e)
                entry["qubits"].append(row)
                continue
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
            # stability under parametric resampling of the recorded sweep
            if n_boot > 0 and exp.y_meaning.startswith("excited"):
                p = np.clip(y, 0, 1)
                ys = rng.binomial(a.nshots, np.broadcast_to(p, (n_boot, p.size))) / a.nshots
                xs = np.broadcast_to(x, ys.shape)
                try:
                    cb = model.estimate(xs, ys) if hasattr(model, "estimate") else \
                        model.estimate_data(_single_fit(a.experiment, xs, ys, a.nshots, a.context(q))).estimates
                except UsageError:
                    cb = np.full((n_boot, len(exp.params)), np.nan)
                qb = np.full((n_boot, len(exp.params)), np.nan)
                for i in range(n_boot):
                    try:
                        qb[i] = fit_one(a.experiment, x, ys[i], a.nshots, a.context(q))[0]
                    except FitFailed:
                        pass
                row["stability"] = {p: {"candidate_rel_spread": _spread(cb[:, j]),
                                        "qibocal_rel_spread": _spread(qb[:, j]),
                                        "qibocal_failures": int((~np.isfinite(qb[:, j])).sum())}
                                    for j, p in enumerate(exp.param_names)}
            entry["qubits"].append(row)
    for m in models.values():
        if hasattr(m, "close"):
            m.close()
    if report["model"] is None:
        reasons = "; ".join(e.get("skipped", "") for e in report["actions"])
        raise UsageError(f"the model fits none of the folder's experiments: {reasons}")
    return report


def _single_fit(experiment: str, x, y, nshots: int, ctx: dict[str, float]):
    from verifier.calib.simulator import FitData

    x = np.atleast_2d(np.asarray(x, float))
    y = np.atleast_2d(np.asarray(y, float))
    return FitData(experiment, x, y, nshots, None, {k: np.full(x.shape[0], v) for k, v in ctx.items()})


def _single_readout(iq: np.ndarray, states: np.ndarray):
    from verifier.calib.simulator import ReadoutData

    return ReadoutData(iq[None], states[None], iq[None], states[None], int((states == 0).sum()))
