"""Acceptance and drift for calibration models.

``accept_calibration(candidate, baseline, experiment, tolerance="1.5x", ...)`` runs both
models on the same simulated qubits and compares their errors against the truth, per
parameter (fits: the normalized error of ``verifier.calib.metrics``; readout: 1 -
assignment fidelity). Default gate (``verifier.calib.tolerance``): the candidate's median
error may be at most 1.5 times the baseline's plus 0.05 percentage points. A failed fit
counts as an infinitely wrong estimate.

Decision, per parameter, on the paired statistic ``d = median(c) - factor * median(b)``
with a paired bootstrap interval over the repeats (``confidence``, default 95 %):
``pass`` if the upper bound <= floor, ``fail`` if the lower bound > floor,
``inconclusive`` otherwise (more repeats would decide). The experiment's verdict is the
worst of its parameters. The result is a ``verifier.gates.gate.GateResult`` (name
``calibration_tolerance``) like every other gate of ``sov accept``.

Drift: :func:`drift_signature` is the list of parameters a model returns on a fixed
reference data set (seeded simulation), with a digest; :func:`compare_signatures` flags
a shift beyond a relative tolerance.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.run import ModelFactory, close, evaluate, fingerprint, open_model, record_result
from verifier.calib.simulator import CalWorkload, simulate
from verifier.calib.tolerance import Tolerance
from verifier.errors import UsageError
from verifier.jsonsafe import json_safe
from verifier.stats.binomial import CONFIDENCE

DEFAULT_TOLERANCE = Tolerance.parse(None)
BOOTSTRAP = 2000
GATE_NAME = "calibration_tolerance"
REFERENCE_SEED = 7_000_007  # the fixed reference data set of drift signatures
REFERENCE_REPEATS = 16


def paired_median_difference(cand: np.ndarray, base: np.ndarray, *, confidence: float = CONFIDENCE,
                             n_boot: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """(d, lo, hi): difference of medians and its paired percentile bootstrap interval.
    Infinite errors (failed fits) are allowed: they sort last."""
    c = np.asarray(cand, float)
    b = np.asarray(base, float)
    R = c.size
    d = float(np.median(c) - np.median(b)) if np.isfinite(np.median(c)) or np.isfinite(np.median(b)) else float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, R, size=(n_boot, R))
    with np.errstate(invalid="ignore"):
        ds = np.median(c[idx], axis=1) - np.median(b[idx], axis=1)
    ds = np.where(np.isnan(ds), np.inf, ds)  # inf - inf: both failed, undecidable -> treat as large
    a = (1 - confidence) / 2
    # 'lower'/'higher' never interpolate (infinite errors stay infinite) and are conservative
    lo, hi = np.quantile(ds, a, method="lower"), np.quantile(ds, 1 - a, method="higher")
    return d, float(lo), float(hi)


def _status(lo: float, hi: float, tol: float) -> str:
    if hi <= tol:
        return "pass"
    if lo > tol:
        return "fail"
    return "inconclusive"


def _fmt(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "inf"
    return f"{v:.2%}" if abs(v) >= 1e-4 else f"{v:.2e}"


def compare_results(cand, base, *, tolerance: "Tolerance | float | str" = DEFAULT_TOLERANCE,
                    confidence: float = CONFIDENCE):
    """A GateResult from two CalResults on the same workload."""
    from verifier.gates.gate import GateResult, combine

    tol = Tolerance.parse(tolerance)

    if cand.workload_id != base.workload_id:
        raise UsageError("candidate and baseline were not run on the same calibration workload")
    ce, be = cand.gate_errors(), base.gate_errors()
    per: dict[str, dict] = {}
    statuses = []
    msgs = []
    for p in ce:
        d, lo, hi = paired_median_difference(ce[p], tol.factor * np.asarray(be[p], float), confidence=confidence)
        st = _status(lo, hi, tol.floor)
        statuses.append(st)
        cm, bm = float(np.median(ce[p])), float(np.median(be[p]))
        # infinite (failed) errors become None
        per[p] = json_safe({"candidate_median_error": cm, "baseline_median_error": bm,
                            "candidate_p95_error": np.quantile(ce[p], 0.95, method="higher"),
                            "baseline_p95_error": np.quantile(be[p], 0.95, method="higher"),
                            "allowed_median_error": tol.factor * bm + tol.floor,
                            "difference": d, "difference_ci": [lo, hi],
                            "candidate_failures": int((~np.isfinite(ce[p])).sum()),
                            "baseline_failures": int((~np.isfinite(be[p])).sum()),
                            "status": st})
        msgs.append(f"{p}: median error {_fmt(cm)} vs {_fmt(bm)}, allowed {tol.describe()}: "
                    f"excess {_fmt(d - tol.floor)} [{_fmt(lo - tol.floor)}, {_fmt(hi - tol.floor)}]")
    status = combine([GateResult("p", s) for s in statuses])
    figures = {"experiment": cand.experiment, "tolerance": tol.to_json(), "confidence": confidence,
               "repeats": int(cand.values.shape[0]), "workload_id": cand.workload_id,
               "seed": cand.workload.get("seed"), "candidate": cand.model, "baseline": base.model,
               "candidate_fingerprint": cand.fingerprint, "baseline_fingerprint": base.fingerprint,
               "error_measure": ("1 - assignment fidelity" if cand.experiment == "readout"
                                 else "normalized error (relative to the truth; frequencies: to the line half-width)"),
               "parameters": per}
    return GateResult(GATE_NAME, status, figures, "; ".join(msgs), cand.experiment)


def accept_calibration(candidate: Any, baseline: Any, experiment: str | None = None, *,
                       tolerance: "Tolerance | float | str | None" = DEFAULT_TOLERANCE, repeats: int | None = None,
                       seed: int | None = 0, shots: int | None = None,
                       confidence: float | None = CONFIDENCE, store=None, run=None,
                       contract: str | None = None, resolve: ModelFactory | None = None):
    """Accept or reject a calibration model against a baseline on the same simulated
    qubits. ``candidate``/``baseline``: ``qibocal``, ``sov-reference``, FILE.onnx, a
    built-in model name (built by ``resolve``), or a model object. Returns a
    ``GateResult``; with a store both runs are recorded in ``cal_results``."""
    tol = Tolerance.parse(tolerance)
    conf = CONFIDENCE if confidence is None else float(confidence)
    if not (0.5 <= conf < 1):
        raise UsageError("the confidence must lie in [0.5, 1)")
    cand = open_model(candidate, experiment, resolve, contract=contract)
    exp_name = experiment or getattr(cand, "experiment", None)
    if exp_name is None:
        raise UsageError("give --experiment")
    exp = get_experiment(exp_name)
    base = open_model(baseline, exp.name, resolve)
    n = int(repeats or exp.default_repeats)
    if n < 2:
        raise UsageError("calibration acceptance needs --repeats >= 2")
    wl = CalWorkload(exp.name, n, int(seed or 0), int(shots or exp.default_shots))
    from verifier.qec.limits import check_calibration

    check_calibration(wl.repeats, wl.shots)
    data = simulate(exp.name, wl.repeats, seed=wl.seed, shots=wl.shots)
    try:
        rc = evaluate(cand, wl, data)
        rb = evaluate(base, wl, data)
    finally:
        close(cand)
        close(base)
    if store is not None:
        run_id = run.run_id if run is not None else None
        record_result(store, rc, run_id=run_id, model=cand)
        record_result(store, rb, run_id=run_id, model=base)
    gate = compare_results(rc, rb, tolerance=tol, confidence=conf)
    gate.figures["candidate_figures"] = rc.figures
    gate.figures["baseline_figures"] = rb.figures
    return gate


# -- drift --------------------------------------------------------------------------------

def drift_signature(model: Any, experiment: str | None = None, *, repeats: int = REFERENCE_REPEATS,
                    seed: int = REFERENCE_SEED, resolve: ModelFactory | None = None) -> dict[str, Any]:
    """What the model returns on a fixed reference data set: fits, the estimates
    [repeats, k]; discriminators, the predicted state of every test shot (bit-packed, as
    hex) and the per-repeat fidelity. Same model + same data -> same digest."""
    m = open_model(model, experiment, resolve)
    exp = get_experiment(experiment or m.experiment)
    wl = CalWorkload(exp.name, repeats, seed, exp.default_shots)
    data = simulate(exp.name, repeats, seed=seed, shots=wl.shots)
    try:
        if exp.kind == "readout":
            pred, _ = m.classify_data(data)
            values: Any = np.packbits(pred.astype(np.uint8), axis=None).tobytes().hex()
        else:
            values = np.asarray(m.estimate_data(data).estimates, float).tolist()
        res = evaluate(m, wl, data) if exp.kind == "readout" else None
    finally:
        close(m)
    sig = {"experiment": exp.name, "reference_id": wl.id, "model": getattr(m, "name", str(model)),
           "fingerprint": fingerprint(m), "model_sha256": getattr(m, "sha256", None),
           "params": exp.param_names, "values": values}
    if res is not None:
        sig["fidelity"] = res.values.tolist()
    sig["digest"] = hashlib.sha256(json.dumps([sig["reference_id"], values], default=str).encode()).hexdigest()
    return sig


def compare_signatures(old: dict[str, Any], new: dict[str, Any], *, rel_tolerance: float = 1e-4) -> dict[str, Any]:
    """Flag a shift between two signatures of the same reference data set: per parameter
    the largest relative change (fits), or the share of shots classified differently
    (readout). ``drift`` is True beyond ``rel_tolerance``."""
    if old["reference_id"] != new["reference_id"]:
        raise UsageError("the two drift signatures were taken on different reference data sets")
    if old["digest"] == new["digest"]:
        return {"drift": False, "identical": True, "shift": {}}
    if old["experiment"] == "readout":
        a = np.unpackbits(np.frombuffer(bytes.fromhex(old["values"]), np.uint8))
        b = np.unpackbits(np.frombuffer(bytes.fromhex(new["values"]), np.uint8))
        changed = float(np.mean(a != b))
        return {"drift": changed > rel_tolerance, "identical": False,
                "shift": {"changed_shot_share": changed}}
    a = np.asarray(old["values"], float)
    b = np.asarray(new["values"], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(b - a) / np.abs(a)
    shift = {}
    drift = False
    for j, p in enumerate(old["params"]):
        col = rel[:, j]
        newly_failed = int((np.isfinite(a[:, j]) & ~np.isfinite(b[:, j])).sum())
        m = float(np.nanmax(col)) if np.isfinite(col).any() else 0.0
        shift[p] = {"max_rel_shift": m, "median_rel_shift": float(np.nanmedian(col)) if np.isfinite(col).any() else 0.0,
                    "newly_failed": newly_failed}
        drift = drift or m > rel_tolerance or newly_failed > 0
    return {"drift": drift, "identical": False, "shift": shift}


def drift_against_last(store, model: Any, experiment: str | None = None, *, rel_tolerance: float = 1e-4,
                       run_id: str | None = None, resolve: ModelFactory | None = None,
                       signature: dict[str, Any] | None = None):
    """``sov drift calib``: the model's signature now (on the fixed reference data set, or
    the ``signature`` given, e.g. on a recorded folder: ``verifier.calib.replay_drift``), the
    last one recorded under the same model name and experiment on the same data set, and
    their comparison (None for a first signature); the new signature is recorded. Returns
    (signature, previous or None, comparison or None)."""
    from verifier.store.calib import insert_signature, last_signature_named

    sig = signature if signature is not None else drift_signature(model, experiment, resolve=resolve)
    # a folder's signatures and the simulated reference set's are separate series
    prev = last_signature_named(store, sig["model"], sig["experiment"], reference_id=sig["reference_id"])
    cmp = compare_signatures(prev, sig, rel_tolerance=rel_tolerance) if prev else None
    insert_signature(store, sig, run_id=run_id)
    return sig, prev, cmp
