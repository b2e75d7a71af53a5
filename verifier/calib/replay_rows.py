"""One qubit of one replayed action: the candidate beside Qibocal (re-fit and record),
the truth, the signal test, stability, and the flags a person should look at.

Flags (``row["flags"]``) are raised when:

- the candidate and Qibocal (its re-fit, else its record) differ by more than
  :data:`FLAG_SIGMAS` times their combined resampling spread, or by more than
  :data:`FLAG_REL` when no spread is known;
- Qibocal's re-fit does not reproduce the value it recorded;
- a model reports a finite parameter on a sweep without signal (``confident on no signal``);
- readout: Qibocal's recorded assignment fidelity differs by more than
  :data:`FLAG_FIDELITY` from what its own recorded angle and threshold score on the
  recorded shots;
- Ramsey: the corrected qubit frequency Qibocal recorded differs from the candidate's
  (drive + programmed detuning - sign(detuning) x fitted oscillation frequency) or from
  the truth by more than :data:`FLAG_FREQUENCY_HZ` (10 kHz);
- readout: the candidate's assignment fidelity at chance level (<= 0.55).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from verifier.calib.data import single_fit, single_readout
from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.experiments.readout import assignment_fidelity
from verifier.calib.signal import check_signal
from verifier.errors import UsageError

FLAG_SIGMAS = 3.0
FLAG_REL = 0.01
FLAG_FIDELITY = 0.01
FLAG_FREQUENCY_HZ = 10e3
CHANCE_FIDELITY = 0.55  # assignment fidelity no better than a coin, give or take


def rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return None
    return float(abs(a - b) / abs(b))


def _spread(vals: np.ndarray) -> float | None:
    v = vals[np.isfinite(vals)]
    if v.size < 2 or np.median(np.abs(v)) == 0:
        return None
    return float(np.std(v, ddof=1) / abs(np.median(v)))


def estimate(model, experiment: str, x, y, nshots: int | None, ctx: dict[str, float]) -> np.ndarray:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if hasattr(model, "estimate"):  # a fixed-width model resamples (or refuses) in estimate
        return model.estimate(np.atleast_2d(x), np.atleast_2d(y))
    return model.estimate_data(single_fit(experiment, x, y, nshots or 0, ctx)).estimates


def _pct(v: float) -> str:
    return f"{v:.3%}"


def fit_qubit(row: dict, model, records, a, q, ctx: dict, *, n_boot: int, rng: np.random.Generator) -> None:
    exp = get_experiment(a.experiment)
    x, y = a.sweep(q)
    row["flags"] = flags = []
    sig = check_signal(a.experiment, x, y, a.nshots)
    row["signal"] = sig.to_json() if sig is not None else None
    qf, qr = ctx["refit"].get(q), ctx["recorded"].get(q)
    n = getattr(model, "n_points", None)
    if n is not None and x.size != n:
        row["resampled"] = f"{x.size} recorded points fed as {n} (linear interpolation: the model's sov.resample)"
    row["qibocal_refit"] = dict(zip(exp.param_names, qf)) if qf is not None else None
    row["qibocal_recorded"] = dict(zip(exp.param_names, qr)) if qr is not None else None
    row["qibocal_figures"] = ctx["figures"].get(q, {})
    if qf is None:
        row["qibocal_failure"] = ctx["failed"].get(q, "no fit")
    truth = {p: ctx["truth"][p] for p in exp.param_names if p in ctx["truth"]}
    row["truth"] = truth or None
    try:
        cand = np.asarray(estimate(model, a.experiment, x, y, a.nshots, a.context(q))[0], float)
    except UsageError as e:
        row["candidate_error"] = str(e)
        row["candidate_failed"] = True
        return
    row["candidate"] = dict(zip(exp.param_names, map(float, cand)))
    row["candidate_failed"] = not bool(np.all(np.isfinite(cand)))
    qb = qf if qf is not None else qr
    row["candidate_vs_qibocal"] = {p: rel(float(cand[j]), qb[j] if qb else None) for j, p in enumerate(exp.param_names)}
    row["qibocal_refit_vs_recorded"] = {p: rel(qf[j] if qf else None, qr[j] if qr else None)
                                        for j, p in enumerate(exp.param_names)}
    if truth:
        row["candidate_vs_truth"] = {p: rel(float(cand[j]), truth.get(p)) for j, p in enumerate(exp.param_names)}
        row["qibocal_vs_truth"] = {p: rel(qb[j] if qb else None, truth.get(p)) for j, p in enumerate(exp.param_names)}
    if n_boot > 0 and a.nshots and exp.y_meaning.startswith("excited"):
        row["stability"] = _stability(model, records, a, q, x, y, n_boot, rng)
    elif n_boot > 0 and exp.y_meaning.startswith("excited"):
        row["stability_skipped"] = "no trustworthy shot count (see the action's suspicious parameters)"
    _fit_flags(flags, row, exp, cand, qf, qr, sig)
    if a.experiment == "ramsey":
        _ramsey_frequency(row, a, q, cand, ctx)


def _fit_flags(flags: list, row: dict, exp, cand, qf, qr, sig) -> None:
    qb = qf if qf is not None else qr
    for j, p in enumerate(exp.param_names):
        d = row["candidate_vs_qibocal"].get(p)
        st = (row.get("stability") or {}).get(p, {})
        spreads = [s for s in (st.get("candidate_rel_spread"), st.get("qibocal_rel_spread")) if s]
        allowed = FLAG_SIGMAS * float(np.hypot(*spreads)) if len(spreads) == 2 else FLAG_REL
        if d is not None and d > allowed:
            flags.append(f"{p}: the candidate ({cand[j]:.6g}) and Qibocal ({qb[j]:.6g}) differ by {_pct(d)} "
                         f"(more than {_pct(allowed)})")
        r = row["qibocal_refit_vs_recorded"].get(p)
        if r is not None and r > 1e-6:
            flags.append(f"{p}: Qibocal's re-fit ({qf[j]:.6g}) does not reproduce its record ({qr[j]:.6g})")
    if sig is not None and sig.verdict == "no signal":
        if np.all(np.isfinite(cand)):
            row["confident_on_no_signal"] = True
            flags.append(f"confident on no signal: the candidate reports {exp.param_names[0]} = {cand[0]:.6g} "
                         f"on a sweep without a {sig.feature}")
        if qb is not None:
            row["qibocal_confident_on_no_signal"] = True
            flags.append(f"confident on no signal: Qibocal reports {exp.param_names[0]} = {qb[0]:.6g} "
                         f"on a sweep without a {sig.feature}")
    elif sig is not None and sig.verdict == "poor fit":
        flags.append(f"poor fit: {sig.detail}")


def _ramsey_frequency(row: dict, a, q, cand, ctx: dict) -> None:
    """The corrected qubit frequency, which Qibocal records and the contract does not return."""
    c = a.context(q)
    det, drive = c.get("programmed_detuning_hz"), c.get("drive_frequency_hz")
    rec = row["qibocal_figures"].get("frequency")
    out: dict[str, Any] = {"qibocal_recorded": rec[0] if isinstance(rec, list) else rec,
                           "truth": ctx["truth"].get("qubit_frequency_hz")}
    if det and drive and np.isfinite(cand[0]):
        out["candidate"] = float(drive + det - np.sign(det) * cand[0])
        out["rule"] = "drive + programmed detuning - sign(detuning) x fitted frequency"
    row["qubit_frequency_hz"] = out
    for who in ("candidate", "qibocal_recorded"):
        v, t = out.get(who), out["truth"]
        if v is not None and t is not None and abs(v - t) > FLAG_FREQUENCY_HZ:
            row["flags"].append(f"qubit frequency: {who.replace('_', ' ')} {v:.10g} Hz is "
                                f"{(v - t) / 1e3:+.1f} kHz from the truth {t:.10g} Hz")
    if out.get("candidate") is not None and out["qibocal_recorded"] is not None \
            and abs(out["candidate"] - out["qibocal_recorded"]) > FLAG_FREQUENCY_HZ:
        row["flags"].append(f"qubit frequency: the candidate's {out['candidate']:.10g} Hz and Qibocal's recorded "
                            f"{out['qibocal_recorded']:.10g} Hz differ by more than {FLAG_FREQUENCY_HZ / 1e3:g} kHz")


def _stability(model, records, a, q, x, y, n_boot: int, rng: np.random.Generator) -> dict[str, dict]:
    """Each model's spread under parametric (binomial) resampling of the recorded sweep."""
    exp = get_experiment(a.experiment)
    p = np.clip(y, 0, 1)
    ys = rng.binomial(a.nshots, np.broadcast_to(p, (n_boot, p.size))) / a.nshots
    xs = np.broadcast_to(x, ys.shape)
    try:
        cb = np.asarray(estimate(model, a.experiment, xs, ys, a.nshots, a.context(q)), float)
    except UsageError:
        cb = np.full((n_boot, len(exp.params)), np.nan)
    qb = np.full((n_boot, len(exp.params)), np.nan)
    for i in range(n_boot):
        params = records.fit(a.experiment, x, ys[i], a.nshots, a.context(q))
        if params is not None:
            qb[i] = params
    return {p: {"candidate_rel_spread": _spread(cb[:, j]), "qibocal_rel_spread": _spread(qb[:, j]),
                "qibocal_failures": int((~np.isfinite(qb[:, j])).sum())}
            for j, p in enumerate(exp.param_names)}


def readout_qubit(row: dict, model, records, a, q, ctx: dict, **_) -> None:
    iq, states = a.shots(q)
    row["flags"] = flags = []
    row["qibocal_figures"] = figs = ctx["figures"].get(q, {})
    qf, qr = ctx["refit"].get(q), ctx["recorded"].get(q)
    if qr is not None:
        row["qibocal_recorded"] = qr
        pred = records.classify(qr, iq)
        scored = float(assignment_fidelity(pred[None], states[None])[0])
        row["qibocal_recorded_scored_fidelity"] = scored
        claimed = figs.get("assignment_fidelity")
        if isinstance(claimed, (int, float)) and abs(claimed - scored) > FLAG_FIDELITY:
            ties = int(np.sum(np.isclose(_rotated_i(qr, iq), qr["threshold"])))
            flags.append(f"Qibocal recorded assignment fidelity {claimed:.3f}, but its recorded angle and threshold "
                         f"score {scored:.3f} on the recorded shots"
                         + (f" ({ties} of {len(iq)} shots lie exactly on its threshold {qr['threshold']:g}, "
                            "which its classifier counts as 0)" if ties else ""))
    try:
        cand_pred = classify(model, iq, states)
    except UsageError as e:
        row["candidate_error"] = str(e)
        row["candidate_failed"] = True
        return
    row["candidate_fidelity"] = float(assignment_fidelity(cand_pred[None], states[None])[0])
    row["candidate_failed"] = False
    if row["candidate_fidelity"] <= CHANCE_FIDELITY:
        flags.append(f"the candidate's assignment fidelity {row['candidate_fidelity']:.3f} is at chance level "
                     "on the recorded shots")
    if qf is not None:
        qb = records.classify(qf, iq)
        row["qibocal_fidelity"] = float(assignment_fidelity(qb[None], states[None])[0])
        row["label_agreement"] = float(np.mean(qb == cand_pred))
        row["qibocal_refit"] = qf
    else:
        row["qibocal_failure"] = ctx["failed"].get(q, "no fit")


def classify(model, iq: np.ndarray, states: np.ndarray) -> np.ndarray:
    """A discriminator's state for each recorded shot (a baseline trains on the same shots)."""
    if hasattr(model, "classify"):
        return model.classify(iq)
    return model.classify_data(single_readout(iq, states))[0][0]


def _rotated_i(params: dict, iq: np.ndarray) -> np.ndarray:
    c, s = np.cos(params["angle"]), np.sin(params["angle"])
    return iq[:, 0] * c - iq[:, 1] * s
