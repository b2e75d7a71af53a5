"""sov's own reference estimators as calibration models ("sov-reference"): the fit of
each experiment is in ``baselines.reference.<experiment>``, the readout reference is
Fisher's linear discriminant (``baselines.reference.readout``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.reference import ESTIMATORS
from baselines.reference import readout as fisher
from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.metrics import FitOutcome

NAME = "sov-reference"


@dataclass(frozen=True)
class ReferenceFit:
    experiment: str
    name: str = NAME

    def fingerprint_spec(self) -> dict[str, Any]:
        import scipy

        return {"model": NAME, "experiment": self.experiment, "scipy": scipy.__version__, "version": 1}

    def estimate_data(self, data) -> FitOutcome:
        fn = ESTIMATORS[self.experiment]
        R, k = data.repeats, len(get_experiment(self.experiment).params)
        est = np.full((R, k), np.nan)
        failures: dict[int, str] = {}
        t0 = time.perf_counter()
        for i in range(R):
            try:
                v = np.asarray(fn(data.x[i], data.y[i], {}), dtype=float)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as e:
                failures[i] = f"{type(e).__name__}: {e}"
                continue
            if not np.all(np.isfinite(v)):
                failures[i] = "no fit"
                continue
            est[i] = v
        return FitOutcome(est, failures, time.perf_counter() - t0)


@dataclass(frozen=True)
class ReferenceReadout:
    """Fisher's linear discriminant, threshold chosen on the training shots."""

    name: str = NAME
    experiment: str = "readout"

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"model": NAME, "experiment": "readout", "classifier": "fisher-lda", "version": 1}

    def classify_data(self, data) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        pred = np.zeros(data.state_test.shape, np.int64)
        for i in range(data.repeats):
            w, t = fisher.train(data.iq_train[i], data.state_train[i])
            pred[i] = (data.iq_test[i] @ w > t).astype(np.int64)
        return pred, {}
