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


def record_signature(store: "Store", signer: dict[str, Any]) -> None:
    """Record a verified signature (``adapters.provenance.Signer.to_json()``) with its model;
    verifying the same signature again keeps the first record."""
    from verifier.store.db import now
    from verifier.store.rows import insert

    with store.connect() as con:
        insert(con, "model_signatures",
               {"model_sha256": signer["model_sha256"], "signature_sha256": signer["signature_sha256"],
                "identity": signer["identity"], "method": signer["method"], "signer": signer,
                "tool": signer.get("tool"), "verified_at": now()},
               on_conflict="DO NOTHING")


def model_signatures(store: "Store | None", model_sha256: str) -> list[dict[str, Any]]:
    """The verified signers of this model file, the first verified first (empty when the
    store does not exist yet or predates the table)."""
    if store is None or not Path(store.path).exists():
        return []
    if not store.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'model_signatures'"):
        return []
    rows = store.query("SELECT identity, method, signer, tool, verified_at FROM model_signatures "
                       "WHERE model_sha256 = ? ORDER BY verified_at", [model_sha256])
    return [{**json.loads(signer), "identity": identity, "method": method, "tool": tool,
             "verified_at": str(at)} for identity, method, signer, tool, at in rows]
