"""Candidate against baseline on the *same shots*: the exact McNemar test over the per-shot
failures the store holds for both decoders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from verifier.qec.workload import QecWorkload

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


def _bits(blobs: dict[tuple[int, int], bytes], blocks) -> np.ndarray | None:
    parts = []
    for b in blocks:
        blob = blobs.get((b.index, b.shots))
        if blob is None:
            return None
        parts.append(np.unpackbits(np.frombuffer(blob, dtype=np.uint8), count=b.shots,
                                   bitorder="little").astype(bool))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def paired_test(store: "Store", baseline_fp: str, candidate_fp: str, workload: QecWorkload) -> dict[str, Any]:
    """Exact McNemar test of a candidate against the baseline on the same shots."""
    base = _bits(store.block_failures(baseline_fp, workload.stream_id), workload.blocks())
    cand = _bits(store.block_failures(candidate_fp, workload.stream_id), workload.blocks())
    if base is None or cand is None:
        return {"workload_id": workload.id, "available": False}
    only_cand = int(np.count_nonzero(cand & ~base))  # candidate fails where the baseline succeeds
    only_base = int(np.count_nonzero(base & ~cand))
    both = int(np.count_nonzero(cand & base))
    return {"workload_id": workload.id, "available": True, "shots": int(base.size), "both_fail": both,
            "only_candidate_fails": only_cand, "only_baseline_fails": only_base,
            "p_value": mcnemar_exact(only_cand, only_base),
            "verdict": paired_verdict(only_cand, only_base)}


def paired_verdict(only_cand: int, only_base: int, alpha: float = ALPHA) -> str:
    if only_cand == only_base == 0:
        return "identical"
    if mcnemar_exact(only_cand, only_base) >= alpha:
        return "no significant difference"
    return "better" if only_base > only_cand else "worse"


def pooled(paired: list[dict[str, Any]], alpha: float = ALPHA) -> dict[str, Any] | None:
    """The same test pooled over a candidate's workloads (None when none could be paired)."""
    pr = [p for p in paired if p.get("available")]
    if not pr:
        return None
    oc = sum(p["only_candidate_fails"] for p in pr)
    ob = sum(p["only_baseline_fails"] for p in pr)
    return {"only_candidate_fails": oc, "only_baseline_fails": ob, "p_value": mcnemar_exact(oc, ob),
            "verdict": paired_verdict(oc, ob, alpha), "workloads": len(pr)}
