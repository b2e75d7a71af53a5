"""Recorded Qibocal output folders (``data/<action>/data.npz, data.json, results.json,
action.yml``): loaded through each protocol's own Data and Results classes and re-fitted
by Qibocal for ``sov calib replay``; and the two ways sov writes such folders (simulated
experiments with Qibocal's own writers; Qibocal's acquisition on qibolab's dummy platform).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines.qibocal_fits import (FitFailed, QibocalReadout, build_data, captured, chdir, fit_one,
                                    params_from_results, protocol_modules)
from baselines.qibocal_protocols import OPERATIONS, PROTOCOLS


@dataclass
class RecordedAction:
    """One protocol's output folder as Qibocal wrote it (data.npz, data.json, results.json,
    action.yml), loaded through the protocol's own Data and Results classes."""

    path: str
    action_id: str
    operation: str
    experiment: str
    nshots: int | None  # None: action.yml's nshots is missing or suspicious (named in ``suspicious``)
    data: Any
    recorded: Any  # Results object, or None when results.json is missing
    qubits: list
    suspicious: list = field(default_factory=list)
    results_state: str = "present"  # present | missing | corrupt

    def sweep(self, qubit) -> tuple[np.ndarray, np.ndarray]:
        xk, yk = PROTOCOLS[self.experiment].XY
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
        recorded_context = getattr(PROTOCOLS[self.experiment], "recorded_context", None)
        return recorded_context(self.data, qubit) if recorded_context else {}


def load_action(path) -> RecordedAction | None:
    """A Qibocal action folder, or None when it holds no data of an operation sov has an
    experiment for. The shot count is the one action.yml records, or None when that one is
    suspicious (``verifier.calib.folder`` names why): never replaced by a default."""
    from pathlib import Path

    from verifier.calib.folder import scan_action
    from verifier.errors import UsageError

    p = Path(path)
    entry = scan_action(p)
    if entry.status != "replayable":
        return None
    import qibocal.protocols as protocols

    protocol_modules()
    op = entry.operation
    proto = getattr(protocols, op)
    try:
        data = proto.data_type.load(p)
    except Exception as e:
        raise UsageError(f"{p}: action {entry.action_id}: Qibocal cannot load its data "
                         f"({type(e).__name__}: {str(e)[:160]})") from None
    recorded = None
    if entry.results == "present":
        try:
            recorded = proto.results_type.load(p)
        except Exception as e:
            entry.suspicious.append(f"results.json does not load as Qibocal's {proto.results_type.__name__} "
                                    f"({type(e).__name__}: {str(e)[:80]})")
    qubits = list(data.qubits) if hasattr(data, "qubits") else list(data.data)
    _check_fields(p, entry, data, qubits)
    nshots = entry.nshots
    if nshots is None and entry.experiment == "readout" and isinstance(getattr(data, "nshots", None), int) \
            and data.nshots > 0:
        nshots = data.nshots
        entry.suspicious.append(f"the shot count recorded in data.json ({nshots}) is used instead")
    act = RecordedAction(str(p), entry.action_id, op, entry.experiment, nshots, data, recorded, qubits)
    act.suspicious = entry.suspicious
    act.results_state = entry.results
    return act


def _check_fields(p, entry, data, qubits) -> None:
    """A renamed or missing field is the folder's defect, named with the fields found."""
    from verifier.errors import UsageError

    want = ("i", "q", "state") if entry.experiment == "readout" else PROTOCOLS[entry.experiment].XY
    for q in qubits:
        names = getattr(getattr(data.data.get(q), "dtype", None), "names", None) or ()
        missing = [k for k in want if k not in names]
        if missing:
            raise UsageError(f"{p}: action {entry.action_id}: qubit {q}'s data has fields ({', '.join(names)}), "
                             f"Qibocal's {entry.operation} records ({', '.join(want)}): "
                             f"{', '.join(missing)} missing")


def refit(action: RecordedAction) -> tuple[dict, dict]:
    """Qibocal's own fit on the recorded data: ({qubit: params}, {qubit: failure reason})."""
    m = protocol_modules()[action.experiment]
    out: dict = {}
    failed: dict = {}
    if action.experiment == "readout":
        with tempfile.TemporaryDirectory(prefix="sov-qibocal-") as tmp, chdir(tmp), captured():
            res = m._fit(action.data)
        for q in action.qubits:
            try:
                out[q] = {"angle": float(res.rotation_angle[q]), "threshold": float(res.threshold[q])}
            except KeyError:
                failed[q] = "qubit missing from Qibocal's results"
        return out, failed
    with captured() as cap:
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


def recorded_figures(action: RecordedAction) -> dict:
    """Every per-qubit figure Qibocal recorded in results.json ({qubit: {name: value or
    [value, error]}}): its fitted parameters, chi2, readout fidelity and assignment
    fidelity, Ramsey's corrected frequency, ... (arrays such as fitted curves are left out)."""
    import dataclasses

    rec = action.recorded
    if rec is None or not dataclasses.is_dataclass(rec):
        return {}
    out: dict = {q: {} for q in action.qubits}
    for f in dataclasses.fields(rec):
        per = getattr(rec, f.name, None)
        if not isinstance(per, dict):
            continue
        for q in action.qubits:
            v = per.get(q)
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, (int, float, np.floating, np.integer)):
                out[q][f.name] = float(v)
            elif (isinstance(v, (list, tuple)) and len(v) == 2
                  and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in v)):
                out[q][f.name] = [float(v[0]), float(v[1])]
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


def export_simulation(outdir, experiments=None, *, repeats: int = 1, seed: int = 0, shape=None) -> str:
    """Write simulated experiments as a Qibocal output folder, with Qibocal's own writers:
    ``data/<experiment>-<i>/`` holding ``data.npz`` + ``data.json`` (the protocol's Data
    object), ``results.json`` (its fit) and ``action.yml``. Replaying such a folder has a
    known truth (``truth.json`` beside it, which Qibocal does not read)."""
    import json
    from pathlib import Path

    import yaml

    from verifier.calib.experiments import EXPERIMENTS
    from verifier.calib.simulator import simulate

    ops = {v: k for k, v in OPERATIONS.items()}
    out = Path(outdir)
    truth: dict[str, Any] = {}
    for exp in experiments or [e for e in EXPERIMENTS if EXPERIMENTS[e].kind == "fit"]:
        m = protocol_modules()[exp]
        if EXPERIMENTS[exp].kind == "readout":
            raise ValueError("export_simulation writes fit experiments only")
        d = simulate(exp, repeats, seed=seed) if shape is None else simulate(exp, repeats, seed=seed, shape=shape)
        phase = d.context.get("_phase")
        for i in range(repeats):
            ctx = {k: float(v[i]) for k, v in d.context.items() if np.ndim(v) == 1}
            data = build_data(exp, d.x[i], d.y[i], d.nshots, ctx, phase=None if phase is None else phase[i])
            folder = out / "data" / f"{exp}-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            data.save(folder)
            with captured():
                try:
                    m._fit(data).save(folder)
                except Exception:
                    pass  # a failed fit writes no results.json, as in Qibocal
            (folder / "action.yml").write_text(yaml.safe_dump(
                {"id": f"{exp}-{i}", "operation": ops[exp], "targets": [0],
                 "parameters": {"nshots": d.nshots}}, sort_keys=False))
            truth[f"{exp}-{i}"] = dict(zip(EXPERIMENTS[exp].param_names, map(float, d.truth[i])))
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return str(out)


class QibocalRecords:
    """What ``verifier.calib.replay`` asks of Qibocal, as one object."""

    load = staticmethod(load_action)
    refit = staticmethod(refit)
    recorded = staticmethod(recorded_params)
    figures = staticmethod(recorded_figures)
    classify = staticmethod(QibocalReadout.classify_with)

    @staticmethod
    def fit(experiment: str, x, y, nshots: int, ctx: dict[str, float]) -> list[float] | None:
        """Qibocal's parameters for one sweep, or None when its fit fails."""
        try:
            return fit_one(experiment, x, y, nshots, ctx)[0]
        except FitFailed:
            return None


def export_scenarios(outdir, labels, *, seed: int = 0, n_points: int = 50, readout_error: bool = True) -> str:
    """Labelled fault scenarios (``verifier.calib.faults``) as a Qibocal output folder, one
    action ``data/<label>-0`` each, written with Qibocal's own Data writer (no results.json:
    these are acquisitions to replay); ``truth.json`` holds each one's truth, label and the
    signal test's expected verdict."""
    import json
    from pathlib import Path

    import yaml

    from verifier.calib.experiments import EXPERIMENTS
    from verifier.calib.faults import fault_sweep

    ops = {v: k for k, v in OPERATIONS.items()}
    out = Path(outdir)
    truth: dict[str, Any] = {}
    for label in labels:
        f = fault_sweep(label, n_points=n_points, seed=seed, readout_error=readout_error)
        folder = out / "data" / f"{label}-0"
        folder.mkdir(parents=True, exist_ok=True)
        ctx = {"programmed_detuning_hz": 1e6, "drive_frequency_hz": 5e9} if f.experiment == "ramsey" else {}
        build_data(f.experiment, f.x, f.y, f.nshots, ctx).save(folder)
        (folder / "action.yml").write_text(yaml.safe_dump(
            {"id": f"{label}-0", "operation": ops[f.experiment], "targets": [0],
             "parameters": {"nshots": f.nshots}}, sort_keys=False))
        entry: dict[str, Any] = {"label": label, "expected_signal": f.expected, "description": f.description}
        if np.isfinite(f.truth):
            entry[EXPERIMENTS[f.experiment].param_names[0]] = f.truth
        truth[f"{label}-0"] = entry
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return str(out)


def export_for_replay(folder, experiments=None, *, repeats: int = 1, seed: int = 0, scenarios=None,
                      shape=None) -> str:
    """``sov calib export``: :func:`export_simulation` (or, with ``scenarios``,
    :func:`export_scenarios`) into a new (or empty) folder."""
    from pathlib import Path

    from verifier.calib.experiments import experiment as get_experiment
    from verifier.errors import UsageError

    for e in experiments or []:
        if get_experiment(e).kind != "fit":
            raise UsageError(f"export writes fit experiments only, not {e!r}")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} exists and is not empty")
    if shape is not None and shape.units != "probability":
        raise UsageError("export writes Qibocal's probability protocols: arbitrary units (Qibocal's *_signal "
                         "protocols) are not replayed by sov")
    if scenarios:
        from verifier.calib.faults import SCENARIOS

        labels = list(SCENARIOS) if "all" in scenarios else list(scenarios)
        for label in labels:
            if label not in SCENARIOS:
                raise UsageError(f"unknown fault scenario {label!r}; scenarios are: all, {', '.join(SCENARIOS)}")
        return export_scenarios(folder, labels, seed=seed)
    return export_simulation(folder, experiments or None, repeats=repeats, seed=seed, shape=shape)
