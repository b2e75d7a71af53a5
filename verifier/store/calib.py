"""The calibration tables: ``cal_results`` (one row per model on a simulated workload or
a replayed Qibocal action) and ``cal_signatures`` (drift signatures on the fixed
reference data set). JSON columns are passed as text, serialized by the caller, so the
stored text is the one the caller's ``--json`` shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verifier.store.db import Store, now
from verifier.store.rows import insert


def insert_result(store: Store, *, run_id: str | None, model: str, fingerprint: str, model_sha256: str | None,
                  experiment: str, workload_id: str, workload: str, source: str, repeats: int, failures: int,
                  seconds: float | None, figures: str, estimates: bytes) -> None:
    with store.connect() as con:
        insert(con, "cal_results", {
            "run_id": run_id, "model": model, "fingerprint": fingerprint, "model_sha256": model_sha256,
            "experiment": experiment, "workload_id": workload_id, "workload": workload, "source": source,
            "repeats": repeats, "failures": failures, "seconds": seconds, "figures": figures,
            "estimates": estimates, "recorded_at": now()})


def insert_signature(store: Store, sig: dict[str, Any], *, run_id: str | None) -> None:
    with store.connect() as con:
        insert(con, "cal_signatures", {
            "model": sig["model"], "fingerprint": sig["fingerprint"], "model_sha256": sig.get("model_sha256"),
            "experiment": sig["experiment"], "reference_id": sig["reference_id"], "digest": sig["digest"],
            "signature": json.dumps(sig, default=str), "run_id": run_id, "recorded_at": now()})


def last_signature(store: Store, model_sha256_or_fingerprint: str, experiment: str) -> dict[str, Any] | None:
    """The newest signature of a model file (by hash, or by fingerprint) on an experiment."""
    if not Path(store.path).exists():
        return None
    rows = store.query("SELECT signature FROM cal_signatures WHERE (model_sha256 = ? OR fingerprint = ?) "
                       "AND experiment = ? ORDER BY recorded_at DESC LIMIT 1",
                       [model_sha256_or_fingerprint, model_sha256_or_fingerprint, experiment])
    return json.loads(rows[0][0]) if rows else None


def last_signature_named(store: Store, model: str, experiment: str,
                         reference_id: str | None = None) -> dict[str, Any] | None:
    """The newest signature recorded under a model name on an experiment (on one reference
    data set, such as a recorded folder, when ``reference_id`` is given)."""
    if not Path(store.path).exists():
        return None
    if reference_id is not None:
        rows = store.query("SELECT signature FROM cal_signatures WHERE model = ? AND experiment = ? "
                           "AND reference_id = ? ORDER BY recorded_at DESC LIMIT 1", [model, experiment, reference_id])
        return json.loads(rows[0][0]) if rows else None
    rows = store.query("SELECT signature FROM cal_signatures WHERE model = ? AND experiment = ? "
                       "ORDER BY recorded_at DESC LIMIT 1", [model, experiment])
    return json.loads(rows[0][0]) if rows else None
