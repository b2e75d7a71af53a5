"""What one ``sov drift check`` found: per series, per watched model, and for the whole
invocation (``verifier.workflows.drift`` fills these in)."""

from __future__ import annotations

from dataclasses import dataclass, field

from verifier.errors import IntegrityError, ResourceLimit, SovError
from verifier.stats.drift import FalseAlarmBudget
from verifier.store.watch import Watched


@dataclass
class SeriesCheck:
    series: str
    workload_id: str | None = None
    seed: int | None = None
    shots: int = 0
    errors: int = 0
    seconds: float = 0.0
    history_checks: int = 0
    history_shots: int = 0
    history_errors: int = 0
    history_latency_us: list[float] = field(default_factory=list)
    ler_p: float | None = None
    ler_p_adjusted: float | None = None
    latency_p: float | None = None
    latency_note: str | None = None  # why latency was not judged (machine under load)
    latency_p_adjusted: float | None = None
    ler_drift: bool = False
    latency_drift: bool = False
    latency_confirm_us: float | None = None  # the second timing a latency alarm was checked against
    error: str | None = None
    signature: dict | None = None  # calibration models: what the model returned
    cal_shift: dict | None = None  # calibration models: compare_signatures(history, now)
    cal_drift: bool = False
    failure: SovError | None = field(default=None, repr=False, compare=False)  # why it cannot run

    @property
    def integrity(self) -> bool:
        """The model failed an integrity check on this series (NaN outputs, unsafe file, ...)."""
        return isinstance(self.failure, IntegrityError)

    @property
    def error_kind(self) -> str | None:  # integrity | resource | error (None: it ran)
        return self.error and ("integrity" if self.integrity else
                               "resource" if isinstance(self.failure, ResourceLimit) else "error")

    @property
    def ler(self) -> float | None:
        return self.errors / self.shots if self.shots else None

    @property
    def history_ler(self) -> float | None:
        return self.history_errors / self.history_shots if self.history_shots else None

    @property
    def latency_us(self) -> float | None:
        return self.seconds / self.shots * 1e6 if self.shots and self.seconds > 0 else None

    @property
    def history_latency_median_us(self) -> float | None:
        h = sorted(self.history_latency_us)
        return h[len(h) // 2] if h else None

    def to_json(self) -> dict:
        from verifier.stats.binomial import clopper_pearson

        d = {k: getattr(self, k) for k in ("series", "workload_id", "seed", "shots", "errors",
                                          "history_checks", "history_shots", "history_errors",
                                          "ler_p", "ler_p_adjusted", "latency_p", "latency_note",
                                          "latency_p_adjusted", "ler_drift", "latency_drift", "error",
                                          "error_kind", "signature", "cal_shift", "cal_drift",
                                          "latency_confirm_us")}
        d.update(ler=self.ler, ler_ci=list(clopper_pearson(self.errors, self.shots)) if self.shots else None,
                 history_ler=self.history_ler, latency_us=self.latency_us,
                 history_latency_median_us=self.history_latency_median_us)
        return d


@dataclass
class ModelCheck:
    watched: Watched
    sha256_now: str | None
    series: list[SeriesCheck] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def hash_changed(self) -> bool:
        return self.sha256_now != self.watched.sha256

    @property
    def drift(self) -> bool:
        return self.hash_changed or any(s.ler_drift or s.latency_drift or s.cal_drift or s.error
                                        for s in self.series)

    @property
    def integrity(self) -> bool:
        """The model now fails an integrity check: reported as such (exit 4), not as drift."""
        return any(s.integrity for s in self.series)

    @property
    def status(self) -> str:
        return "integrity" if self.integrity else ("drift" if self.drift else "ok")

    @property
    def exit_code(self) -> int:
        return 4 if self.integrity else (1 if self.drift else 0)

    def to_json(self) -> dict:
        return {"name": self.watched.name, "path": self.watched.path, "status": self.status,
                "sha256_expected": self.watched.sha256, "sha256_now": self.sha256_now,
                "hash_changed": self.hash_changed, "findings": self.findings,
                "series": [s.to_json() for s in self.series]}


@dataclass
class DriftReport:
    models: list[ModelCheck]
    alpha: float
    latency_tolerance: float
    run_id: str | None = None
    budget: FalseAlarmBudget | None = None  # None: an explicit alpha
    evidence: list[dict] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(m.drift for m in self.models)

    @property
    def exit_code(self) -> int:  # 4 when a model now fails integrity, else 1 on drift
        return max((m.exit_code for m in self.models), default=0)

    @property
    def status(self) -> str:
        return {4: "integrity", 1: "drift"}.get(self.exit_code, "ok")

    def to_json(self) -> dict:
        return {"status": self.status, "exit_code": self.exit_code,
                "alpha": self.alpha, "correction": "holm", "latency_tolerance": self.latency_tolerance,
                "budget": self.budget.to_json() if self.budget else None,
                "run_id": self.run_id, "models": [m.to_json() for m in self.models],
                "evidence_hashes": [e["hash"]["value"] for e in self.evidence]}


def findings_of(s: SeriesCheck) -> list[str]:
    out = []
    if s.error:
        what = "integrity failure" if s.integrity else "cannot run"
        out.append(f"{s.series}: {what}: {s.error}")
    if s.cal_drift:
        shifts = ", ".join(f"{k}: {v.get('max_rel_shift', v) if isinstance(v, dict) else v:.3g}"
                           for k, v in (s.cal_shift or {}).get("shift", {}).items())
        out.append(f"{s.series}: calibration output shift on the reference data ({shifts})")
    if s.ler_drift:
        out.append(f"{s.series}: LER shift: {s.errors}/{s.shots} = {s.ler:.3e} vs history "
                   f"{s.history_errors}/{s.history_shots} = {s.history_ler:.3e} "
                   f"(p = {s.ler_p:.2g}, Holm-adjusted {s.ler_p_adjusted:.2g})")
    if s.latency_drift:
        out.append(f"{s.series}: latency shift: {s.latency_us:.3g} us/shot vs history median "
                   f"{s.history_latency_median_us:.3g} (p = {s.latency_p:.2g}, "
                   f"Holm-adjusted {s.latency_p_adjusted:.2g})")
    return out
