"""Candidate and baseline timed together: what the latency gate of ``sov accept`` decides on.

The replays' own decode times are wall-clock per block, taken minutes apart and under
whatever else the machine ran at those moments: under load a decoder's wall time per shot
was observed at 11-14x its CPU time, and two workloads whose cost differs 3.4x recorded
the same time per shot. A ratio of two such figures says little. :func:`time_pair`
therefore decodes the same chunk of shots with both decoders, alternately (candidate
first in even repetitions, baseline first in odd ones, so a slow drift of the machine
cannot favour one), ``repeats`` times, and keeps wall and CPU time of every call.

Figures, each with a Student-t interval over the repetitions (``confidence``):

* the candidate's mean wall time per shot (what a budget is about), and its CPU time;
* the paired ratio candidate / baseline: the geometric mean of the per-repetition ratios,
  its interval from the t-interval of their logarithms.

CPU time is this process's (``time.process_time``): a model running in the sandbox spends
its CPU in the sandbox's process, so for sandboxed models the CPU column covers sov's side
of the call and the wall column is the one to read. The load average before and after is
kept with the figures and flagged when it exceeds the cores.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from verifier.environment import load_now
from verifier.qec.decoder import transport_seconds
from verifier.stats.binomial import CONFIDENCE

REPEATS = 15
CHUNK_SHOTS = 2048


@dataclass(frozen=True)
class PairedTiming:
    shots: int  # shots per timed call
    repeats: int
    candidate_wall_us: tuple[float, ...]  # per shot, one value per repetition
    baseline_wall_us: tuple[float, ...]
    candidate_cpu_us: tuple[float, ...]
    baseline_cpu_us: tuple[float, ...]
    confidence: float = CONFIDENCE
    load: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return float(math.exp(np.mean(self._log_ratios())))

    def ratio_ci(self) -> tuple[float, float]:
        lo, hi = _t_interval(self._log_ratios(), self.confidence)
        return float(math.exp(lo)), float(math.exp(hi))

    def candidate_us(self) -> float:
        return float(np.mean(self.candidate_wall_us))

    def candidate_us_ci(self) -> tuple[float, float]:
        return _t_interval(np.asarray(self.candidate_wall_us), self.confidence)

    def _log_ratios(self) -> np.ndarray:
        c, b = np.asarray(self.candidate_wall_us), np.asarray(self.baseline_wall_us)
        return np.log(np.maximum(c, 1e-9) / np.maximum(b, 1e-9))

    @property
    def high_load(self) -> bool:
        return bool(self.load.get("high"))

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.ratio_ci()
        clo, chi = self.candidate_us_ci()
        return {"method": "interleaved, paired", "shots_per_call": self.shots, "repeats": self.repeats,
                "confidence": self.confidence,
                "candidate_wall_us_per_shot": self.candidate_us(), "candidate_wall_us_ci": [clo, chi],
                "baseline_wall_us_per_shot": float(np.mean(self.baseline_wall_us)),
                "candidate_cpu_us_per_shot": float(np.mean(self.candidate_cpu_us)),
                "baseline_cpu_us_per_shot": float(np.mean(self.baseline_cpu_us)),
                "ratio": self.ratio, "ratio_ci": [lo, hi], "load": self.load}


def _t_interval(x: np.ndarray, confidence: float) -> tuple[float, float]:
    from scipy.stats import t as student

    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    if x.size < 2:
        return (m, m)
    half = float(student.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return (m - half, m + half)


def _timed(compiled, dets: np.ndarray) -> tuple[float, float]:
    """(wall, cpu) seconds of one call, sandbox transport taken out of the wall time."""
    before = transport_seconds(compiled)
    w0, c0 = time.perf_counter(), time.process_time()
    compiled.decode_packed(dets)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    moved = transport_seconds(compiled) - before
    return max(wall - max(moved, 0.0), 0.0), cpu


def time_pair(candidate, baseline, dets: np.ndarray, *, repeats: int = REPEATS,
              confidence: float = CONFIDENCE,
              progress: Callable[[int, int], None] | None = None) -> PairedTiming:
    """Time two compiled decoders on the same bit-packed ``dets``, interleaved.
    ``progress(shots timed, total)`` after each pair of timed calls, never inside one."""
    n = int(dets.shape[0])
    before = load_now()
    candidate.decode_packed(dets)  # warm both: first calls pay for allocation and caches
    baseline.decode_packed(dets)
    out: dict[str, list[float]] = {"cw": [], "bw": [], "cc": [], "bc": []}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            order = ((candidate, "c"), (baseline, "b")) if r % 2 == 0 else ((baseline, "b"), (candidate, "c"))
            for compiled, who in order:
                wall, cpu = _timed(compiled, dets)
                out[who + "w"].append(wall * 1e6 / n)
                out[who + "c"].append(cpu * 1e6 / n)
            if progress is not None:
                progress((r + 1) * 2 * n, repeats * 2 * n)
    finally:
        if gc_was:
            gc.enable()
    after = load_now()
    load = {"before": before["load_average"], "after": after["load_average"], "cores": after["cores"],
            "high": before["high"] or after["high"]}
    return PairedTiming(n, repeats, tuple(out["cw"]), tuple(out["bw"]), tuple(out["cc"]),
                        tuple(out["bc"]), confidence, load)
