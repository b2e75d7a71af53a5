"""Run a calibration model on simulated data with known truth, and record the result.

``run_calibration(model, experiment, ..., resolve=...)`` simulates ``repeats`` qubits,
runs the model on exactly the data every other model sees for the same (experiment,
repeats, seed, shots), scores it against the truth and, given a store, records it (table
``cal_results``, with the per-repeat estimates).

Models given by name (``qibocal``, ``sov-reference``, FILE.onnx, a built-in model, an
endpoint) are built by ``resolve`` (the CLI passes
``verifier.cli.wiring.calibration_model_from_spec``); model objects are used as they are.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from verifier.calib.data import FitData, ReadoutData
from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.experiments import readout
from verifier.calib.metrics import errors as fit_errors
from verifier.calib.metrics import fit_figures
from verifier.calib.simulator import CalWorkload, simulate
from verifier.calib.sweep_shape import DEFAULT, SweepShape
from verifier.errors import UsageError
from verifier.hashing import fingerprint

BASELINE_NAMES = ("qibocal", "sov-reference")

# resolve(spec, experiment, *, contract=None, options=None) -> a calibration model
ModelFactory = Callable[..., Any]


def default_repeats(experiment: str) -> int:
    return get_experiment(experiment).default_repeats


def open_model(spec: Any, experiment: str | None, resolve: ModelFactory | None, *,
               contract: str | None = None, options: Any = None) -> Any:
    """The model object for ``spec``: objects pass through, names go to ``resolve``."""
    if not isinstance(spec, (str, Path)):
        return spec
    if resolve is None:
        raise TypeError(f"calibration model {str(spec)!r} given by name, but no model factory (resolve=)")
    return resolve(str(spec), experiment, contract=contract, options=options)


def close(model: Any) -> None:
    if hasattr(model, "close"):
        model.close()


@dataclass
class CalResult:
    """One model on one calibration workload."""

    model: str
    fingerprint: str
    model_sha256: str | None
    experiment: str
    workload_id: str
    workload: dict
    figures: dict
    values: np.ndarray  # fit: estimates [R, k]; readout: assignment fidelity [R]
    errors: dict[str, np.ndarray] = field(default_factory=dict)  # fit: per-param per-repeat errors
    failures: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    source: str = "simulated"

    def gate_errors(self) -> dict[str, np.ndarray]:
        """Per parameter, the per-repeat error the tolerance gate compares (inf = failed):
        ``norm`` error for fits, 1 - assignment fidelity for readout."""
        exp = get_experiment(self.experiment)
        if exp.kind == "readout":
            return {"assignment_fidelity": np.where(np.isfinite(self.values), 1 - self.values, np.inf)}
        out = {}
        for p in exp.param_names:
            e = self.errors[f"{p}.norm"]
            out[p] = np.where(np.isfinite(e), e, np.inf)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "fingerprint": self.fingerprint, "model_sha256": self.model_sha256,
                "experiment": self.experiment, "workload_id": self.workload_id, "workload": self.workload,
                "source": self.source, "seconds": round(self.seconds, 4), "figures": self.figures,
                "failures": {str(k): v for k, v in sorted(self.failures.items())},
                "notes": self.notes,
                "extras": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.extras.items()}}


def _model_name(model) -> str:
    return getattr(model, "name", type(model).__name__)


def evaluate(model, workload: CalWorkload, data: FitData | ReadoutData | None = None) -> CalResult:
    """Run ``model`` on the workload's simulated data and score it against the truth."""
    exp = get_experiment(workload.experiment)
    if getattr(model, "experiment", exp.name) != exp.name:
        raise UsageError(f"{_model_name(model)} serves experiment {model.experiment!r}, not {exp.name!r}")
    if data is None:
        data = simulate(exp.name, workload.repeats, seed=workload.seed, shots=workload.shots, shape=workload.shape)
    if exp.kind == "readout":
        return _evaluate_readout(model, workload, data)
    if not hasattr(model, "estimate_data"):
        raise UsageError(f"{_model_name(model)} is not a cal.fit model")
    t0 = time.perf_counter()
    out = model.estimate_data(data)
    seconds = time.perf_counter() - t0
    est = np.asarray(out.estimates, dtype=np.float64)
    failures = dict(out.failures)
    for i in np.where(~np.isfinite(est).all(axis=1))[0]:
        failures.setdefault(int(i), "no finite estimate")
    figures = fit_figures(exp, data.truth, est, data.context)
    return CalResult(_model_name(model), fingerprint(model), getattr(model, "sha256", None), exp.name,
                     workload.id, workload.spec(), figures, est, fit_errors(exp, data.truth, est, data.context),
                     failures, seconds, list(out.notes), dict(out.extras))


def _evaluate_readout(model, workload: CalWorkload, data: ReadoutData) -> CalResult:
    if not hasattr(model, "classify_data"):
        raise UsageError(f"{_model_name(model)} is not a readout discriminator")
    t0 = time.perf_counter()
    pred, extras = model.classify_data(data)
    seconds = time.perf_counter() - t0
    fid = readout.assignment_fidelity(pred, data.state_test)
    figures = readout.figures(fid, readout.truth_threshold_fidelity(data))
    notes = []
    if "qibocal_assignment_fidelity" in extras:
        # what Qibocal reports for itself vs what its angle/threshold score on held-out shots
        self_rep = np.asarray(extras["qibocal_assignment_fidelity"], float)
        figures["assignment_fidelity"]["qibocal_self_reported_median"] = float(np.median(self_rep))
        figures["assignment_fidelity"]["qibocal_self_report_bias_median"] = float(np.median(self_rep - fid))
        notes.append("Qibocal's own assignment_fidelity comes from an unstratified 75 % split of the "
                     "training shots; sov scores its angle and threshold on the held-out shots instead")
    return CalResult(_model_name(model), fingerprint(model), getattr(model, "sha256", None), workload.experiment,
                     workload.id, workload.spec(), figures, fid, {}, {}, seconds, notes,
                     {k: np.asarray(v) for k, v in extras.items()})


def run_calibration(model_spec: Any, experiment: str | None = None, *, repeats: int | None = None,
                    seed: int = 0, shots: int | None = None, store=None, run=None,
                    contract: str | None = None, options=None,
                    resolve: ModelFactory | None = None, shape: SweepShape = DEFAULT) -> CalResult:
    """Resolve the model, simulate (on the documented sweep or ``shape``), evaluate and
    (with a store) record the result."""
    model = open_model(model_spec, experiment, resolve, contract=contract, options=options)
    exp_name = experiment or getattr(model, "experiment", None)
    if exp_name is None:
        raise UsageError("give --experiment")
    exp = get_experiment(exp_name)
    wl = CalWorkload(exp.name, int(repeats or exp.default_repeats), int(seed), int(shots or exp.default_shots), shape)
    if wl.repeats < 1 or wl.shots < 2:
        raise UsageError("--repeats must be >= 1 and --shots >= 2")
    from verifier.qec.limits import check_calibration

    check_calibration(wl.repeats, wl.shots)
    try:
        result = evaluate(model, wl)
    finally:
        close(model)
    if store is not None:
        record_result(store, result, run_id=run.run_id if run is not None else None, model=model)
    return result


def record_result(store, result: CalResult, *, run_id: str | None, model=None) -> None:
    """Append the result (with its per-repeat values) to ``cal_results``."""
    from verifier.store.calib import insert_result

    if model is not None and hasattr(model, "model_record"):
        store.record_model(**model.model_record())
    vals = np.ascontiguousarray(result.values, dtype="<f8")
    insert_result(store, run_id=run_id, model=result.model, fingerprint=result.fingerprint,
                  model_sha256=result.model_sha256, experiment=result.experiment,
                  workload_id=result.workload_id, workload=json.dumps(result.workload, sort_keys=True),
                  source=result.source, repeats=int(vals.shape[0]), failures=len(result.failures),
                  seconds=float(result.seconds), figures=json.dumps(result.to_json(), default=str),
                  estimates=vals.tobytes())
