"""What a decoder is worth in qubits: the code distance, and the physical qubits per logical
qubit, that reach a target logical error rate per round, extrapolated from measured ε_d.

Below threshold ε_d falls exponentially with the distance, ``ln ε_d = a + b d``
(``Λ = exp(-2 b)``). The line is fitted by weighted least squares to the measured ln ε_d
(weights: their delta-method variances, ``verifier.stats.epsilon``); the distance that
reaches a target τ is the smallest odd ``d >= 3`` with ``a + b d <= ln τ``, and a rotated
surface-code logical qubit needs ``2 d² - 1`` physical qubits (d² data, d² - 1 measure).

Intervals: a parametric bootstrap (each ln ε_d redrawn from its normal approximation, the
line refitted), percentiles of the projected distance. An extrapolation is refused (status
``refused`` with the reason) from fewer than three distances, when Λ's lower bound is not
above 1, or when the line does not fit the points (chi-square p < 0.01): then there is no
evidence of the exponential suppression the extrapolation assumes.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from verifier.stats.binomial import CONFIDENCE

TARGETS = (1e-6, 1e-9, 1e-12)
DRAWS = 2000
MIN_DISTANCES = 3
MAX_DISTANCE = 999  # beyond: reported as out of reach
FIT_P_MIN = 0.01

QUBITS_PER_LOGICAL = {"surface": lambda d: 2 * d * d - 1}
QUBIT_FORMULA = {"surface": "2d² − 1"}
METHOD = ("weighted line through ln ε_d against d; smallest odd d >= 3 reaching the target; "
          "interval: parametric bootstrap of ln ε_d, percentiles of the projected distance")


def _distance_for(a: np.ndarray, b: np.ndarray, target: float) -> np.ndarray:
    """Smallest odd d >= 3 with a + b d <= ln target (inf where the line does not fall)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(b < 0, (math.log(target) - a) / b, np.inf)
    d = np.maximum(np.ceil(d), 3.0)
    d = np.where(np.isfinite(d), d + (d % 2 == 0), np.inf)
    return np.where(d <= MAX_DISTANCE, d, np.inf)


def _wls(d: np.ndarray, y: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``y`` (and ``var``): weighted line fits -> (a, b, chi2) per row."""
    w = 1.0 / var
    sw = w.sum(axis=-1)
    dm = (w * d).sum(axis=-1) / sw
    ym = (w * y).sum(axis=-1) / sw
    b = (w * (d - dm[..., None]) * (y - ym[..., None])).sum(axis=-1) / (w * (d - dm[..., None]) ** 2).sum(axis=-1)
    a = ym - b * dm
    chi2 = (w * (y - (a[..., None] + b[..., None] * d)) ** 2).sum(axis=-1)
    return a, b, chi2


def project_qubits(distances: Sequence[int], epsilons: Sequence[float], log_eps_vars: Sequence[float], *,
                   targets: Sequence[float] = TARGETS, code: str = "surface", confidence: float = CONFIDENCE,
                   draws: int = DRAWS, seed: int = 0) -> dict[str, Any]:
    """The projection for one decoder at one physical error rate (see the module doc);
    JSON-able, with per target ``distance``, ``distance_ci``, ``qubits``, ``qubits_ci`` and
    the bootstrap's ``qubits_draws`` (for paired differences between decoders)."""
    d = np.asarray(distances, dtype=float)
    out: dict[str, Any] = {"code": code, "targets": {}, "confidence": confidence, "method": METHOD}
    reason = _refusal(d, epsilons, log_eps_vars, code)
    if reason:
        return {**out, "status": "refused", "message": reason}
    y, var = np.log(np.asarray(epsilons, dtype=float)), np.asarray(log_eps_vars, dtype=float)
    a, b, chi2 = (float(x) for x in _wls(d, y, var))
    from scipy.stats import chi2 as chi2_dist

    fit_p = float(chi2_dist.sf(chi2, len(d) - 2))
    rng = np.random.default_rng(seed)
    ys = y + rng.standard_normal((draws, len(d))) * np.sqrt(var)
    ab, bb, _ = _wls(d, ys, np.broadcast_to(var, ys.shape))
    lam_lo = float(np.quantile(np.exp(-2.0 * bb), (1 - confidence) / 2))
    if fit_p < FIT_P_MIN:
        return {**out, "status": "refused", "fit_p": fit_p,
                "message": f"ln ε_d is not a straight line in d over these distances (chi-square p = {fit_p:.2g}): "
                           "no basis for extrapolating"}
    if not lam_lo > 1.0:
        return {**out, "status": "refused", "lambda_lower": lam_lo,
                "message": f"Λ's lower bound is {lam_lo:.3g}, not above 1: ε_d is not shown to fall with distance"}
    q = QUBITS_PER_LOGICAL[code]
    alpha = 1.0 - confidence
    for t in targets:
        dt = float(_distance_for(np.array(a), np.array(b), t))
        dd = _distance_for(ab, bb, t)
        lo, hi = (float(x) for x in np.quantile(dd, [alpha / 2, 1 - alpha / 2], method="nearest"))
        qd = np.where(np.isfinite(dd), q(np.where(np.isfinite(dd), dd, 0)), np.inf)
        out["targets"][f"{t:g}"] = {
            "target": t, "distance": dt if math.isfinite(dt) else None,
            "distance_ci": [lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None],
            "qubits": q(int(dt)) if math.isfinite(dt) else None,
            "qubits_ci": [q(int(lo)) if math.isfinite(lo) else None, q(int(hi)) if math.isfinite(hi) else None],
            "qubits_draws": qd.tolist()}
    return {**out, "status": "ok", "fit_p": fit_p, "lambda": math.exp(-2.0 * b), "lambda_lower": lam_lo,
            "assumptions": (f"ε_d extrapolated exponentially in d from d = {', '.join(str(int(x)) for x in d)}, "
                            f"same noise model and physical error rate; {code} code with {QUBIT_FORMULA[code]} "
                            "physical qubits per logical qubit")}


def _refusal(d: np.ndarray, eps: Sequence[float], var: Sequence[float], code: str) -> str | None:
    if code not in QUBITS_PER_LOGICAL:
        return f"no qubit count is known for the {code} code"
    if len(set(d.tolist())) < MIN_DISTANCES:
        return f"extrapolation needs ε at {MIN_DISTANCES} or more distances, got {len(set(d.tolist()))}"
    if any(e is None or not (0 < e < 0.5) for e in eps) or any(v is None or not (v > 0) for v in var):
        return "ε is not measured at every distance (no logical errors, or above threshold)"
    return None


def qubits_saved(candidate: dict[str, Any], baseline: dict[str, Any], *, confidence: float = CONFIDENCE) -> dict:
    """Per target: physical qubits per logical qubit the candidate saves against the baseline
    (positive = fewer), with an interval from the two projections' bootstrap draws taken in
    pairs (they are independent, so pairing by index is a valid joint draw)."""
    out = {}
    if candidate.get("status") != "ok" or baseline.get("status") != "ok":
        return out
    alpha = 1.0 - confidence
    for key, c in candidate["targets"].items():
        b = baseline["targets"].get(key)
        if not b or c["qubits"] is None or b["qubits"] is None:
            continue
        diff = np.asarray(b["qubits_draws"], dtype=float) - np.asarray(c["qubits_draws"], dtype=float)
        diff = diff[np.isfinite(diff)]
        ci = ([float(x) for x in np.quantile(diff, [alpha / 2, 1 - alpha / 2], method="nearest")]
              if diff.size else [None, None])
        out[key] = {"saved": b["qubits"] - c["qubits"], "saved_ci": ci}
    return out
