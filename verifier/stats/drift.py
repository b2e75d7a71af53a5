"""The tests behind drift checks (see ``verifier.workflows.drift`` for how they are used).

* **LER**: exact conditional test of equal rates between the new check (``x`` errors in
  ``n`` shots) and the pooled history (``E`` errors in ``N`` shots): under equal rates
  ``x | x + E ~ Binomial(x + E, n / (n + N))``; two-sided exact p-value (scipy
  ``binomtest``). The history's own uncertainty is therefore accounted for;
* **latency**: mean decode time per shot, on a log scale, against the history's checks
  (at least 3): a Student-t prediction interval, ``t = (log x - mean) / (s sqrt(1 + 1/k))``
  with ``k - 1`` degrees of freedom;
* **Holm**'s step-down procedure corrects every p-value of one invocation together;
* a **yearly false-alarm budget** (:class:`FalseAlarmBudget`) controls false alarms across
  repeated checks: Holm alone holds within one invocation, and a daily check at 1 %
  raises a false alarm most years. Each check spends ``alpha = budget * every / year``
  (alpha-spending at a declared cadence: by the union bound, a year's checks of an
  unchanged model raise at least one false alarm with probability at most ``budget``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_LATENCY_HISTORY = 3
YEAR_SECONDS = 365.25 * 86400
DEFAULT_BUDGET = 0.05  # false alarms per year
DEFAULT_EVERY_SECONDS = 86400  # checks run daily unless declared otherwise


@dataclass(frozen=True)
class FalseAlarmBudget:
    """At most ``per_year`` probability of any false alarm in a year of checks run every
    ``every_seconds``."""

    per_year: float = DEFAULT_BUDGET
    every_seconds: float = DEFAULT_EVERY_SECONDS

    @property
    def checks_per_year(self) -> float:
        return YEAR_SECONDS / self.every_seconds

    @property
    def alpha(self) -> float:
        """The family-wise level one check spends (Holm over its tests)."""
        return min(self.per_year, self.per_year / self.checks_per_year)

    def to_json(self) -> dict:
        return {"false_alarms_per_year": self.per_year, "every_seconds": self.every_seconds,
                "checks_per_year": self.checks_per_year, "alpha_per_check": self.alpha}


def ler_p_value(x: int, n: int, hist_errors: int, hist_shots: int) -> float:
    """Two-sided exact conditional test of equal binomial rates (new vs pooled history)."""
    if n <= 0 or hist_shots <= 0 or x + hist_errors == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(x, x + hist_errors, n / (n + hist_shots)).pvalue)


def latency_p_value(x: float, history: list[float]) -> float | None:
    """Two-sided Student-t prediction p-value of ``log x`` against ``log history``."""
    vals = [math.log(v) for v in history if v > 0]
    if len(vals) < MIN_LATENCY_HISTORY or x <= 0:
        return None
    from scipy.stats import t as student

    k = len(vals)
    mean = sum(vals) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (k - 1))
    sd = max(sd, 0.02)  # floor: timing repeatability is never better than ~2 %
    tstat = (math.log(x) - mean) / (sd * math.sqrt(1 + 1 / k))
    return float(2 * student.sf(abs(tstat), k - 1))


def holm(p_values: list[float], alpha: float) -> tuple[list[float], list[bool]]:
    """Holm step-down: adjusted p-values and rejections at family-wise level ``alpha``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted, [a <= alpha for a in adjusted]
