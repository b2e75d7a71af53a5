"""Qibocal 0.2.6 as the independent calibration baseline.

Simulated (or recorded) data go into Qibocal's REAL protocol Data classes through
``register_qubit`` and are fitted by each protocol module's own ``_fit``: nothing here
re-implements a Qibocal fit. The traps (docs/calibration.md) are handled or
recorded, never silently absorbed:

- zero-error points (p = 0 or 1 gives error 0 and breaks the weighted fit): counted and
  reported per run, and a fit that drops the qubit or raises is a recorded failure;
- resonator type: the simulator's resonance is a dip, so ``resonator_type="2D"``;
- Ramsey sign: always called with the programmed detuning, which gives the right sign;
- readout fidelity: Qibocal's own figure comes from an unstratified 75 % split and is
  biased low; sov scores the returned angle and threshold on held-out shots instead and
  records Qibocal's self-reported figure beside it;
- the classifier writes ``qubit<q>/qubit_fit/*`` into the current directory: it runs in
  a temporary directory.

``import qibocal`` is slow: it happens once per process, on first use. Each experiment's
protocol (Data, Results, traps) is in ``baselines.qibocal_protocols.<experiment>``; recorded
output folders in ``baselines.qibocal_folders``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from baselines.qibocal_protocols import PROTOCOLS
from baselines.qibocal_protocols.base import value
from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.metrics import FitOutcome

NAME = "qibocal"


@lru_cache(maxsize=1)
def protocol_modules() -> dict[str, Any]:
    """Import the Qibocal protocol modules once per process."""
    import importlib

    return {k: importlib.import_module("qibocal.protocols." + p.MODULE) for k, p in PROTOCOLS.items()}


def qibocal_version() -> str:
    from importlib.metadata import version

    return version("qibocal")


class _Capture(logging.Handler):
    """Collects the warnings Qibocal logs when a fit fails (it then drops the qubit)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured():
    """Qibocal's fit warnings collected, and kept off the console, meanwhile."""
    protocol_modules()
    from qibocal.config import log as logger  # the logger Qibocal's fits warn on
    h = _Capture()
    old = logger.level
    logger.addHandler(h)
    logger.setLevel(logging.WARNING)
    # Qibocal's own console handler would print each failure: silence it meanwhile
    muted = [x for x in logger.handlers if x is not h]
    levels = [x.level for x in muted]
    for x in muted:
        x.setLevel(logging.CRITICAL + 1)
    try:
        yield h
    finally:
        logger.removeHandler(h)
        logger.setLevel(old)
        for x, lv in zip(muted, levels):
            x.setLevel(lv)


def build_data(experiment: str, x: np.ndarray, y: np.ndarray, nshots: int, ctx: dict[str, float],
               *, phase: np.ndarray | None = None, qubit: int = 0):
    """One Qibocal protocol Data object holding one qubit's sweep, as Qibocal's own
    acquisition would have registered it."""
    if experiment not in PROTOCOLS or not hasattr(PROTOCOLS[experiment], "build"):
        raise ValueError(f"Qibocal baseline has no fit experiment {experiment!r}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    err = np.sqrt(np.clip(y * (1 - y), 0, None) / max(nshots, 1))
    return PROTOCOLS[experiment].build(protocol_modules()[experiment], qubit, x, y, err, ctx, phase)


def params_from_results(experiment: str, results, qubit=0) -> tuple[list[float], dict[str, float]]:
    """The contract's parameters (and extras) from a Qibocal Results object."""
    proto = PROTOCOLS.get(experiment)
    if hasattr(proto, "params"):
        return proto.params(results, qubit)
    if not hasattr(proto, "RESULT"):
        raise ValueError(experiment)
    return [value(getattr(results, proto.RESULT)[qubit])], {}


def fit_one(experiment: str, x, y, nshots: int, ctx: dict[str, float], *, phase=None):
    """Fit one sweep with Qibocal; returns (params, extras) or raises ``FitFailed``."""
    m = protocol_modules()[experiment]
    data = build_data(experiment, x, y, nshots, ctx, phase=phase)
    with captured() as cap:
        try:
            results = m._fit(data)
        except Exception as e:  # Ramsey's fit lets ValueError through (zero-error trap)
            raise FitFailed(f"Qibocal's fit raised {type(e).__name__}: {str(e)[:160]}") from None
    try:
        params, extras = params_from_results(experiment, results)
    except (KeyError, TypeError, IndexError):
        why = cap.messages[-1] if cap.messages else "no result"
        raise FitFailed(f"qubit missing from Qibocal's results ({why[:160]})") from None
    if not np.all(np.isfinite(params)):
        raise FitFailed("Qibocal returned a non-finite value")
    return params, extras


class FitFailed(Exception):
    pass


@dataclass(frozen=True)
class QibocalFit:
    """Qibocal's fit routines as a calibration model (``estimate``)."""

    experiment: str
    name: str = NAME

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"model": NAME, "qibocal": qibocal_version(), "experiment": self.experiment}

    def estimate_data(self, data) -> FitOutcome:
        exp = get_experiment(self.experiment)
        R, k = data.repeats, len(exp.params)
        est = np.full((R, k), np.nan)
        extras: dict[str, np.ndarray] = {}
        failures: dict[int, str] = {}
        phase = data.context.get("_phase")
        t0 = time.perf_counter()
        for i in range(R):
            ctx = {key: float(v[i]) for key, v in data.context.items() if np.ndim(v) == 1}
            try:
                params, ex = fit_one(self.experiment, data.x[i], data.y[i], data.nshots, ctx,
                                     phase=None if phase is None else phase[i])
            except FitFailed as e:
                failures[i] = str(e)
                continue
            est[i] = params
            for key, val in ex.items():
                extras.setdefault(key, np.full(R, np.nan))[i] = val
        seconds = time.perf_counter() - t0
        notes = []
        if exp.kind == "fit" and exp.y_meaning.startswith("excited"):
            zero = int(((data.y <= 0) | (data.y >= 1)).sum())
            if zero:
                notes.append(f"zero-error trap: {zero} sweep points with p = 0 or 1 (error 0) fed to "
                             "Qibocal's weighted fit")
        notes += getattr(PROTOCOLS[self.experiment], "NOTES", ())
        return FitOutcome(est, failures, seconds, extras, notes)


@dataclass(frozen=True)
class QibocalReadout:
    """Qibocal's single-shot classification (``qubit_fit``): trained on the training
    shots, then its angle and threshold classify the held-out shots."""

    name: str = NAME
    experiment: str = "readout"

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"model": NAME, "qibocal": qibocal_version(), "experiment": "readout",
                "classifier": "qubit_fit"}

    def train(self, iq: np.ndarray, states: np.ndarray) -> dict[str, float]:
        """Fit Qibocal's classifier on one repeat's training shots (in a temp dir)."""
        m = protocol_modules()["readout"]
        nshots = int((states == 0).sum())
        with tempfile.TemporaryDirectory(prefix="sov-qibocal-") as tmp, chdir(tmp), captured():
            data = m.SingleShotClassificationData(nshots=nshots, savedir=tmp,
                                                  qubit_frequencies={0: 5e9},
                                                  classifiers_list=["qubit_fit"])
            for s in (0, 1):
                sel = states == s
                data.register_qubit(m.ClassificationType, 0,
                                    {"i": iq[sel, 0], "q": iq[sel, 1], "state": np.full(sel.sum(), s)})
            res = m._fit(data)
        return {"angle": float(res.rotation_angle[0]), "threshold": float(res.threshold[0]),
                "qibocal_fidelity": float(res.fidelity[0]),
                "qibocal_assignment_fidelity": float(res.assignment_fidelity[0])}

    @staticmethod
    def classify_with(params: dict[str, float], iq: np.ndarray) -> np.ndarray:
        c, s = np.cos(params["angle"]), np.sin(params["angle"])
        rotated_i = iq[:, 0] * c - iq[:, 1] * s
        return (rotated_i > params["threshold"]).astype(np.int64)

    def classify_data(self, data) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        R = data.repeats
        pred = np.zeros(data.state_test.shape, np.int64)
        extras = {"qibocal_fidelity": np.full(R, np.nan), "qibocal_assignment_fidelity": np.full(R, np.nan)}
        for i in range(R):
            p = self.train(data.iq_train[i], data.state_train[i])
            pred[i] = self.classify_with(p, data.iq_test[i])
            for k in extras:
                extras[k][i] = p[k]
        return pred, extras


@contextlib.contextmanager
def chdir(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
