"""Calibration verification: a ground-truth single-transmon simulator, the experiment
registry of the ``cal.fit`` / ``cal.discriminator`` contracts, metrics against the truth,
runs recorded in the store, acceptance gates and drift signatures for calibration models.

Nothing here imports adapters/baselines at module level; qibocal, scipy and onnxruntime
are imported lazily by the functions that need them.
"""

from __future__ import annotations

from typing import Any


def scorecard_rows(models: list[Any], experiment: str | None = None, *, repeats: int | None = None,
                   seed: int = 0) -> list[dict[str, Any]]:
    """One row per (model, parameter) on the same simulated qubits: the figures of
    ``sov calib run``. ``models``: names (qibocal, sov-reference, built-in, FILE.onnx)."""
    from verifier.calib.experiments import experiment as get
    from verifier.calib.run import default_repeats, evaluate, resolve_model
    from verifier.calib.simulator import CalWorkload, default_shots, simulate

    rows: list[dict[str, Any]] = []
    resolved = [resolve_model(m, experiment) for m in models]
    exp = get(experiment or resolved[0].experiment)
    wl = CalWorkload(exp.name, int(repeats or default_repeats(exp.name)), seed, default_shots(exp.name))
    data = simulate(exp.name, wl.repeats, seed=wl.seed, shots=wl.shots)
    for m in resolved:
        try:
            r = evaluate(m, wl, data)
        finally:
            if hasattr(m, "close"):
                m.close()
        for p, f in r.figures.items():
            row = {"model": r.model, "experiment": exp.name, "parameter": p, "repeats": wl.repeats}
            row.update({k: v for k, v in f.items() if k not in ("unit", "repeats", "norm_error_scale")})
            row["seconds"] = round(r.seconds, 3)
            rows.append(row)
    return rows


def compare_section(models: list[str], *, experiment: str | None = None) -> dict[str, Any]:
    """The calibration section of ``sov compare`` (``--calib-model``): the candidates next
    to Qibocal and sov's reference estimator on the same simulated qubits."""
    rows = scorecard_rows(["qibocal", "sov-reference", *models], experiment or _experiment_of(models[0]))
    for r in rows:
        for k, v in list(r.items()):
            if isinstance(v, float):
                r[k] = float(f"{v:.4g}")
    return {"title": f"Calibration models on {rows[0]['experiment']} (simulated truth)", "rows": rows, "charts": []}


def _experiment_of(model: str) -> str:
    from verifier.calib.run import resolve_model

    m = resolve_model(model, None)
    try:
        return m.experiment
    finally:
        if hasattr(m, "close"):
            m.close()
