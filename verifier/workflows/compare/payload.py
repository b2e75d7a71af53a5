"""The comparison payload: one JSON-able dict with every figure a report needs, and its
summary (one ranked row per decoder). Renderers in ``reports/`` read only this."""

from __future__ import annotations

import math
from typing import Any

from verifier.stats.binomial import CONFIDENCE, clopper_pearson
from verifier.stats.projection import qubits_saved
from verifier.workflows.compare.details import regenerate_command
from verifier.workflows.compare.fits import threshold_and_lambda
from verifier.workflows.compare.paired import ALPHA, VERDICTS, candidate_verdict
from verifier.workflows.compare.procurement import qubits_per_logical, realtime, settings

PAYLOAD_SCHEMA = "sov.compare/1"


def now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def header(run, *, elapsed: float | None, baseline: str | None, sweep: dict | None) -> dict[str, Any]:
    """The payload's first keys, in the order every stored payload has them."""
    return {"schema": PAYLOAD_SCHEMA, "run_id": run.run_id, "db": run.store.path, "created_at": now_iso(),
            "elapsed_seconds": elapsed, "confidence": CONFIDENCE, "alpha": ALPHA, "baseline": baseline,
            "sweep": sweep}


def workload_entry(w) -> dict[str, Any]:
    return {"id": w.id, "stream_id": w.stream_id, "distance": w.distance, "rounds": w.rounds, "p": float(w.p),
            "noise": w.noise, "basis": w.basis, "shots": w.shots, "seed": w.seed, "spec": w.spec(),
            "description": w.describe(), "num_detectors": w.num_detectors, "command": regenerate_command(w)}


def _log_ratios(key: str, base: str, by: dict, wids: list[str]) -> list[float]:
    logs = []
    for wid in wids:
        a, b = by.get((key, wid)), by.get((base, wid))
        if a and b and a["shots"] and b["shots"]:
            # +0.5 continuity keeps a zero-error workload finite
            logs.append(math.log(((a["errors"] + 0.5) / a["shots"]) / ((b["errors"] + 0.5) / b["shots"])))
    return logs


def _summary_row(d: dict[str, Any], payload: dict[str, Any], by: dict, largest: dict | None) -> dict[str, Any]:
    base = payload["baseline"]
    mine = [r for r in payload["results"] if r["decoder"] == d["key"]]
    shots = sum(r["shots"] for r in mine)
    errors = sum(r["errors"] for r in mine)
    seconds = sum(r["seconds"] for r in mine)
    logs = _log_ratios(d["key"], base, by, [w["id"] for w in payload["workloads"]])
    ratio = math.exp(sum(logs) / len(logs)) if logs else None
    labels = {w["id"]: f"d={w['distance']} p={w['p']:g}" for w in payload["workloads"]}
    paired = candidate_verdict([p for p in payload["paired"] if p["decoder"] == d["key"]], labels,
                               alpha=payload.get("alpha", ALPHA))
    best = _vs_best_open(d["key"], payload, labels)
    head = by.get((d["key"], largest["id"])) if largest else None
    lat = (head or {}).get("latency") or {}
    th = threshold_and_lambda(mine) if mine else {}
    smallest = min((w["distance"] for w in payload["workloads"]), default=None)
    if paired and any(r["label"].startswith(f"d={smallest} ") for r in paired.get("per_workload", [])
                      if r["significant"] and r["only_candidate_fails"] > r["only_baseline_fails"]):
        th["note"] = ((th.get("note") or "") + " Λ caveat: its LER at the smallest distance is significantly "
                      "worse than the baseline's, which makes Λ look better than the decoder is.").strip()
    lo, hi = clopper_pearson(errors, shots, CONFIDENCE) if shots else (None, None)
    return {
        "decoder": d["key"], "label": d["label"], "baseline": d["baseline"],
        "model_sha256": d["model_sha256"], "integrity_failure": d["integrity_failure"],
        "shots": shots, "errors": errors, "pooled_ler": errors / shots if shots else None,
        "pooled_ler_ci": [lo, hi], "ratio_to_baseline": 1.0 if d["key"] == base else ratio,
        "paired": None if d["key"] == base else paired,
        "verdict": "reference" if d["key"] == base else (paired or {}).get("verdict"),
        "vs_best_open": best,
        "latency_workload": largest["id"] if largest else None,
        "latency_p50": lat.get("p50"), "latency_p99": lat.get("p99"), "latency_p999": lat.get("p999"),
        "throughput": shots / seconds if seconds > 0 else None,
        "threshold": th.get("threshold"), "threshold_ci": th.get("threshold_ci"),
        "threshold_fit": th.get("threshold_fit"), "lambda": th.get("lambda"), "lambda_ci": th.get("lambda_ci"),
        "lambda_p": th.get("lambda_p"), "lambda_by_p": th.get("lambda_by_p"), "threshold_note": th.get("note"),
        **_procurement(d, mine, head, payload),
    }


def _vs_best_open(key: str, payload: dict[str, Any], labels: dict[str, str]) -> dict[str, Any] | None:
    """The candidate's verdict against the best open decoder of each workload (fewest
    failures on its shots); None when no other open decoder beat the baseline anywhere."""
    rows = [p for p in payload.get("paired_best_open") or [] if p["decoder"] == key]
    if not rows:
        return None
    covered = {p["workload_id"] for p in rows}
    rows += [p for p in payload["paired"] if p["decoder"] == key and p["workload_id"] not in covered]
    v = candidate_verdict(rows, labels, alpha=payload.get("alpha", ALPHA))
    names = {d["key"]: d["label"] for d in payload["decoders"]}
    best = payload.get("best_open") or {}
    if v is not None:
        v["best_open"] = {labels.get(wid, wid): names.get(fp, fp) for wid, fp in best.items()}
    return v


def _procurement(d: dict[str, Any], mine: list[dict[str, Any]], head: dict[str, Any] | None,
                 payload: dict[str, Any]) -> dict[str, Any]:
    proc = payload.get("procurement") or settings()
    provider = (d.get("fingerprint_spec") or {}).get("provider")
    return {"qubits_per_logical": qubits_per_logical(mine, proc["targets"]),
            "realtime": realtime(head, cycle_time_us=proc["cycle_time_us"],
                                 environment=payload.get("environment") or {}, provider=provider)}


def summarize(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per decoder: the baseline first, as the reference (not ranked), then the
    candidates ranked by their verdict (better, non-inferior, inconclusive, worse), then by
    the geometric mean LER ratio to the baseline (ties: errors)."""
    by = {(r["decoder"], r["workload_id"]): r for r in payload["results"]}
    wls = payload["workloads"]
    largest = max(wls, key=lambda w: (w["distance"], w["p"])) if wls else None
    rows = [_summary_row(d, payload, by, largest) for d in payload["decoders"]]
    order = {v: i for i, v in enumerate(VERDICTS)}
    rows.sort(key=lambda r: (r["decoder"] != payload["baseline"], r["integrity_failure"] is not None,
                             order.get(r["verdict"], len(order)), r["ratio_to_baseline"] is None,
                             r["ratio_to_baseline"] if r["ratio_to_baseline"] is not None else 0.0,
                             r["errors"]))
    base_row = next((r for r in rows if r["decoder"] == payload["baseline"]), None)
    for r in rows:
        if base_row is not None and r is not base_row:
            r["qubits_saved"] = qubits_saved(r["qubits_per_logical"], base_row["qubits_per_logical"])
    for r in rows:  # the draws served the paired differences; the report keeps the intervals
        for t in (r["qubits_per_logical"].get("targets") or {}).values():
            t.pop("qubits_draws", None)
    k = 0
    for r in rows:
        if r["decoder"] == payload["baseline"]:
            r["rank"] = None
        else:
            k += 1
            r["rank"] = k
    return rows
