"""The error-correction threshold p_th from a sweep's logical error rates.

* **Finite-size-scaling fit** (Wang, Harrington & Preskill 2003): near threshold the
  logical error rate is a function of one rescaled variable, ``p_L = A + B x + C x^2``
  with ``x = (p - p_th) / p_th * d^(1/nu)``, fitted by weighted least squares (weights
  from the binomial variance). The form is an expansion around threshold, so by default
  only the rates within ±35 % of the crossings' estimate enter the fit (``window``).
* **Finite-size drift.** Small codes do not follow the scaling form: for the rotated
  surface code under circuit noise the curves of d = 3 cross those of d = 5 well below
  where d = 5 and d = 7 cross, and a fit that includes d = 3 is pulled low by more than
  its interval (more so the more shots). The rule: with three or more distances the fit
  leaves out the smallest one (:data:`RULE`); the fit over every distance is kept as a
  diagnostic, and a warning says when it falls outside the reported interval.
* **Systematic spread.** The reported interval is the envelope of the bootstrap
  intervals of the reasonable fit choices (``fit_choices``, ``used``): the rule's
  distances with the rate window and with every rate. The headline's own interval is
  ``threshold_ci_statistical``.
* **Pairwise crossings** beside it (``verifier.stats.crossings``), each with its
  interval, and a warning when one pair's crossing lies outside the next pair's interval.

Intervals come from a parametric bootstrap over the binomial counts: every point's errors
are redrawn from Binomial(shots, errors / shots), every fit and crossing redone, and the
percentile interval reported. When a fit's reduced chi-square exceeds 1 its interval is
widened by sqrt(chi2 / dof) about its estimate, the usual scale factor, so model error is
not hidden; an interval is cut to [0, 1] (a threshold is a rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from verifier.stats.binomial import CONFIDENCE
from verifier.stats.crossings import crossing_rows, crossings, disagreements

BOOTSTRAP = 400
WINDOW = 0.35  # the scaling fit uses rates within ±35 % of the crossings' estimate
# ... when that leaves this many rates on every fitted curve: with fewer, five parameters
# fitted to two curves leave resamples that wander to the bounds (seen at 4 rates, 8192 shots)
MIN_RATES = 5
RULE = ("finite-size scaling over the distances without the smallest when three or more are swept; "
        "interval: envelope of the bootstrap intervals of that fit with the rate window and with every rate")
_MODEL = "p_L = A + B x + C x^2, x = (p - p_th) / p_th * d^(1/nu)"


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


@dataclass
class _Choice:
    """One finite-size-scaling fit of the sweep: its distances and rate window."""

    name: str
    distances: tuple[int, ...]
    window: float | None
    used: bool  # part of the reported interval (else a diagnostic)
    mask: np.ndarray | None = None
    theta: np.ndarray | None = None
    chi2: float | None = None
    ok: bool = False
    boot: list = field(default_factory=list)
    ci: tuple[float | None, float | None] = (None, None)
    scale: float = 1.0

    @property
    def dof(self) -> int:
        return int(self.mask.sum()) - 5 if self.mask is not None else 0

    def to_json(self, p: np.ndarray) -> dict:
        th = float(self.theta[0]) if self.ok else None
        rates = [float(p[self.mask].min()), float(p[self.mask].max())] if self.mask is not None else None
        return {"name": self.name, "distances": list(self.distances), "window": self.window, "rates": rates,
                "used": self.used, "threshold": th, "threshold_ci": list(self.ci),
                "nu": 1.0 / float(self.theta[1]) if self.ok else None, "chi2": self.chi2, "dof": self.dof,
                "ci_scale": self.scale, "bootstrap_resamples": len(self.boot)}


@dataclass(frozen=True)
class ThresholdFit:
    threshold: float | None
    threshold_ci: tuple[float | None, float | None]  # envelope over the used fit choices
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
    window: tuple[float, float] | None = None  # the rates the headline fit used
    extra: dict = field(default_factory=dict)
    fit_distances: tuple[int, ...] = ()  # the distances the headline fit used
    statistical_ci: tuple[float | None, float | None] = (None, None)  # the headline fit's own
    choices: tuple[dict, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def distances(self) -> list[int]:
        return sorted({q.distance for q in self.points})

    def curve(self, distance: int, p: np.ndarray | Sequence[float]) -> np.ndarray | None:
        """The fitted p_L at ``distance`` (None for a distance the fit left out)."""
        if self.threshold is None or self.nu is None or (self.fit_distances and distance not in self.fit_distances):
            return None
        return _model(np.array([self.threshold, 1.0 / self.nu, self.params["A"], self.params["B"],
                                self.params["C"]]), float(distance), np.asarray(p, dtype=float))

    def curves(self, n: int = 60) -> list[dict]:
        if self.threshold is None:
            return []
        ps = [q.p for q in self.points]
        lo, hi = self.window or (min(ps), max(ps))
        grid = np.geomspace(lo, hi, n)
        return [{"distance": d, "p": grid.tolist(), "ler": np.clip(self.curve(d, grid), 0.0, 1.0).tolist()}
                for d in self.distances if self.curve(d, grid[:1]) is not None]

    def to_json(self) -> dict:
        fitted = set(self.fit_distances or self.distances)
        return {"threshold": self.threshold, "threshold_ci": list(self.threshold_ci),
                "threshold_ci_statistical": list(self.statistical_ci), "confidence": self.confidence,
                "status": self.status, "message": self.message, "rule": RULE,
                "fit_distances": sorted(fitted), "warnings": list(self.warnings),
                "fit": {"model": _MODEL, "nu": self.nu, **self.params, "chi2": self.chi2, "dof": self.dof,
                        "reduced_chi2": (self.chi2 / self.dof) if self.chi2 is not None and self.dof > 0 else None,
                        "ci_scale": self.ci_scale, "bootstrap_resamples": self.bootstrap,
                        "window": list(self.window) if self.window else None},
                "fit_choices": list(self.choices), "crossings": list(self.crossings),
                "points": [{**q.to_json(), "in_fit": q.distance in fitted and (
                    self.window is None or self.window[0] <= q.p <= self.window[1])} for q in self.points],
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


def _start(d: np.ndarray, p: np.ndarray, y: np.ndarray, choice: _Choice, found: list[float]) -> np.ndarray:
    """The fit's starting point (from the crossings); sets the mask of the points it uses."""
    ds = list(choice.distances)
    p0 = float(np.exp(np.mean(np.log(found)))) if found else float(np.exp(np.mean(np.log(p))))
    y0 = float(np.mean(y[np.argsort(np.abs(np.log(p / p0)))[: max(2, len(ds))]]))
    m = np.isin(d, ds)
    if choice.window and found:
        near = m & (np.abs(p / p0 - 1.0) <= choice.window)
        if all(int(near[d == dd].sum()) >= MIN_RATES for dd in ds):
            m = near
    choice.mask = m
    return np.array([p0, 1.0, y0, y0, 0.0])


def _choices(ds: list[int], window: float | None, drop_smallest: bool) -> list[_Choice]:
    """The headline fit (the rule), the same distances with the other rate choice, and
    (when the rule left a distance out) the every-distance fit as a diagnostic."""
    rule_ds = tuple(ds[1:]) if drop_smallest and len(ds) >= 3 else tuple(ds)
    alt = None if window else WINDOW

    def name(dd, w):
        return f"d = {', '.join(map(str, dd))}, " + (f"rates within ±{w:.0%}" if w else "every rate")

    out = [_Choice(name(rule_ds, window), rule_ds, window, True), _Choice(name(rule_ds, alt), rule_ds, alt, True)]
    if rule_ds != tuple(ds):
        out.append(_Choice(name(tuple(ds), window), tuple(ds), window, False))
    return out


def _fit_all(choices: list[_Choice], d, p, n, e, cross, starts: dict) -> None:
    for c in choices:
        found = [x for a, b, x in cross if x is not None and a in c.distances and b in c.distances]
        found = found or [x for _, _, x in cross if x is not None]
        x0 = _start(d, p, e / n, c, found)
        starts[c.name] = x0
        try:
            c.theta, c.chi2, c.ok = _fit(d[c.mask], p[c.mask], n[c.mask], e[c.mask], x0)
        except Exception:  # pragma: no cover - scipy failure
            c.theta, c.chi2, c.ok = None, None, False


def _bootstrap(choices: list[_Choice], d, p, n, y, n_cross: int, bootstrap: int, seed: int) -> list[list]:
    """Parametric bootstrap over the binomial counts: every choice refitted (into its
    ``boot``), and each pair's crossings (returned). One set of resamples for all."""
    rng = np.random.default_rng(seed)
    boot_cross: list[list] = [[] for _ in range(n_cross)]
    n_i = n.astype(np.int64)
    for _ in range(bootstrap):
        eb = rng.binomial(n_i, y).astype(float)
        for c in choices:
            if c.ok:
                try:
                    tb, _, okb = _fit(d[c.mask], p[c.mask], n[c.mask], eb[c.mask], c.theta)
                except Exception:  # pragma: no cover
                    continue
                if okb:
                    c.boot.append(tb[0])
        for k, (_, _, x) in enumerate(crossings(d, p, eb / n)):
            boot_cross[k].append(x)
    return boot_cross


def _interval(c: _Choice, alpha: float) -> None:
    """The choice's percentile interval, widened by sqrt(chi2/dof) about its estimate, cut to [0, 1]."""
    if not c.ok or not c.boot:
        return
    pth = float(c.theta[0])
    c.scale = max(1.0, math.sqrt(c.chi2 / c.dof)) if c.dof > 0 else 1.0
    blo, bhi = np.quantile(c.boot, [alpha / 2, 1 - alpha / 2])
    c.ci = (max(0.0, pth - c.scale * (pth - float(blo))), min(1.0, pth + c.scale * (float(bhi) - pth)))


def _status(d, p, y, ds: list[int], found: list[float], pth: float) -> tuple[str, str]:
    if not found:
        big, small = d == max(ds), d == min(ds)
        below = np.mean(y[big]) < np.mean(y[small])
        return "no_crossing", ("the curves do not cross inside the swept rates: every rate is "
                               + ("below threshold (sweep higher p)" if below else "above threshold (sweep lower p)"))
    if not (p.min() <= pth <= p.max()):
        return "no_crossing", f"the fitted threshold {pth:.4g} lies outside the swept rates"
    return "ok", ""


def _envelope(choices: list[_Choice]) -> tuple[float | None, float | None]:
    got = [c.ci for c in choices if c.used and c.ci[0] is not None]
    if not got:
        return (None, None)
    return (min(lo for lo, _ in got), max(hi for _, hi in got))


def fit_threshold(points: Sequence[LerPoint], *, confidence: float = CONFIDENCE, bootstrap: int = BOOTSTRAP,
                  seed: int = 0, window: float | None = WINDOW, drop_smallest: bool = True) -> ThresholdFit:
    """The threshold of a sweep (at least two distances, six points in all).

    ``window``: the fit uses the rates within ``±window`` (relative) of the crossings'
    estimate when that leaves at least :data:`MIN_RATES` rates of every fitted distance;
    ``None`` or 0: every point. ``drop_smallest``: the finite-size rule (see the module)."""
    pts = tuple(sorted(points, key=lambda q: (q.distance, q.p)))
    ds = sorted({q.distance for q in pts})
    if len(ds) < 2:
        raise ValueError("a threshold needs at least two distances")
    if len(pts) < 6:
        raise ValueError("a threshold fit needs at least six points (distances x rates)")
    d, p, n, e = (np.array([getattr(q, k) for q in pts], dtype=float) for k in ("distance", "p", "shots", "errors"))
    y = e / n
    alpha = 1.0 - confidence
    cross = crossings(d, p, y)
    choices = _choices(ds, window or None, drop_smallest)
    _fit_all(choices, d, p, n, e, cross, {})
    boot_cross = _bootstrap(choices, d, p, n, y, len(cross), bootstrap, seed)
    rows = crossing_rows(cross, boot_cross, alpha, bootstrap)
    for c in choices:
        _interval(c, alpha)
    head = choices[0]
    base = dict(points=pts, crossings=tuple(rows), confidence=confidence, fit_distances=head.distances,
                choices=tuple(c.to_json(p) for c in choices))
    if not head.ok:
        return ThresholdFit(None, (None, None), None, {}, None, head.dof, status="fit_failed",
                            message="the finite-size-scaling fit did not converge", bootstrap=len(head.boot), **base)
    pth = float(head.theta[0])
    ci = _envelope(choices)
    status, msg = _status(d, p, y, ds, [x for _, _, x in cross if x is not None], pth)
    warn = disagreements(rows)
    if ci[0] is not None and (ci[0] < p.min() or ci[1] > p.max()):
        # an interval wider than the sweep is bounded by the model's extrapolation, not by data
        warn.append(f"the interval [{ci[0]:.3%}, {ci[1]:.3%}] reaches beyond the swept rates "
                    f"({p.min():.3%} .. {p.max():.3%}): the data do not bound the threshold there "
                    "(more shots, or a wider sweep)")
    for c in choices:
        if not c.used and c.ok and ci[0] is not None and not (ci[0] <= c.theta[0] <= ci[1]):
            warn.append(f"the fit over every distance ({c.theta[0]:.3%}) lies outside the interval: "
                        "the smallest distance drifts")
    return ThresholdFit(pth, ci, 1.0 / float(head.theta[1]),
                        {"A": float(head.theta[2]), "B": float(head.theta[3]), "C": float(head.theta[4])},
                        head.chi2, head.dof, status=status, message=msg, bootstrap=len(head.boot),
                        ci_scale=head.scale, window=(float(p[head.mask].min()), float(p[head.mask].max())),
                        statistical_ci=head.ci, warnings=tuple(warn), **base)


def points_from_results(results) -> list[LerPoint]:
    """LerPoints from sweep TaskResults."""
    return [LerPoint(int(r.workload.distance), float(r.workload.p), r.stats.shots, r.stats.errors)
            for r in results]
