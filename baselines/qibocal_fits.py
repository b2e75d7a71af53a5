"""Qibocal 0.2.6 as the independent calibration baseline.

Simulated (or recorded) data go into Qibocal's REAL protocol Data classes through
``register_qubit`` and are fitted by each protocol module's own ``_fit``: nothing here
re-implements a Qibocal fit. The traps measured in QIBOCAL_NOTES.md are handled or
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

``import qibocal`` costs about 3.5 s: it happens once per process, on first use.
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

from verifier.calib.metrics import FitOutcome

NAME = "qibocal"


@lru_cache(maxsize=1)
def _modules() -> dict[str, Any]:
    """Import the Qibocal protocol modules once per process."""
    import importlib

    base = "qibocal.protocols."
    paths = {"resonator_spectroscopy": "resonator_spectroscopies.resonator_spectroscopy",
             "qubit_spectroscopy": "qubit_spectroscopies.qubit_spectroscopy",
             "rabi_amplitude": "rabi.amplitude", "rabi_length": "rabi.length",
             "t1": "coherence.t1", "ramsey": "ramsey.classification",
             "spin_echo": "coherence.spin_echo", "readout": "classification.classification"}
    mods = {k: importlib.import_module(base + v) for k, v in paths.items()}
    return mods


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
def _captured():
    _modules()
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


def _value(v) -> float:
    """Qibocal results are mostly ``[value, error]`` lists, sometimes bare floats."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return float(v[0])
    return float(v)


def build_data(experiment: str, x: np.ndarray, y: np.ndarray, nshots: int, ctx: dict[str, float],
               *, phase: np.ndarray | None = None, qubit: int = 0):
    """One Qibocal protocol Data object holding one qubit's sweep, as Qibocal's own
    acquisition would have registered it."""
    m = _modules()[experiment]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    err = np.sqrt(np.clip(y * (1 - y), 0, None) / max(nshots, 1))
    if experiment == "resonator_spectroscopy":
        data = m.ResonatorSpectroscopyData(resonator_type="2D", amplitudes={qubit: 0.1},
                                           fit_function="lorentzian", phase_sign=False)
        data.register_qubit(m.ResSpecType, qubit, {"freq": x, "signal": y,
                                                   "phase": np.zeros_like(y) if phase is None else phase})
    elif experiment == "qubit_spectroscopy":
        data = m.QubitSpectroscopyData(amplitudes={qubit: 0.05})
        data.register_qubit(m.QubitSpecType, qubit, {"freq": x, "signal": y, "phase": np.zeros_like(y)})
    elif experiment == "rabi_amplitude":
        data = m.RabiAmplitudeData(rx90=False, durations={qubit: ctx.get("pulse_duration_ns", 40.0)})
        data.register_qubit(m.RabiAmpType, qubit, {"amp": x, "prob": y, "error": err})
    elif experiment == "rabi_length":
        data = m.RabiLengthData(rx90=False, amplitudes={qubit: ctx.get("pulse_amplitude", 0.5)})
        data.register_qubit(m.RabiLenType, qubit, {"length": x, "prob": y, "error": err})
    elif experiment == "t1":
        data = m.T1Data()
        data.register_qubit(m.CoherenceProbType, qubit, {"wait": x, "prob": y, "error": err})
    elif experiment == "spin_echo":
        data = m.SpinEchoData()
        data.register_qubit(_modules()["t1"].CoherenceProbType, qubit, {"wait": x, "prob": y, "error": err})
    elif experiment == "ramsey":
        data = m.RamseyProbData(detuning=ctx.get("programmed_detuning_hz"),
                                qubit_freqs={qubit: ctx.get("drive_frequency_hz", 5e9)})
        data.register_qubit(m.RamseyProbType, qubit, {"wait": x, "prob": y, "error": err})
    else:
        raise ValueError(f"Qibocal baseline has no fit experiment {experiment!r}")
    return data


def params_from_results(experiment: str, results, qubit=0) -> tuple[list[float], dict[str, float]]:
    """The contract's parameters (and extras) from a Qibocal Results object."""
    if experiment in ("resonator_spectroscopy", "qubit_spectroscopy"):
        return [_value(results.frequency[qubit])], {}
    if experiment == "rabi_amplitude":
        return [_value(results.amplitude[qubit])], {}
    if experiment == "rabi_length":
        return [_value(results.length[qubit])], {}
    if experiment == "t1":
        return [_value(results.t1[qubit])], {}
    if experiment == "spin_echo":
        return [_value(results.t2[qubit])], {}
    if experiment == "ramsey":
        return ([abs(_value(results.delta_fitting[qubit])), _value(results.t2[qubit])],
                {"qubit_frequency_hz": _value(results.frequency[qubit])})
    raise ValueError(experiment)


def fit_one(experiment: str, x, y, nshots: int, ctx: dict[str, float], *, phase=None):
    """Fit one sweep with Qibocal; returns (params, extras) or raises ``FitFailed``."""
    m = _modules()[experiment]
    data = build_data(experiment, x, y, nshots, ctx, phase=phase)
    with _captured() as cap:
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
        from verifier.calib.experiments import experiment as get

        exp = get(self.experiment)
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
        if self.experiment == "resonator_spectroscopy":
            notes.append("resonator_type='2D' (the resonance is a dip); '3D' would look for a peak")
        if self.experiment == "ramsey":
            notes.append("called with the programmed detuning, so the sign of the frequency "
                         "correction is right (detuning=None is wrong by 2|error| above the drive)")
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
        m = _modules()["readout"]
        nshots = int((states == 0).sum())
        with tempfile.TemporaryDirectory(prefix="sov-qibocal-") as tmp, _chdir(tmp), _captured():
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
def _chdir(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


# -- recorded Qibocal output folders ------------------------------------------------------

# runcard operation -> sov experiment
OPERATIONS = {"resonator_spectroscopy": "resonator_spectroscopy", "qubit_spectroscopy": "qubit_spectroscopy",
              "rabi_amplitude": "rabi_amplitude", "rabi_length": "rabi_length", "t1": "t1",
              "ramsey": "ramsey", "spin_echo": "spin_echo", "single_shot_classification": "readout"}
_XY = {"resonator_spectroscopy": ("freq", "signal"), "qubit_spectroscopy": ("freq", "signal"),
       "rabi_amplitude": ("amp", "prob"), "rabi_length": ("length", "prob"), "t1": ("wait", "prob"),
       "ramsey": ("wait", "prob"), "spin_echo": ("wait", "prob")}


@dataclass
class RecordedAction:
    """One protocol's output folder as Qibocal wrote it (data.npz, data.json, results.json,
    action.yml), loaded through the protocol's own Data and Results classes."""

    path: str
    action_id: str
    operation: str
    experiment: str
    nshots: int
    data: Any
    recorded: Any  # Results object, or None when results.json is missing
    qubits: list

    def sweep(self, qubit) -> tuple[np.ndarray, np.ndarray]:
        xk, yk = _XY[self.experiment]
        rec = self.data[qubit]
        x = np.asarray(rec[xk], dtype=np.float64)
        y = np.asarray(rec[yk], dtype=np.float64)
        if self.experiment == "resonator_spectroscopy":
            y = y / np.median(y)  # the contract's normalized magnitude
        return x, y

    def shots(self, qubit) -> tuple[np.ndarray, np.ndarray]:
        rec = self.data[qubit]
        return (np.stack([np.asarray(rec["i"], float), np.asarray(rec["q"], float)], axis=1),
                np.asarray(rec["state"], np.int64))

    def context(self, qubit) -> dict[str, float]:
        ctx: dict[str, float] = {}
        d = self.data
        if self.experiment == "ramsey":
            if getattr(d, "detuning", None) is not None:
                ctx["programmed_detuning_hz"] = float(d.detuning)
            ctx["drive_frequency_hz"] = float(d.qubit_freqs.get(qubit, 5e9))
        return ctx


def load_action(path) -> RecordedAction | None:
    """A Qibocal action folder, or None when its operation has no sov experiment."""
    from pathlib import Path

    import yaml

    from verifier.errors import UsageError

    p = Path(path)
    act = p / "action.yml"
    if not act.is_file() or not (p / "data.npz").is_file():
        return None
    try:
        spec = yaml.safe_load(act.read_text()) or {}
    except yaml.YAMLError as e:
        raise UsageError(f"{act}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{act}: not UTF-8 text") from None
    if not isinstance(spec, dict):
        raise UsageError(f"{act}: not a Qibocal action (expected a YAML mapping)")
    op = spec.get("operation")
    if not isinstance(op, str) or op not in OPERATIONS:
        return None
    import qibocal.protocols as protocols

    _modules()
    proto = getattr(protocols, op)
    try:
        data = proto.data_type.load(p)
    except Exception as e:
        raise UsageError(f"{p}: Qibocal cannot load its data ({type(e).__name__}: {str(e)[:160]})") from None
    recorded = None
    if (p / "results.json").is_file():
        try:
            recorded = proto.results_type.load(p)
        except Exception:
            recorded = None
    params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    try:
        nshots = int(params.get("nshots") or getattr(data, "nshots", 0) or 1000)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{act}: parameters.nshots is not a number: {params.get('nshots')!r}") from None
    if nshots < 1:
        raise UsageError(f"{act}: parameters.nshots must be positive, got {nshots}")
    return RecordedAction(str(p), str(spec.get("id", p.name)), op, OPERATIONS[op], nshots, data, recorded,
                          list(data.qubits) if hasattr(data, "qubits") else list(data.data))


def refit(action: RecordedAction) -> tuple[dict, dict]:
    """Qibocal's own fit on the recorded data: ({qubit: params}, {qubit: failure reason})."""
    m = _modules()[action.experiment]
    out: dict = {}
    failed: dict = {}
    if action.experiment == "readout":
        with tempfile.TemporaryDirectory(prefix="sov-qibocal-") as tmp, _chdir(tmp), _captured():
            res = m._fit(action.data)
        for q in action.qubits:
            try:
                out[q] = {"angle": float(res.rotation_angle[q]), "threshold": float(res.threshold[q])}
            except KeyError:
                failed[q] = "qubit missing from Qibocal's results"
        return out, failed
    with _captured() as cap:
        try:
            res = m._fit(action.data)
        except Exception as e:
            return {}, {q: f"Qibocal's fit raised {type(e).__name__}: {str(e)[:160]}" for q in action.qubits}
    for q in action.qubits:
        try:
            out[q] = params_from_results(action.experiment, res, q)[0]
        except (KeyError, TypeError, IndexError):
            failed[q] = "qubit missing from Qibocal's results (" + (cap.messages[-1][:120] if cap.messages else "no result") + ")"
    return out, failed


def recorded_params(action: RecordedAction) -> dict:
    """The parameters Qibocal recorded in results.json, per qubit (where present)."""
    out: dict = {}
    if action.recorded is None:
        return out
    for q in action.qubits:
        try:
            if action.experiment == "readout":
                out[q] = {"angle": float(action.recorded.rotation_angle[q]),
                          "threshold": float(action.recorded.threshold[q])}
            else:
                out[q] = params_from_results(action.experiment, action.recorded, q)[0]
        except (KeyError, TypeError, IndexError, AttributeError):
            pass
    return out


def acquire_dummy(outdir, operations: dict[str, dict] | None = None, *, targets=(0,), timeout: float = 300) -> str:
    """Run Qibocal protocols on qibolab's dummy platform (``qq run``) to produce a real
    Qibocal output folder. The dummy's numbers are random: this proves the plumbing only."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    import qibolab

    out = Path(outdir)
    work = out.parent / (out.name + ".work")
    plat = work / "platforms"
    plat.mkdir(parents=True, exist_ok=True)
    dummy = Path(qibolab.__file__).parent / "_core" / "dummy"
    link = plat / "dummy"
    if not link.exists():
        link.symlink_to(dummy, target_is_directory=True)
    ops = operations or {
        "rabi_amplitude": {"min_amp": 0.0, "max_amp": 1.0, "step_amp": 0.02, "pulse_length": 40, "nshots": 1000},
        "t1": {"delay_before_readout_start": 16, "delay_before_readout_end": 20000,
               "delay_before_readout_step": 400, "nshots": 1000},
        "single_shot_classification": {"nshots": 2000},
    }
    runcard = {"platform": "dummy", "targets": list(targets),
               "actions": [{"id": op, "operation": op, "parameters": params} for op, params in ops.items()]}
    rc = work / "runcard.yml"
    rc.write_text(yaml.safe_dump(runcard, sort_keys=False))
    qq = shutil.which("qq", path=str(Path(sys.executable).parent)) or shutil.which("qq")
    cmd = [qq, "run", str(rc), "-o", str(out), "-f", "--no-update"] if qq else \
        [sys.executable, "-c", "from qibocal.cli._base import command; command()", "run", str(rc),
         "-o", str(out), "-f", "--no-update"]
    env = dict(os.environ, QIBOLAB_PLATFORMS=str(plat))
    r = subprocess.run(cmd, cwd=str(work), env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"qq run failed (exit {r.returncode}): {tail[0][:300]}")
    return str(out)


def export_simulation(outdir, experiments=None, *, repeats: int = 1, seed: int = 0) -> str:
    """Write simulated experiments as a Qibocal output folder, with Qibocal's own writers:
    ``data/<experiment>-<i>/`` holding ``data.npz`` + ``data.json`` (the protocol's Data
    object), ``results.json`` (its fit) and ``action.yml``. Replaying such a folder has a
    known truth (``truth.json`` beside it, which Qibocal does not read)."""
    import json as _json
    from pathlib import Path

    import yaml

    from verifier.calib.experiments import EXPERIMENTS
    from verifier.calib.simulator import simulate

    ops = {v: k for k, v in OPERATIONS.items()}
    out = Path(outdir)
    truth: dict[str, Any] = {}
    for exp in experiments or [e for e in EXPERIMENTS if EXPERIMENTS[e].kind == "fit"]:
        m = _modules()[exp]
        if EXPERIMENTS[exp].kind == "readout":
            raise ValueError("export_simulation writes fit experiments only")
        d = simulate(exp, repeats, seed=seed)
        phase = d.context.get("_phase")
        for i in range(repeats):
            ctx = {k: float(v[i]) for k, v in d.context.items() if np.ndim(v) == 1}
            data = build_data(exp, d.x[i], d.y[i], d.nshots, ctx, phase=None if phase is None else phase[i])
            folder = out / "data" / f"{exp}-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            data.save(folder)
            with _captured():
                try:
                    m._fit(data).save(folder)
                except Exception:
                    pass  # a failed fit writes no results.json, as in Qibocal
            (folder / "action.yml").write_text(yaml.safe_dump(
                {"id": f"{exp}-{i}", "operation": ops[exp], "targets": [0],
                 "parameters": {"nshots": d.nshots}}, sort_keys=False))
            truth[f"{exp}-{i}"] = dict(zip(EXPERIMENTS[exp].param_names, map(float, d.truth[i])))
    (out / "truth.json").write_text(_json.dumps(truth, indent=1))
    return str(out)
