"""Where the logical-error curves of two successive distances cross, and whether the
crossings of different pairs agree.

A crossing is found on straight lines between neighbouring points in log-log
coordinates. Below the asymptotic threshold the crossings of small distances drift: with
the rotated surface code under circuit noise the (3, 5) crossing sits lower than the
(5, 7) one, so a crossing that lies outside the interval of the next pair's is reported as
a disagreement between the distances (finite-size drift, or too few shots to tell)."""

from __future__ import annotations

import math

import numpy as np


def crossing(pa: np.ndarray, ya: np.ndarray, yb: np.ndarray) -> float | None:
    """Where curve b (larger distance) rises above curve a, on log-log straight segments;
    None when they do not cross inside the swept range. With several sign changes (noise),
    the one whose bracketing points have the most significant difference is kept."""
    with np.errstate(divide="ignore"):
        diff = np.log(np.maximum(yb, 1e-300)) - np.log(np.maximum(ya, 1e-300))
    lp = np.log(pa)
    best = None
    for i in range(len(pa) - 1):
        if diff[i] < 0 <= diff[i + 1] or diff[i] <= 0 < diff[i + 1]:
            t = diff[i] / (diff[i] - diff[i + 1]) if diff[i] != diff[i + 1] else 0.5
            x = float(math.exp(lp[i] + t * (lp[i + 1] - lp[i])))
            weight = abs(diff[i + 1] - diff[i])
            if best is None or weight > best[1]:
                best = (x, weight)
    return best[0] if best else None


def crossings(d: np.ndarray, p: np.ndarray, y: np.ndarray) -> list[tuple[int, int, float | None]]:
    """The crossing of every pair of successive distances, on their common rates."""
    ds = sorted(set(d.tolist()))
    out = []
    for da, db in zip(ds, ds[1:]):
        ma, mb = d == da, d == db
        pa, pb = p[ma], p[mb]
        common = np.intersect1d(pa, pb)
        ia = np.argsort(pa)
        ya = np.interp(common, pa[ia], y[ma][ia])
        ib = np.argsort(pb)
        yb = np.interp(common, pb[ib], y[mb][ib])
        out.append((int(da), int(db), crossing(common, ya, yb) if len(common) >= 2 else None))
    return out


def crossing_rows(cross, boot_cross, alpha: float, bootstrap: int) -> list[dict]:
    """The crossings with their bootstrap percentile intervals (``bootstrap_found``: the
    share of resamples in which the pair crossed at all)."""
    rows = []
    for k, (da, db, c) in enumerate(cross):
        got = [x for x in boot_cross[k] if x is not None]
        lo, hi = (float(v) for v in np.quantile(got, [alpha / 2, 1 - alpha / 2])) if got else (None, None)
        rows.append({"distances": [da, db], "crossing": c, "crossing_ci": [lo, hi],
                     "bootstrap_found": len(got) / bootstrap if bootstrap else None})
    return rows


def disagreements(rows: list[dict]) -> list[str]:
    """A warning for every pair of successive crossings where one lies outside the other's
    interval."""
    out = []
    for a, b in zip(rows, rows[1:]):
        if a["crossing"] is None or b["crossing"] is None:
            continue
        for x, y in ((a, b), (b, a)):
            lo, hi = y["crossing_ci"]
            if lo is not None and not (lo <= x["crossing"] <= hi):
                (xa, xb), (ya, yb) = x["distances"], y["distances"]
                out.append(f"the distances disagree: d = {xa}/{xb} cross at {x['crossing']:.3%}, outside the "
                           f"d = {ya}/{yb} interval [{lo:.3%}, {hi:.3%}] (finite-size drift)")
                break
    return out
