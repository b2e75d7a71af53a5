"""The calibration section of a comparison: calibration models next to Qibocal and sov's
reference estimator on exactly the same simulated qubits (known truth)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from verifier.errors import UsageError
from verifier.jsonsafe import json_safe
from verifier.workflows.compare.details import environment
from verifier.workflows.compare.payload import header
from verifier.workflows.compare.recorded import find_verdicts

if TYPE_CHECKING:
    from verifier.store.runs import Run

CAL_BASELINES = ("qibocal", "sov-reference")

# (spec, experiment or None) -> a calibration model; the CLI passes the resolver of its wiring
ModelResolver = Callable[[str, "str | None"], Any]


def _closing(model) -> None:
    if hasattr(model, "close"):
        model.close()


def _experiment_of(models: Sequence[str], resolve: ModelResolver) -> str:
    first = next((m for m in models if m not in CAL_BASELINES), None)
    if first is None:
        raise UsageError("give --experiment with the calibration baselines")
    m0 = resolve(first, None)
    try:
        return m0.experiment
    finally:
        _closing(m0)


def _distributions(r, exp) -> list[dict[str, Any]]:
    """Every repeat's error of one model (for the distribution plots)."""
    if exp.kind == "readout":
        v = np.asarray(r.values, dtype=float)
        return [{"model": r.model, "parameter": "assignment_fidelity", "metric": "1 − assignment fidelity",
                 "values": sorted(float(x) for x in (1.0 - v[np.isfinite(v)])),
                 "failures": int((~np.isfinite(v)).sum())}]
    out = []
    for p in exp.param_names:
        e = np.asarray(r.errors.get(f"{p}.rel", []), dtype=float)
        out.append({"model": r.model, "parameter": p, "metric": "|relative error|",
                    "values": sorted(float(x) for x in e[np.isfinite(e)]),
                    "failures": int((~np.isfinite(e)).sum())})
    return out


def _rows(r, spec: str, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for p, f in r.figures.items():
        row = {"model": r.model, "parameter": p, "repeats": repeats, "seconds": r.seconds,
               "baseline": spec in CAL_BASELINES}
        row.update({k: v for k, v in f.items() if k not in ("repeats",)})
        rows.append(row)
    return rows


def calibration_section(models: Sequence[str], experiment: str | None = None, *, resolve: ModelResolver,
                        repeats: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Per parameter the error figures of every model, and every repeat's error for the
    distribution plots (``verifier.calib``: run, simulator, metrics)."""
    from verifier.calib.experiments import experiment as get_experiment
    from verifier.calib.run import default_repeats, evaluate
    from verifier.calib.simulator import CalWorkload, default_shots, simulate

    specs = list(CAL_BASELINES) + [m for m in models if m not in CAL_BASELINES]
    exp = get_experiment(experiment if experiment is not None else _experiment_of(models, resolve))
    wl = CalWorkload(exp.name, int(repeats or default_repeats(exp.name)), seed, default_shots(exp.name))
    data = simulate(exp.name, wl.repeats, seed=wl.seed, shots=wl.shots)
    rows: list[dict[str, Any]] = []
    dists: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for spec in specs:
        model = resolve(spec, exp.name)
        try:
            r = evaluate(model, wl, data)
        finally:
            _closing(model)
        entries.append({"model": r.model, "spec": spec, "baseline": spec in CAL_BASELINES,
                        "model_sha256": r.model_sha256, "fingerprint": r.fingerprint,
                        "seconds": r.seconds, "failures": len(r.failures), "notes": list(r.notes)})
        rows += _rows(r, spec, wl.repeats)
        dists += _distributions(r, exp)
    return {"title": f"Calibration models: {exp.name} (simulated qubits, known truth)", "experiment": exp.name,
            "kind": exp.kind, "workload": wl.spec(), "workload_id": wl.id, "models": entries, "rows": rows,
            "distributions": dists}


def calibration_only_payload(run: "Run", calibration: dict[str, Any], *,
                             argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The payload of a comparison of calibration models alone (no QEC sweep)."""
    models = [m["spec"] for m in calibration.get("models", []) if not m.get("baseline")]
    cmd = ["sov", "compare"]
    for m in models:
        cmd += ["--model", m]
    cmd += ["--experiment", calibration["experiment"]]
    return json_safe({
        **header(run, elapsed=None, baseline=None, sweep=None),
        "decoders": [], "workloads": [], "results": [], "paired": [], "summary": [],
        "command": shlex.join(cmd), "argv": list(argv) if argv is not None else None,
        "environment": environment(),
        "verdicts": find_verdicts(run.store, [m.get("model_sha256") for m in calibration.get("models", [])]),
        "calibration": calibration})
