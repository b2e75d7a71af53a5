"""Run a calibration model on simulated data with known truth, and record the result.

``run_calibration("qibocal" | "sov-reference" | FILE.onnx | built-in name, experiment, ...)``
simulates ``repeats`` qubits, runs the model on exactly the data every other model sees
for the same (experiment, repeats, seed, shots), scores it against the truth and, given a
store, records it (table ``cal_results``, with the per-repeat estimates).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.metrics import fit_figures, readout_figures
from verifier.calib.simulator import (CalWorkload, FitData, ReadoutData, assignment_fidelity, default_shots,
                                      simulate, truth_threshold_fidelity)
from verifier.errors import UsageError
from verifier.hashing import fingerprint

BASELINE_NAMES = ("qibocal", "sov-reference")
DEFAULT_REPEATS = {"readout": 20}
DEFAULT_REPEATS_FIT = 40


def default_repeats(experiment: str) -> int:
    return DEFAULT_REPEATS.get(experiment, DEFAULT_REPEATS_FIT)


def resolve_model(spec: Any, experiment: str | None, *, contract: str | None = None, options=None):
    """A model object from a name: ``qibocal``, ``sov-reference``, a built-in model name,
    an ONNX file (``cal.fit`` / ``cal.discriminator``) or an OpenAI-compatible endpoint
    (``openai:http://HOST:PORT/v1#MODEL``). Objects pass through."""
    if not isinstance(spec, (str, Path)):
        return spec
    spec = str(spec)
    if spec in BASELINE_NAMES:
        if experiment is None:
            raise UsageError(f"the baseline {spec!r} needs --experiment")
        exp = get_experiment(experiment)
        if contract:
            raise UsageError(f"--contract applies to ONNX models, not to the baseline {spec!r}")
        if spec == "qibocal":
            from baselines.qibocal_fits import QibocalFit, QibocalReadout

            return QibocalReadout() if exp.kind == "readout" else QibocalFit(exp.name)
        from baselines.reference_estimators import ReferenceFit, ReferenceReadout

        return ReferenceReadout() if exp.kind == "readout" else ReferenceFit(exp.name)
    if spec.startswith("openai:"):
        from adapters.openai_calibration import EndpointCalibrationModel

        return EndpointCalibrationModel.from_spec(spec, experiment)
    from adapters.builtin import builtin_path
    from adapters.onnx_calibration import OnnxCalibrationModel

    path = builtin_path(spec) or Path(spec)
    if not path.exists() and not spec.endswith(".onnx"):
        raise UsageError(f"unknown calibration model {spec!r}: give qibocal, sov-reference, a built-in "
                         "model (sov models list) or a path to an .onnx file")
    return OnnxCalibrationModel.from_file(str(path), contract=contract, experiment=experiment,
                                          options=options)


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
        data = simulate(exp.name, workload.repeats, seed=workload.seed, shots=workload.shots)
    sha = getattr(model, "sha256", None)
    t0 = time.perf_counter()
    if exp.kind == "readout":
        if not hasattr(model, "classify_data"):
            raise UsageError(f"{_model_name(model)} is not a readout discriminator")
        pred, extras = model.classify_data(data)
        seconds = time.perf_counter() - t0
        fid = assignment_fidelity(pred, data.state_test)
        ref = truth_threshold_fidelity(data)
        figures = readout_figures(fid, ref)
        notes = []
        if "qibocal_assignment_fidelity" in extras:
            # what Qibocal reports for itself vs what its angle/threshold score on held-out shots
            self_rep = np.asarray(extras["qibocal_assignment_fidelity"], float)
            figures["assignment_fidelity"]["qibocal_self_reported_median"] = float(np.median(self_rep))
            figures["assignment_fidelity"]["qibocal_self_report_bias_median"] = float(np.median(self_rep - fid))
            notes.append("Qibocal's own assignment_fidelity comes from an unstratified 75 % split of the "
                         "training shots; sov scores its angle and threshold on the held-out shots instead")
        return CalResult(_model_name(model), fingerprint(model), sha, exp.name, workload.id, workload.spec(),
                         figures, fid, {}, {}, seconds, notes,
                         {k: np.asarray(v) for k, v in extras.items()})
    if not hasattr(model, "estimate_data"):
        raise UsageError(f"{_model_name(model)} is not a cal.fit model")
    out = model.estimate_data(data)
    seconds = time.perf_counter() - t0
    from verifier.calib.metrics import errors as errs

    est = np.asarray(out.estimates, dtype=np.float64)
    failures = dict(out.failures)
    for i in np.where(~np.isfinite(est).all(axis=1))[0]:
        failures.setdefault(int(i), "no finite estimate")
    figures = fit_figures(exp, data.truth, est, data.context)
    return CalResult(_model_name(model), fingerprint(model), sha, exp.name, workload.id, workload.spec(),
                     figures, est, errs(exp, data.truth, est, data.context), failures, seconds,
                     list(out.notes), dict(out.extras))


def run_calibration(model_spec: Any, experiment: str | None = None, *, repeats: int | None = None,
                    seed: int = 0, shots: int | None = None, store=None, run=None,
                    contract: str | None = None, options=None) -> CalResult:
    """Resolve the model, simulate, evaluate and (with a store) record the result."""
    model = resolve_model(model_spec, experiment, contract=contract, options=options)
    exp_name = experiment or getattr(model, "experiment", None)
    if exp_name is None:
        raise UsageError("give --experiment")
    exp = get_experiment(exp_name)
    wl = CalWorkload(exp.name, int(repeats or default_repeats(exp.name)), int(seed),
                     int(shots or default_shots(exp.name)))
    if wl.repeats < 1 or wl.shots < 2:
        raise UsageError("--repeats must be >= 1 and --shots >= 2")
    try:
        result = evaluate(model, wl)
    finally:
        if hasattr(model, "close"):
            model.close()
    if store is not None:
        record_result(store, result, run_id=run.run_id if run is not None else None, model=model)
    return result


def record_result(store, result: CalResult, *, run_id: str | None, model=None) -> None:
    """Append the result (with its per-repeat values) to ``cal_results``."""
    from verifier.store.db import now

    if model is not None and hasattr(model, "model_record"):
        store.record_model(**model.model_record())
    vals = np.ascontiguousarray(result.values, dtype="<f8")
    with store.connect() as con:
        con.execute("INSERT INTO cal_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, result.model, result.fingerprint, result.model_sha256, result.experiment,
                     result.workload_id, json.dumps(result.workload, sort_keys=True), result.source,
                     int(vals.shape[0]), len(result.failures), float(result.seconds),
                     json.dumps(result.to_json(), default=str), vals.tobytes(), now()])
