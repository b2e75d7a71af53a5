"""What the run loop hands back: one :class:`TaskResult` per task (decoder x workload),
gathered in a :class:`SweepResult`, with the JSON each one is printed as."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from verifier.hashing import sha256_bytes
from verifier.qec.workload import QecWorkload
from verifier.stats.binomial import CONFIDENCE, Stats, clopper_pearson, per_round

if TYPE_CHECKING:
    from verifier.qec.grid import SweepSpec

ProgressFn = Callable[[Stats, int], None]  # (stats so far, shots in all)
SweepProgressFn = Callable[[Stats, int, int, int], None]  # (all stats, total shots, tasks done, tasks)


def task_id(fp: str, workload: QecWorkload) -> str:
    """Task = decoder fingerprint x workload stream (what the store's blocks are keyed by)."""
    return sha256_bytes(f"{fp}:{workload.stream_id}".encode())


@dataclass
class TaskResult:
    decoder_name: str
    fingerprint: str
    model_sha256: str | None
    workload: QecWorkload
    stats: Stats
    reused_shots: int = 0
    run_id: str | None = None
    figures: dict = field(default_factory=dict)

    @property
    def ler_ci(self) -> tuple[float, float]:
        return clopper_pearson(self.stats.errors, self.stats.shots)

    @property
    def ler_per_round(self) -> float | None:
        return per_round(self.stats.ler, self.workload.rounds)

    def result_row(self, **figures) -> dict:
        """The task's row of the store's ``results`` table (written by ``Store.record_blocks_many``)."""
        s = self.stats
        return {"fingerprint": self.fingerprint, "workload_id": self.workload.id, "shots": s.shots,
                "errors": s.errors, "seconds": s.seconds, "ler": s.ler, "ler_ci": self.ler_ci,
                "ler_per_round": self.ler_per_round, "shots_per_second": s.shots_per_second,
                "figures": {"decoder": self.decoder_name, **figures, "reused_shots": self.reused_shots}}

    def sweep_row(self) -> dict:
        """:meth:`result_row` of a sweep point: its grid coordinates in ``figures``."""
        w = self.workload
        return self.result_row(sweep=True, distance=w.distance, rounds=w.rounds, p=getattr(w, "p", None))

    def to_json(self) -> dict:
        s = self.stats
        lo, hi = self.ler_ci
        return {
            "decoder": self.decoder_name,
            "fingerprint": self.fingerprint,
            "model_sha256": self.model_sha256,
            "workload_id": self.workload.id,
            "workload": self.workload.spec(),
            "shots": s.shots,
            "errors": s.errors,
            "ler": s.ler,
            "ler_ci": [lo, hi],
            "ler_ci_confidence": CONFIDENCE,
            "ler_per_round": self.ler_per_round,
            "rounds": self.workload.rounds,
            "shots_per_second": s.shots_per_second,
            "seconds": s.seconds,
            "sample_seconds": s.sample_seconds,
            "reused_shots": self.reused_shots,
            "run_id": self.run_id,
            **self.figures,
        }


@dataclass
class SweepResult:
    decoder_name: str
    fingerprint: str
    spec: "SweepSpec | None"
    points: list[TaskResult]
    run_id: str | None = None
    seconds: float = 0.0  # wall time of the whole sweep
    ran_shots: int = 0
    reused_shots: int = 0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"decoder": self.decoder_name, "fingerprint": self.fingerprint,
                "sweep": self.spec.to_json() if self.spec else None, "run_id": self.run_id,
                "wall_seconds": self.seconds, "ran_shots": self.ran_shots,
                "reused_shots": self.reused_shots,
                "points": [point_json(r) for r in self.points], **self.extra}


def point_json(r: TaskResult) -> dict:
    from verifier.stats.suppression import epsilon_interval

    w = r.workload
    lo, hi = r.ler_ci
    eps = r.ler_per_round
    elo, ehi = epsilon_interval(r.stats.errors, r.stats.shots, w.rounds) if w.rounds else (None, None)
    return {"distance": w.distance, "rounds": w.rounds, "p": getattr(w, "p", None),
            "basis": w.basis, "noise": getattr(w, "noise", None), "seed": getattr(w, "seed", None),
            "shots": r.stats.shots, "errors": r.stats.errors, "ler": r.stats.ler,
            "ler_ci": [lo, hi], "ler_per_round": eps, "ler_per_round_ci": [elo, ehi],
            "seconds": r.stats.seconds, "reused_shots": r.reused_shots,
            "workload_id": w.id, "task_id": task_id(r.fingerprint, w),
            **({"member": r.figures["member"]} if "member" in r.figures else {})}
