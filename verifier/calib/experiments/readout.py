"""Single-shot readout: a discriminator's assignment fidelity on held-out shots of
prepared |0> and |1>, beside the truth-informed threshold a discriminator can reach."""

from __future__ import annotations

import numpy as np

from verifier.calib.data import ReadoutData
from verifier.calib.experiments.base import Experiment, Param, span
from verifier.calib.metrics import quantile

ANGLE = 0.6
SEPARATION = 1.0


def simulate(u: np.ndarray, rng: np.random.Generator, n_shots: int) -> ReadoutData:
    R = u.shape[0]
    theta = ANGLE + span(u[:, 0], -0.35, 0.35)
    snr = span(u[:, 1], 3.0, 6.0)
    sigma = SEPARATION / snr
    c0 = np.stack([span(u[:, 2], -0.05, 0.05), span(u[:, 3], -0.05, 0.05)], axis=1)
    c1 = c0 + SEPARATION * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    p_th = span(u[:, 4], 0.005, 0.04)
    p_dec = span(u[:, 5], 0.01, 0.06)
    S = n_shots
    prepared = np.concatenate([np.zeros(S, np.int64), np.ones(S, np.int64)])
    draws = rng.random((R, 2 * S, 2))
    gauss = rng.standard_normal((R, 2 * S, 2))
    # the state the qubit is really in at readout: thermal |1> among prepared |0>;
    # prepared |1> relaxes during readout with probability p_dec, landing at a uniformly
    # random point between the clouds
    flip0 = (prepared[None, :] == 0) & (draws[..., 0] < p_th[:, None])
    decay = (prepared[None, :] == 1) & (draws[..., 0] < p_dec[:, None])
    frac = np.where(prepared[None, :] == 1, 1.0, 0.0)
    frac = np.where(flip0, 1.0, frac)
    frac = np.where(decay, draws[..., 1], frac)  # fraction of the way to |1>'s centre
    centres = c0[:, None, :] + frac[..., None] * (c1 - c0)[:, None, :]
    iq = centres + sigma[:, None, None] * gauss
    half = S // 2
    idx = np.arange(2 * S) % S
    train = idx < half
    ctx = {"angle_rad": theta, "snr": snr, "thermal_population": p_th, "relaxation_in_readout": p_dec,
           "c0_i": c0[:, 0], "c0_q": c0[:, 1], "c1_i": c1[:, 0], "c1_q": c1[:, 1]}
    return ReadoutData(iq[:, train], np.tile(prepared[train], (R, 1)), iq[:, ~train],
                       np.tile(prepared[~train], (R, 1)), S, ctx)


def assignment_fidelity(pred: np.ndarray, prepared: np.ndarray) -> np.ndarray:
    """1 - (P(1|0) + P(0|1)) / 2 per repeat; ``pred`` and ``prepared`` are [R, N]."""
    pred = np.asarray(pred)
    prepared = np.asarray(prepared)
    z = prepared == 0
    o = prepared == 1
    p10 = ((pred == 1) & z).sum(axis=-1) / np.maximum(z.sum(axis=-1), 1)
    p01 = ((pred == 0) & o).sum(axis=-1) / np.maximum(o.sum(axis=-1), 1)
    return 1 - (p10 + p01) / 2


def truth_threshold_fidelity(data: ReadoutData) -> np.ndarray:
    """Assignment fidelity of the truth-informed discriminator (projection on the true
    |0>-|1> axis, threshold halfway): a reference for what a discriminator can reach."""
    c0 = np.stack([data.context["c0_i"], data.context["c0_q"]], axis=1)
    c1 = np.stack([data.context["c1_i"], data.context["c1_q"]], axis=1)
    axis = (c1 - c0) / np.linalg.norm(c1 - c0, axis=1, keepdims=True)
    proj = np.einsum("rnk,rk->rn", data.iq_test - (c0 + c1)[:, None, :] / 2, axis)
    return assignment_fidelity((proj > 0).astype(np.int64), data.state_test)


def figures(fidelity: np.ndarray, reference: np.ndarray | None = None) -> dict[str, dict]:
    f = np.asarray(fidelity, dtype=float)
    d = {"assignment_fidelity_median": quantile(f, 0.5), "assignment_fidelity_p05": quantile(f, 0.05),
         "assignment_fidelity_mean": float(np.mean(f)), "assignment_fidelity_min": float(np.min(f)),
         "failures": int((~np.isfinite(f)).sum()), "repeats": int(f.size)}
    if reference is not None:
        d["reference_fidelity_median"] = quantile(np.asarray(reference, float), 0.5)
        d["gap_to_reference_median"] = quantile(np.asarray(reference, float) - f, 0.5)
    return {"assignment_fidelity": d}


EXPERIMENT = Experiment(
    "readout", (Param("assignment_fidelity", "1"),), "I", "single-shot (I, Q) of prepared |0> and |1>", 2,
    "2000 shots per prepared state; the first half of each trains the discriminator, the second half scores it",
    (("|0> -> |1> direction", "0.6 rad +- 0.35 rad"), ("cloud separation / sigma (SNR)", "3 .. 6"),
     ("|0> centre jitter", "0.05 x separation"), ("thermal population of |0>", "0.5 % .. 4 %"),
     ("relaxation during readout of |1>", "1 % .. 6 %, landing uniformly between the clouds")),
    "single_shot_classification", kind="readout", default_shots=2000, default_repeats=20,
    simulate=simulate)
