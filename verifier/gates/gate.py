"""Gates: evaluate measured figures into pass / fail / inconclusive with the numbers that
decided it.

A :class:`GateResult` is the one value every gate returns (decoder gates here, the
calibration tolerance gate of ``verifier.calib`` too): ``name``, ``status``, a ``figures``
dict of plain JSON values and a one-line ``message``. A verdict combines gate results:
``fail`` if any gate failed, else ``inconclusive`` if any gate could not decide, else
``pass``. Exit codes: pass 0, fail 1, inconclusive 3.

LER non-inferiority on paired shots
-----------------------------------
Candidate and baseline decode the *same* shots, so each shot falls in one cell::

    n11  both fail        n10  only the candidate fails
    n01  only the baseline fails   n00  neither fails

With cell probabilities ``p..`` the logical error rates are ``p_c = p11 + p10`` and
``p_b = p11 + p01``. The gate's margin ``m`` (default 0.10) allows the candidate's LER to
exceed the baseline's by ``m`` of the baseline's: acceptable means ``p_c < (1 + m) p_b``.

Shots where neither fails carry no information about the ratio, so sov conditions on the
``N = n11 + n10 + n01`` *relevant* shots (at least one decoder fails) and parametrises
their trinomial by

* ``q = p11 / (p11 + p10 + p01)``: the share of relevant shots where both fail;
  ``n11 ~ Binomial(N, q)``;
* ``theta = p10 / (p10 + p01)``: among the ``D = n10 + n01`` discordant shots, the share
  where only the candidate fails; given ``D``, ``n10 ~ Binomial(D, theta)``, whatever ``q``.

In these coordinates ``p_c / p_b = (q + (1 - q) theta) / (q + (1 - q)(1 - theta))`` and
``p_c <= R p_b`` (``R = 1 + m``) is ``theta <= g_R(q) = (1 - q + m) / ((2 + m)(1 - q))``;
``g`` increases with ``q`` and with ``m``. Solving ``theta = g_R(q)`` for ``R`` gives the
ratio implied by a pair ``(q, theta)``::

    R(q, theta) = 1 + (1 - q)(2 theta - 1) / (1 - theta (1 - q))

``R`` increases with ``theta``; ``R > 1`` exactly when ``theta > 1/2``, and there ``R``
decreases with ``q`` (below 1/2 it increases with ``q`` but stays under 1). With
``alpha = 1 - confidence`` split unevenly, a share ``gamma = Q_SHARE * alpha`` for the
nuisance ``q`` and ``alpha - gamma`` for ``theta`` (Berger and Boos's way of spending a
small part of the level on a nuisance parameter: ``q`` is estimated from all ``N``
relevant shots, far more than the ``D`` discordant ones that carry ``theta``, so its
interval stays narrow at a small share), sov takes exact one-sided Clopper-Pearson bounds
``q_lo, q_hi`` at level ``1 - gamma`` from ``n11`` of ``N`` and ``theta_lo, theta_hi`` at
level ``1 - (alpha - gamma)`` from ``n10`` of ``D`` (``[0, 1]`` when ``D = 0``). Then::

    ratio_upper = max(R(q_lo, theta_hi), R(q_hi, theta_hi))
    ratio_lower = min(R(q_lo, theta_lo), R(q_hi, theta_lo))

* ``pass`` iff ``ratio_upper < 1 + m``: non-inferiority is shown;
* ``fail`` iff ``ratio_lower > 1 + m``: the candidate is shown worse beyond the margin;
* otherwise ``inconclusive``.

Validity (finite-sample, no normal approximation; needs ``m >= 0``): if the true ratio
is at least ``1 + m >= 1`` then ``theta >= 1/2``; were ``q >= q_lo`` and ``theta <= theta_hi``,
monotonicity would give ``ratio_upper >= R(q_lo, theta_hi) >= R(q, theta) >= 1 + m`` and the
gate could not pass. So a wrong ``pass`` needs ``q < q_lo`` or ``theta > theta_hi``, events
of probability at most ``gamma`` and ``alpha - gamma`` (the second conditionally on ``D``,
hence also unconditionally): at most ``alpha`` in all. The mirror argument (``q > q_hi`` or
``theta < theta_lo``) bounds a wrong ``fail`` by ``alpha``. Both cannot hold at once. The
size and power against the even split of earlier releases are measured by simulation in
``tests/test_accept.py`` and reported in ``docs/acceptance.md``.
With identical predictions (``D = 0``) the margin alone decides: ``q = 1`` observed, and the
gate passes once ``q_lo = gamma^(1/N) > 1/(1 + m)``, i.e. ``N >= 56`` baseline failures at
the defaults. When the gate is inconclusive, ``shots_to_decide`` is the shot count at which
the gate decides with probability at least :data:`DECIDE_POWER` if the observed cell rates
are the true ones (found by simulating the gate: :func:`shots_to_decide`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from verifier.stats.binomial import CONFIDENCE

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
STATUSES = (PASS, FAIL, INCONCLUSIVE)
EXIT_BY_VERDICT = {PASS: 0, FAIL: 1, INCONCLUSIVE: 3}

DEFAULT_MARGIN = 0.10
Q_SHARE = 0.1  # the share of alpha spent on the nuisance parameter q (see the module doc)


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate on one workload (or one calibration experiment)."""

    name: str  # e.g. "ler_noninferiority", "latency", "calibration_tolerance"
    status: str  # pass | fail | inconclusive
    figures: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    workload: str | None = None  # the workload's name in the policy (or its id)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"gate status must be one of {STATUSES}, got {self.status!r}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "workload": self.workload, "status": self.status,
                "message": self.message, "figures": self.figures}


def combine(results: Iterable[GateResult]) -> str:
    """fail if any gate failed, else inconclusive if any could not decide, else pass."""
    statuses = [r.status for r in results]
    if not statuses:
        return INCONCLUSIVE
    if FAIL in statuses:
        return FAIL
    if INCONCLUSIVE in statuses:
        return INCONCLUSIVE
    return PASS


# -- paired counts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PairedCounts:
    """Per-shot failure cells of two decoders on the same shots."""

    n00: int = 0
    n10: int = 0  # only the candidate fails
    n01: int = 0  # only the baseline fails
    n11: int = 0  # both fail

    @property
    def shots(self) -> int:
        return self.n00 + self.n10 + self.n01 + self.n11

    @property
    def candidate_errors(self) -> int:
        return self.n11 + self.n10

    @property
    def baseline_errors(self) -> int:
        return self.n11 + self.n01

    def __add__(self, other: "PairedCounts") -> "PairedCounts":
        return PairedCounts(self.n00 + other.n00, self.n10 + other.n10, self.n01 + other.n01,
                            self.n11 + other.n11)

    @classmethod
    def from_failures(cls, candidate: np.ndarray, baseline: np.ndarray) -> "PairedCounts":
        """From two boolean per-shot failure vectors of equal length."""
        c = np.asarray(candidate, dtype=bool)
        b = np.asarray(baseline, dtype=bool)
        if c.shape != b.shape:
            raise ValueError(f"paired failure vectors differ in length: {c.shape} vs {b.shape}")
        n11 = int(np.count_nonzero(c & b))
        n10 = int(np.count_nonzero(c & ~b))
        n01 = int(np.count_nonzero(~c & b))
        return cls(int(c.size) - n11 - n10 - n01, n10, n01, n11)

    @classmethod
    def from_packed_blocks(cls, candidate: Mapping[tuple[int, int], bytes],
                           baseline: Mapping[tuple[int, int], bytes],
                           blocks: Iterable[tuple[int, int]]) -> "PairedCounts":
        """From the store's per-block packed failure bits (``Store.block_failures``), keyed by
        ``(block, shots)``; every wanted block must be present for both decoders."""
        total = cls()
        for key in blocks:
            if key not in candidate or key not in baseline:
                raise KeyError(key)
            n = key[1]
            c = np.unpackbits(np.frombuffer(candidate[key], np.uint8), count=n, bitorder="little")
            b = np.unpackbits(np.frombuffer(baseline[key], np.uint8), count=n, bitorder="little")
            total = total + cls.from_failures(c, b)
        return total

    def to_json(self) -> dict[str, int]:
        return {"n00": self.n00, "n10": self.n10, "n01": self.n01, "n11": self.n11}


# -- exact bounds ----------------------------------------------------------------------------

def _cp_lower(k, n, level: float):
    """One-sided exact (Clopper-Pearson) lower bound at ``level`` (scalars or arrays)."""
    from scipy.stats import beta

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    out = np.where((n > 0) & (k > 0), beta.ppf(1.0 - level, np.maximum(k, 1), np.maximum(n - k + 1, 1)), 0.0)
    return float(out) if out.ndim == 0 else out


def _cp_upper(k, n, level: float):
    """One-sided exact (Clopper-Pearson) upper bound at ``level`` (scalars or arrays)."""
    from scipy.stats import beta

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    out = np.where((n > 0) & (k < n), beta.ppf(level, k + 1, np.maximum(n - k, 1)), 1.0)
    return float(out) if out.ndim == 0 else out


def ratio_of(q, theta):
    """``p_c / p_b`` for the relevant-shot parameters ``(q, theta)`` (see the module doc)."""
    q, theta = np.asarray(q, dtype=float), np.asarray(theta, dtype=float)
    den = 1.0 - theta * (1.0 - q)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0.0, 1.0 + (1.0 - q) * (2.0 * theta - 1.0) / np.where(den > 0, den, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


def bound_arrays(n10, n01, n11, confidence: float = CONFIDENCE):
    """``(lower, upper)`` bounds on ``p_c / p_b`` for arrays of cell counts (the gate's
    bounds, vectorized for simulations of the gate)."""
    q_lo, q_hi, t_lo, t_hi = _parameter_bounds(n10, n01, n11, confidence)
    n = np.asarray(n10, dtype=float) + np.asarray(n01, dtype=float) + np.asarray(n11, dtype=float)
    upper = np.maximum(ratio_of(q_lo, t_hi), ratio_of(q_hi, t_hi))
    lower = np.maximum(0.0, np.minimum(ratio_of(q_lo, t_lo), ratio_of(q_hi, t_lo)))
    upper = np.where(n > 0, upper, np.inf)
    lower = np.where(n > 0, lower, 0.0)
    return lower, upper


def _parameter_bounds(n10, n01, n11, confidence: float):
    """Exact one-sided bounds ``(q_lo, q_hi, theta_lo, theta_hi)``: ``q`` at level
    ``1 - Q_SHARE * alpha``, ``theta`` at ``1 - (1 - Q_SHARE) * alpha`` (module doc)."""
    alpha = 1.0 - confidence
    q_level, t_level = 1.0 - Q_SHARE * alpha, 1.0 - (1.0 - Q_SHARE) * alpha
    n10, n01, n11 = (np.asarray(x, dtype=float) for x in (n10, n01, n11))
    n, d = n11 + n10 + n01, n10 + n01
    return (_cp_lower(n11, n, q_level), _cp_upper(n11, n, q_level),
            _cp_lower(n10, d, t_level), _cp_upper(n10, d, t_level))


@dataclass(frozen=True)
class RatioBounds:
    ratio: float  # point estimate p_c / p_b (nan when no shot failed)
    lower: float
    upper: float
    q_lo: float
    q_hi: float
    theta_lo: float
    theta_hi: float


def ratio_bounds(c: PairedCounts, confidence: float = CONFIDENCE) -> RatioBounds:
    """One-sided bounds on ``p_c / p_b``, each valid at ``confidence`` (see the module doc)."""
    if c.n11 + c.n10 + c.n01 == 0:
        return RatioBounds(math.nan, 0.0, math.inf, 0.0, 1.0, 0.0, 1.0)
    q_lo, q_hi, t_lo, t_hi = (float(x) for x in _parameter_bounds(c.n10, c.n01, c.n11, confidence))
    point = c.candidate_errors / c.baseline_errors if c.baseline_errors else math.inf
    upper = max(ratio_of(q_lo, t_hi), ratio_of(q_hi, t_hi))
    lower = max(0.0, min(ratio_of(q_lo, t_lo), ratio_of(q_hi, t_lo)))
    return RatioBounds(point, lower, upper, q_lo, q_hi, t_lo, t_hi)


def _decision(c: PairedCounts, margin: float, confidence: float, rb: RatioBounds | None = None) -> str:
    rb = rb or ratio_bounds(c, confidence)
    if rb.upper < 1.0 + margin:
        return PASS
    if rb.lower > 1.0 + margin:
        return FAIL
    return INCONCLUSIVE


DECIDE_POWER = 0.8  # shots_to_decide: the probability of a decision it plans for
PLAN_DRAWS = 400  # simulated reruns per candidate shot count


def decide_rate(c: PairedCounts, shots: int, margin: float = DEFAULT_MARGIN,
                confidence: float = CONFIDENCE, *, draws: int = PLAN_DRAWS, seed: int = 0) -> float:
    """The share of simulated reruns of ``shots`` shots, drawn from ``c``'s observed cell
    rates, in which the gate passes or fails (decides)."""
    p = np.array([c.n00, c.n10, c.n01, c.n11], dtype=float) / c.shots
    cells = np.random.default_rng(seed).multinomial(int(shots), p, size=draws)
    lower, upper = bound_arrays(cells[:, 1], cells[:, 2], cells[:, 3], confidence)
    return float(np.mean((upper < 1.0 + margin) | (lower > 1.0 + margin)))


def shots_to_decide(c: PairedCounts, margin: float = DEFAULT_MARGIN,
                    confidence: float = CONFIDENCE, *, power: float = DECIDE_POWER,
                    max_factor: float = 1e6) -> int | None:
    """About the smallest shot count at which the gate decides with probability ``power``
    if the observed cell rates are the true ones, found by simulating the gate on reruns
    (:func:`decide_rate`; a bisection on a log scale, to about 2 %).

    With no failing shot at all, one failure in both decoders is assumed for the rate.
    ``None`` when even ``max_factor`` times the shots would not decide that often (the
    candidate sits on the margin)."""
    if c.shots == 0:
        return None
    base = c if (c.n11 + c.n10 + c.n01) else PairedCounts(max(c.n00 - 1, 0), 0, 0, 1)

    def decides(f: float) -> bool:
        return decide_rate(base, int(math.ceil(base.shots * f)), margin, confidence) >= power

    if not decides(max_factor):
        return None
    lo, hi = 1.0, 2.0
    while not decides(hi):
        lo, hi = hi, hi * 2.0
    while hi / lo > 1.02:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return int(math.ceil(base.shots * hi))


def paired_ratio(c: PairedCounts, *, margin: float = DEFAULT_MARGIN,
                 confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The paired LER ratio candidate / baseline with its exact two-sided interval at
    ``confidence`` (the gate's bounds, each one-sided at ``1 - alpha/2``) and the
    non-inferiority decision at ``margin``: how a report states one paired comparison."""
    lo, hi = bound_arrays(c.n10, c.n01, c.n11, 1.0 - (1.0 - confidence) / 2)
    return {"ratio": c.candidate_errors / c.baseline_errors if c.baseline_errors else None,
            "ratio_ci": [float(lo), float(hi)], "confidence": confidence,
            "noninferiority": ler_noninferiority(c, margin=margin, confidence=confidence).status}


def _ler(errors: int, shots: int, confidence: float) -> dict[str, Any]:
    from verifier.stats.binomial import clopper_pearson

    lo, hi = clopper_pearson(errors, shots, confidence)
    return {"errors": errors, "shots": shots, "ler": errors / shots if shots else None,
            "ler_ci": [lo, hi]}


def ler_noninferiority(c: PairedCounts, *, margin: float = DEFAULT_MARGIN,
                       confidence: float = CONFIDENCE, workload: str | None = None,
                       name: str = "ler_noninferiority") -> GateResult:
    """Non-inferiority of the candidate's logical error rate, on paired shots."""
    rb = ratio_bounds(c, confidence)
    status = _decision(c, margin, confidence, rb)
    limit = 1.0 + margin
    figures: dict[str, Any] = {
        "margin": margin, "confidence": confidence, "ratio_limit": limit,
        "shots": c.shots, **c.to_json(), "discordant": c.n10 + c.n01,
        "candidate": _ler(c.candidate_errors, c.shots, confidence),
        "baseline": _ler(c.baseline_errors, c.shots, confidence),
        "ler_ratio": rb.ratio, "ler_ratio_lower": rb.lower, "ler_ratio_upper": rb.upper,
        "test": "exact: Clopper-Pearson on n11/N and n10/(n10+n01), alpha split in halves",
    }
    ratio_txt = (f"LER ratio {rb.ratio:.3f}" if math.isfinite(rb.ratio) else "LER ratio n/a") + \
        f" (bounds {rb.lower:.3f}..{rb.upper:.3f} at {confidence:.0%})"
    if status == PASS:
        msg = f"non-inferior: {ratio_txt} < {limit:.3f}"
    elif status == FAIL:
        msg = f"worse beyond the margin: {ratio_txt} > {limit:.3f}"
    else:
        need = shots_to_decide(c, margin, confidence)
        figures["shots_to_decide"] = need
        msg = f"undecided: {ratio_txt} straddles {limit:.3f}; " + (
            f"about {need:,} shots would decide with {DECIDE_POWER:.0%} probability if the "
            "observed rates hold" if need else
            "the candidate sits on the margin: more shots will not decide")
    return GateResult(name, status, figures, msg, workload)


def latency(us_per_shot: float, us_per_shot_ci: tuple[float, float], *, budget_us: float,
            per: str = "shot", rounds: int | None = None, workload: str | None = None,
            ratio: float | None = None, ratio_ci: tuple[float, float] | None = None,
            max_ratio: float | None = None, timing: dict | None = None,
            name: str = "latency") -> GateResult:
    """The candidate's mean decode time per shot (or per round) against a budget in
    microseconds, and optionally its paired ratio to the baseline against ``max_ratio``;
    each with its interval (``verifier.workflows.paired_timing``): pass when the interval
    lies within the limit, fail when it lies beyond it, inconclusive when it straddles it."""
    if per not in ("shot", "round"):
        raise ValueError(per)
    if not (us_per_shot > 0):
        return GateResult(name, INCONCLUSIVE, {"measured_us": us_per_shot}, "no decode time measured", workload)
    div = rounds if per == "round" else 1
    measured, lo, hi = us_per_shot / div, us_per_shot_ci[0] / div, us_per_shot_ci[1] / div
    figures: dict[str, Any] = {"per": per, "budget_us": budget_us, "measured_us": measured,
                               "measured_us_ci": [lo, hi], "rounds": rounds, "timing": timing}
    statuses = [_limit_status(lo, hi, budget_us)]
    parts = [f"{measured:.3g} us per {per} [{lo:.3g}, {hi:.3g}] (budget {budget_us:g})"]
    if max_ratio is not None and ratio is not None and ratio_ci is not None:
        figures.update(ratio_to_baseline=ratio, ratio_ci=list(ratio_ci), max_ratio=max_ratio)
        statuses.append(_limit_status(ratio_ci[0], ratio_ci[1], max_ratio))
        parts.append(f"{ratio:.2f}x the baseline [{ratio_ci[0]:.2f}, {ratio_ci[1]:.2f}] (max {max_ratio:g}x)")
    status = combine([GateResult(name, st) for st in statuses])
    word = {PASS: "within budget: ", FAIL: "over budget: ", INCONCLUSIVE: "undecided: "}[status]
    load = (timing or {}).get("load") or {}
    if load.get("high"):
        parts.append(f"machine under load (load average {load.get('before')} on {load.get('cores')} cores)")
    return GateResult(name, status, figures, word + ", ".join(parts), workload)


def _limit_status(lo: float, hi: float, limit: float) -> str:
    if hi <= limit:
        return PASS
    if lo > limit:
        return FAIL
    return INCONCLUSIVE
