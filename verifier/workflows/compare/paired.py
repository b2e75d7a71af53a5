"""Candidate against baseline on the *same shots*, per workload: the exact McNemar test over
the per-shot failures the store holds for both decoders, the paired LER ratio with its
exact interval and the non-inferiority decision at the policy margin
(``verifier.gates.gate``); and one verdict per candidate from those (:func:`candidate_verdict`).

A pooled test over a candidate's workloads would be dominated by its high-LER workloads and
could hide a regression at low p, so none is made: each workload is tested on its own,
Holm-adjusted across that candidate's workloads, and the candidate's summary is its worst
significant result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from verifier.gates.gate import DEFAULT_MARGIN, FAIL, PASS, PairedCounts, paired_ratio
from verifier.qec.workload import QecWorkload
from verifier.stats.binomial import CONFIDENCE
from verifier.stats.drift import holm

if TYPE_CHECKING:
    from verifier.store.db import Store

ALPHA = 0.05


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: ``b`` and ``c`` are the discordant counts."""
    n = b + c
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(min(b, c), n, 0.5, alternative="two-sided").pvalue)


def paired_test(store: "Store", baseline_fp: str, candidate_fp: str, workload: QecWorkload) -> dict[str, Any]:
    """Exact McNemar test of a candidate against the baseline on the same shots."""
    try:
        counts = PairedCounts.from_packed_blocks(store.block_failures(candidate_fp, workload.stream_id),
                                                 store.block_failures(baseline_fp, workload.stream_id),
                                                 [(b.index, b.shots) for b in workload.blocks()])
    except KeyError:  # a block one of the two never recorded
        return {"workload_id": workload.id, "available": False}
    only_cand, only_base = counts.n10, counts.n01  # the candidate fails where the baseline succeeds, and back
    return {"workload_id": workload.id, "available": True, "shots": counts.shots, "both_fail": counts.n11,
            "only_candidate_fails": only_cand, "only_baseline_fails": only_base,
            "p_value": mcnemar_exact(only_cand, only_base),
            "verdict": paired_verdict(only_cand, only_base),
            **paired_ratio(counts, margin=DEFAULT_MARGIN, confidence=CONFIDENCE)}


def paired_verdict(only_cand: int, only_base: int, alpha: float = ALPHA) -> str:
    if only_cand == only_base == 0:
        return "identical"
    if mcnemar_exact(only_cand, only_base) >= alpha:
        return "no significant difference"
    return "better" if only_base > only_cand else "worse"


VERDICTS = ("better", "non-inferior", "inconclusive", "worse")  # best first: the ranking order


def candidate_verdict(paired: list[dict[str, Any]], labels: dict[str, str], *, alpha: float = ALPHA,
                      margin: float = DEFAULT_MARGIN) -> dict[str, Any] | None:
    """One verdict for a candidate against the baseline from its per-workload paired tests:

    * ``worse``: on some workload its LER is shown worse than the baseline's beyond the
      margin (the non-inferiority test fails there);
    * ``better``: non-inferior on every workload and significantly better (Holm-adjusted
      McNemar) on at least one, significantly worse on none;
    * ``non-inferior``: non-inferior on every workload;
    * ``inconclusive``: otherwise (more shots would decide).

    ``deciding`` is its worst significant result (or, with none, its best one; or the
    workload closest to failing), with the workload's label, ratio and interval."""
    pr = [p for p in paired if p.get("available")]
    if not pr:
        return None
    adjusted, reject = holm([p["p_value"] for p in pr], alpha)
    rows = [{**p, "p_holm": a, "significant": r, "label": labels.get(p["workload_id"], p["workload_id"][:12])}
            for p, a, r in zip(pr, adjusted, reject)]
    worse = [r for r in rows if r["significant"] and r["only_candidate_fails"] > r["only_baseline_fails"]]
    better = [r for r in rows if r["significant"] and r["only_baseline_fails"] > r["only_candidate_fails"]]
    ni = [r["noninferiority"] for r in rows]
    if FAIL in ni:
        verdict = "worse"
    elif all(s == PASS for s in ni):
        verdict = "better" if better and not worse else "non-inferior"
    else:
        verdict = "inconclusive"
    ratio = lambda r: r["ratio"] if r["ratio"] is not None else float("inf")  # noqa: E731
    if worse:
        deciding = max(worse, key=ratio)
    elif better:
        deciding = min(better, key=ratio)
    else:
        deciding = max(rows, key=lambda r: r["ratio_ci"][1])
    identical = all(r["only_candidate_fails"] == r["only_baseline_fails"] == 0 for r in rows)
    return {"verdict": verdict, "identical": identical, "margin": margin, "alpha": alpha,
            "correction": "holm", "workloads": len(rows),
            "significantly_worse": [r["label"] for r in worse], "significantly_better": [r["label"] for r in better],
            "deciding": {k: deciding[k] for k in ("label", "workload_id", "ratio", "ratio_ci", "p_value",
                                                   "p_holm", "only_candidate_fails", "only_baseline_fails",
                                                   "noninferiority")},
            "only_candidate_fails": sum(r["only_candidate_fails"] for r in rows),
            "only_baseline_fails": sum(r["only_baseline_fails"] for r in rows),
            "p_value": deciding["p_holm"], "per_workload": rows}
