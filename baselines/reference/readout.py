"""sov-reference for readout: Fisher's linear discriminant, with the threshold that
maximizes the assignment fidelity on the training shots."""

import numpy as np


def train(iq: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, float]:
    a, b = iq[states == 0], iq[states == 1]
    m0, m1 = a.mean(0), b.mean(0)
    cov = (np.cov(a.T) * (len(a) - 1) + np.cov(b.T) * (len(b) - 1)) / (len(a) + len(b) - 2)
    w = np.linalg.solve(cov + 1e-12 * np.eye(2), m1 - m0)
    pa, pb = np.sort(a @ w), np.sort(b @ w)
    cand = np.concatenate([pa, pb])
    # fidelity(t) = 1 - (P(p0 > t) + P(p1 <= t)) / 2
    err0 = 1 - np.searchsorted(pa, cand, side="right") / len(pa)
    err1 = np.searchsorted(pb, cand, side="right") / len(pb)
    t = cand[int(np.argmin(err0 + err1))]
    return w, float(t)
