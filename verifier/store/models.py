"""Queries on what the store knows about a model file (by its sha256): the results of
every decoder built on it, for ``sov models bom``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier.store.db import Store


def model_evaluations(store: "Store | None", model_sha256: str) -> list[dict[str, Any]]:
    """Every recorded result of a decoder built on this model, newest first (empty when the
    store does not exist yet)."""
    if store is None or not Path(store.path).exists():
        return []
    rows = store.query(
        "SELECT r.workload_id, w.kind, w.spec, w.description, r.shots, r.errors, r.ler, r.ler_lo, "
        "r.ler_hi, r.run_id, r.recorded_at, r.fingerprint, d.name "
        "FROM results r JOIN decoders d ON d.fingerprint = r.fingerprint "
        "LEFT JOIN workloads w ON w.workload_id = r.workload_id "
        "WHERE d.model_sha256 = ? ORDER BY r.recorded_at DESC", [model_sha256])
    out = []
    for (wid, kind, spec, desc, shots, errors, ler, lo, hi, run_id, at, fp, name) in rows:
        out.append({"workload_id": wid, "kind": kind, "spec": json.loads(spec) if spec else None,
                    "description": desc, "shots": int(shots), "errors": int(errors), "ler": ler,
                    "ler_ci": [lo, hi], "run_id": run_id, "recorded_at": str(at),
                    "fingerprint": fp, "decoder": name})
    return out
