"""The error-correction threshold p_th from a sweep's logical error rates.

Two estimates, both from the same counts:

* **Finite-size-scaling fit** (the reported ``threshold``; Wang, Harrington & Preskill
  2003): near threshold the logical error rate is a function of one rescaled variable,
  ``p_L = A + B x + C x^2`` with ``x = (p - p_th) / p_th * d^(1/nu)``, fitted by
  weighted least squares (weights from the binomial variance). ``p_th`` is where all
  distances' curves meet; ``nu`` is the correlation-length exponent. The form is an
  expansion around threshold, so by default only the rates within ±35 % of the crossings'
  estimate enter the fit (``window``; all rates when too few remain).
* **Pairwise crossings**: where the curves of two successive distances cross, on straight
  lines between neighbouring points in log-log coordinates.

Intervals come from a parametric bootstrap over the binomial counts: every point's errors
are redrawn from Binomial(shots, errors / shots), both estimates redone, and the
percentile interval reported. When the fit's reduced chi-square exceeds 1 (the quadratic
ansatz describes the curves only approximately away from threshold) the fit's interval is
widened by sqrt(chi2 / dof), the usual scale factor, so model error is not hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from verifier.stats.binomial import CONFIDENCE

BOOTSTRAP = 400
WINDOW = 0.35  # the scaling fit uses rates within ±35 % of the crossings' estimate


@dataclass(frozen=True)
class LerPoint:
    distance: int
    p: float
    shots: int
    errors: int

    @property
    def ler(self) -> float:
        return self.errors / self.shots if self.shots else float("nan")

    def to_json(self) -> dict:
        from verifier.stats.binomial import clopper_pearson

        lo, hi = clopper_pearson(self.errors, self.shots)
        return {"distance": self.distance, "p": self.p, "shots": self.shots, "errors": self.errors,
                "ler": self.ler, "ler_ci": [lo, hi]}


@dataclass(frozen=True)
class ThresholdFit:
    threshold: float | None
    threshold_ci: tuple[float | None, float | None]
    nu: float | None
    params: dict  # A, B, C of the scaling function
    chi2: float | None
    dof: int
    points: tuple[LerPoint, ...]
    crossings: tuple[dict, ...] = ()
    confidence: float = CONFIDENCE
    status: str = "ok"  # ok | no_crossing | fit_failed
    message: str = ""
    bootstrap: int = 0
    ci_scale: float = 1.0
    window: tuple[float, float] | None = None  # the rates the scaling fit used
    extra: dict = field(default_factory=dict)

    @property
    def distances(self) -> list[int]:
        return sorted({q.distance for q in self.points})

    def curve(self, distance: int, p: np.ndarray | Sequence[float]) -> np.ndarray | None:
        """The fitted p_L at ``distance`` for the rates ``p``."""
        if self.threshold is None or self.nu is None:
            return None
        return _model(np.array([self.threshold, 1.0 / self.nu, self.params["A"], self.params["B"],
                                self.params["C"]]), float(distance), np.asarray(p, dtype=float))

    def curves(self, n: int = 60) -> list[dict]:
        if self.threshold is None:
            return []
        ps = [q.p for q in self.points]
        lo, hi = self.window or (min(ps), max(ps))
        grid = np.geomspace(lo, hi, n)
        out = []
        for d in self.distances:
            y = self.curve(d, grid)
            out.append({"distance": d, "p": grid.tolist(), "ler": np.clip(y, 0.0, 1.0).tolist()})
        return out

    def to_json(self) -> dict:
        return {"threshold": self.threshold, "threshold_ci": list(self.threshold_ci),
                "confidence": self.confidence, "status": self.status, "message": self.message,
                "fit": {"model": "p_L = A + B x + C x^2, x = (p - p_th) / p_th * d^(1/nu)",
                        "nu": self.nu, **self.params, "chi2": self.chi2, "dof": self.dof,
                        "reduced_chi2": (self.chi2 / self.dof) if self.chi2 is not None and self.dof > 0 else None,
                        "ci_scale": self.ci_scale, "bootstrap_resamples": self.bootstrap,
                        "window": list(self.window) if self.window else None},
                "crossings": list(self.crossings),
                "points": [{**q.to_json(), "in_fit": self.window is None
                            or self.window[0] <= q.p <= self.window[1]} for q in self.points],
                "curves": self.curves(), **self.extra}


def _model(theta: np.ndarray, d: np.ndarray | float, p: np.ndarray) -> np.ndarray:
    pth, inv_nu, a, b, c = theta
    x = (p - pth) / pth * np.power(d, inv_nu)
    return a + b * x + c * x * x


def _sigma(y: np.ndarray, n: np.ndarray) -> np.ndarray:
    # binomial standard deviation, floored at one error's worth so 0-error points stay finite
    return np.sqrt(np.maximum(y * (1.0 - y), 1.0 / n) / n)


def _fit(d: np.ndarray, p: np.ndarray, n: np.ndarray, e: np.ndarray, x0: np.ndarray):
    from scipy.optimize import least_squares

    y = e / n
    sig = _sigma(y, n)
    lo = [p.min() * 0.2, 0.05, -1.0, -np.inf, -np.inf]
    hi = [p.max() * 5.0, 5.0, 2.0, np.inf, np.inf]
    x0 = np.clip(x0, np.array(lo) + 1e-12, np.array(hi) - 1e-12)
    r = least_squares(lambda th: (_model(th, d, p) - y) / sig, x0, bounds=(lo, hi), method="trf")
    return r.x, float((r.fun ** 2).sum()), bool(r.success)


def _crossing(pa: np.ndarray, ya: np.ndarray, yb: np.ndarray) -> float | None:
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


def _crossings(d: np.ndarray, p: np.ndarray, y: np.ndarray) -> list[tuple[int, int, float | None]]:
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
        out.append((int(da), int(db), _crossing(common, ya, yb) if len(common) >= 2 else None))
    return out


def _start(d: np.ndarray, p: np.ndarray, y: np.ndarray, ds: list[int], found: list[float],
           window: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The fit's starting point (from the crossings) and the mask of the points it uses."""
    p0 = float(np.exp(np.mean(np.log(found)))) if found else float(np.exp(np.mean(np.log(p))))
    y0 = float(np.mean(y[np.argsort(np.abs(np.log(p / p0)))[: max(2, len(ds))]]))
    x0 = np.array([p0, 1.0, y0, y0, 0.0])
    m = np.ones(len(p), dtype=bool)
    if window and found:
        near = np.abs(p / p0 - 1.0) <= window
        per_d = [int(near[d == dd].sum()) for dd in ds]
        if near.sum() >= 6 and sum(1 for c in per_d if c >= 2) >= 2:
            m = near
    return x0, m


def _bootstrap(d, p, n, y, m, theta, n_cross: int, bootstrap: int, seed: int) -> tuple[list, list[list]]:
    """Parametric bootstrap over the binomial counts: the refitted thresholds, and each
    pair's crossings."""
    rng = np.random.default_rng(seed)
    boot_th: list = []
    boot_cross: list[list] = [[] for _ in range(n_cross)]
    n_i = n.astype(np.int64)
    for _ in range(bootstrap):
        eb = rng.binomial(n_i, y).astype(float)
        if theta is not None:
            try:
                tb, _, okb = _fit(d[m], p[m], n[m], eb[m], theta)
                if okb:
                    boot_th.append(tb[0])
            except Exception:  # pragma: no cover
                pass
        for k, (_, _, c) in enumerate(_crossings(d, p, eb / n)):
            boot_cross[k].append(c)
    return boot_th, boot_cross


def _crossing_rows(cross, boot_cross, alpha: float, bootstrap: int) -> list[dict]:
    rows = []
    for k, (da, db, c) in enumerate(cross):
        got = [x for x in boot_cross[k] if x is not None]
        lo, hi = (float(v) for v in np.quantile(got, [alpha / 2, 1 - alpha / 2])) if got else (None, None)
        rows.append({"distances": [da, db], "crossing": c, "crossing_ci": [lo, hi],
                     "bootstrap_found": len(got) / bootstrap if bootstrap else None})
    return rows


def _status(d, p, y, ds: list[int], found: list[float], pth: float) -> tuple[str, str]:
    if not found:
        big, small = d == max(ds), d == min(ds)
        below = np.mean(y[big]) < np.mean(y[small])
        return "no_crossing", ("the curves do not cross inside the swept rates: every rate is "
                               + ("below threshold (sweep higher p)" if below else "above threshold (sweep lower p)"))
    if not (p.min() <= pth <= p.max()):
        return "no_crossing", f"the fitted threshold {pth:.4g} lies outside the swept rates"
    return "ok", ""


def fit_threshold(points: Sequence[LerPoint], *, confidence: float = CONFIDENCE,
                  bootstrap: int = BOOTSTRAP, seed: int = 0, window: float | None = WINDOW) -> ThresholdFit:
    """The threshold of a sweep (at least two distances, six points in all).

    ``window``: the scaling form is an expansion around threshold, so the fit uses the
    rates within ``±window`` (relative) of the crossings' estimate, when that leaves at
    least six points and two per distance for two distances; ``None`` or 0: every point."""
    pts = tuple(sorted(points, key=lambda q: (q.distance, q.p)))
    ds = sorted({q.distance for q in pts})
    if len(ds) < 2:
        raise ValueError("a threshold needs at least two distances")
    if len(pts) < 6:
        raise ValueError("a threshold fit needs at least six points (distances x rates)")
    d, p, n, e = (np.array([getattr(q, k) for q in pts], dtype=float) for k in ("distance", "p", "shots", "errors"))
    y = e / n
    alpha = 1.0 - confidence
    cross = _crossings(d, p, y)
    found = [c for _, _, c in cross if c is not None]
    x0, m = _start(d, p, y, ds, found, window)
    fit_window = (float(p[m].min()), float(p[m].max()))
    fail_msg = ""
    try:
        theta, chi2, ok = _fit(d[m], p[m], n[m], e[m], x0)
    except Exception as ex:  # pragma: no cover - scipy failure
        theta, chi2, ok = None, None, False
        fail_msg = str(ex)
    dof = int(m.sum()) - 5
    boot_th, boot_cross = _bootstrap(d, p, n, y, m, theta, len(cross), bootstrap, seed)
    crossings = tuple(_crossing_rows(cross, boot_cross, alpha, bootstrap))
    if theta is None or not ok:
        return ThresholdFit(None, (None, None), None, {}, None, dof, pts, crossings, confidence,
                            "fit_failed", "the finite-size-scaling fit did not converge"
                            + (f": {fail_msg}" if theta is None else ""), len(boot_th))
    pth = float(theta[0])
    scale = max(1.0, math.sqrt(chi2 / dof)) if dof > 0 else 1.0
    if boot_th:
        blo, bhi = np.quantile(boot_th, [alpha / 2, 1 - alpha / 2])
        # the chi-square scaling widens the bootstrap interval about the estimate; a rate
        # stays a rate: the interval is cut to [0, 1]
        ci = (max(0.0, pth - scale * (pth - float(blo))), min(1.0, pth + scale * (float(bhi) - pth)))
    else:
        ci = (None, None)
    status, msg = _status(d, p, y, ds, found, pth)
    return ThresholdFit(pth, ci, 1.0 / float(theta[1]),
                        {"A": float(theta[2]), "B": float(theta[3]), "C": float(theta[4])},
                        chi2, dof, pts, crossings, confidence, status, msg,
                        len(boot_th), scale, fit_window)


def points_from_results(results) -> list[LerPoint]:
    """LerPoints from sweep TaskResults."""
    return [LerPoint(int(r.workload.distance), float(r.workload.p), r.stats.shots, r.stats.errors)
            for r in results]
