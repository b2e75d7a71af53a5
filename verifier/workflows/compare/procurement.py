"""The procurement figures of a comparison, per decoder: what it is worth in qubits
(``verifier.stats.projection``, from its ε_d at the lowest physical error rate of the
grid) and whether it keeps up with the QEC cycle in real time."""

from __future__ import annotations

import math
from typing import Any

from verifier.stats.epsilon import EpsilonPoint, estimate_epsilon, infer_convention
from verifier.stats.projection import TARGETS, project_qubits

DEFAULT_CYCLE_US = 1.0


def settings(cycle_time_us: float | None = None, targets=None) -> dict[str, Any]:
    from verifier.errors import UsageError

    cycle = DEFAULT_CYCLE_US if cycle_time_us is None else float(cycle_time_us)
    tg = tuple(float(t) for t in (targets or TARGETS))
    if not (cycle > 0 and math.isfinite(cycle)):
        raise UsageError(f"--cycle-time must be a positive number of microseconds, got {cycle_time_us}")
    if not tg or any(not (0 < t < 0.5) for t in tg):
        raise UsageError(f"--targets must be logical error rates per round in (0, 0.5), got {targets}")
    return {"cycle_time_us": cycle, "targets": list(tg)}


def qubits_per_logical(rows: list[dict[str, Any]], targets) -> dict[str, Any]:
    """The projection from one decoder's results at the grid's lowest p."""
    if not rows:
        return {"status": "refused", "message": "no results"}
    p = min(r["p"] for r in rows)
    pts = [EpsilonPoint(r["distance"], r["rounds"], r["shots"], r["errors"]) for r in rows if r["p"] == p]
    by_d: dict[int, list[EpsilonPoint]] = {}
    for q in pts:
        by_d.setdefault(q.distance, []).append(q)
    conv = infer_convention(pts)
    est = [estimate_epsilon(g, conv) for _, g in sorted(by_d.items())]
    proj = project_qubits([e.distance for e in est], [e.epsilon for e in est], [e.log_eps_var for e in est],
                          targets=targets)
    return {**proj, "p": p, "convention": conv}


def realtime(row: dict[str, Any] | None, *, cycle_time_us: float, environment: dict[str, Any],
             provider: str | None) -> dict[str, Any]:
    """The decoder's single-shot latency per round at the largest workload (``row``: its
    result there) against the declared QEC cycle, and the backlog that would build up."""
    lat = (row or {}).get("latency") or {}
    if not lat.get("shots"):
        return {"status": "not_measured", "cycle_time_us": cycle_time_us,
                "message": "no single-shot latency measured (--latency-shots 0)"}
    rounds = int(row.get("rounds") or 1)
    mean = float(lat.get("mean") or lat["p50"])
    batched = (row.get("shots_per_second") or 0.0) * rounds  # rounds per second, batched replay
    cycle_rate = 1e6 / cycle_time_us  # rounds the hardware produces per second
    backlog = max(0.0, cycle_rate * (1.0 - cycle_time_us / mean)) if mean > 0 else 0.0
    cpu = environment.get("cpu") or environment.get("machine") or "this machine"
    return {"status": "ok", "cycle_time_us": cycle_time_us, "distance": row.get("distance"), "rounds": rounds,
            "p50_us_per_round": lat.get("p50"), "p99_us_per_round": lat.get("p99"),
            "p999_us_per_round": lat.get("p999"), "mean_us_per_round": mean,
            "keeps_up_p99": bool(lat.get("p99") is not None and lat["p99"] <= cycle_time_us),
            "keeps_up_mean": mean <= cycle_time_us,
            "rounds_per_second_single_shot": 1e6 / mean if mean > 0 else None,
            "rounds_per_second_batched": batched, "cycle_rounds_per_second": cycle_rate,
            "backlog_rounds_per_second": backlog,
            "measured_on": f"{cpu}, onnxruntime provider {provider or 'cpu'}",
            "note": ("measured on this machine's CPU, one shot at a time; the deployment target "
                     "(an FPGA, a GPU, another CPU) may be much faster or slower")}
