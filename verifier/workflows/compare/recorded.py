"""Reading back: a stored comparison payload (``sov report``) and the gate verdicts the
store holds for the compared models."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from verifier.errors import UsageError
from verifier.store.compare import compare_summaries, run_summary, verdict_rows

if TYPE_CHECKING:
    from verifier.store.db import Store


def load_payload(store: "Store", run_id: str | None = None) -> dict[str, Any]:
    """The compare payload of ``run_id`` (or of the latest compare run) from the store."""
    if run_id:
        run = run_summary(store, run_id)
        if run is None:
            raise UsageError(f"no run {run_id!r} in the store {store.path}")
    else:
        run = next((r for r in compare_summaries(store) if "report" in (r.summary or {})), None)
        if run is None:
            raise UsageError(f"no compare run with a report in the store {store.path} (run sov compare first)")
    data = run.summary or {}
    if not isinstance(data, dict) or "report" not in data:
        raise UsageError(f"run {run.run_id} ({run.command}, {run.status}) holds no comparison report")
    return data["report"]


def _gate_names(gates: str | None) -> list[str]:
    try:
        g = json.loads(gates) if gates else None
    except ValueError:
        return []
    if isinstance(g, list):
        return [f"{x.get('name')}: {x.get('status')}" for x in g if isinstance(x, dict)]
    if isinstance(g, dict):
        return [f"{k}: {v.get('status') if isinstance(v, dict) else v}" for k, v in g.items()]
    return []


def find_verdicts(store: "Store", keys: Sequence[str]) -> list[dict[str, Any]]:
    """Gate verdicts recorded in the store (``sov accept``, drift checks) that concern any of
    ``keys`` (model hashes or decoder fingerprints), newest first, with their evidence hash."""
    keys = [k for k in keys if k]
    if not keys:
        return []
    out: list[dict[str, Any]] = []
    for v in verdict_rows(store):
        text = f"{v['subject']} {v['gates']} {v['figures']}"
        hit = [k for k in keys if k in text]
        if not hit:
            continue
        out.append({"verdict_id": v["verdict_id"], "run_id": v["run_id"], "kind": v["kind"],
                    "subject": v["subject"], "verdict": v["verdict"], "exit_code": v["exit_code"],
                    "evidence_hash": v["record_hash"], "recorded_at": v["recorded_at"],
                    "gates": _gate_names(v["gates"]), "matches": hit})
    return out[:100]
