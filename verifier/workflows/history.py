"""The store's history: runs with their verdicts, one run in full, and a Parquet export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.errors import UsageError
from verifier.store import history as rows
from verifier.store.evidence import records_for_verdicts, run_links
from verifier.store.verdicts import verdict_rows

if TYPE_CHECKING:
    from verifier.store.db import Store


def _j(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _iso(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v


def list_runs(store: "Store", *, limit: int | None = 50, command: str | None = None) -> list[dict]:
    """Newest first: run id, command, status, exit code, times and the run's verdict."""
    out = []
    for row in rows.runs_with_verdicts(store, limit=limit, command=command):
        run_id, cmd, status, code, t0, t1, msg, summary, verdict, kind, rh = row
        out.append({"run_id": run_id, "command": cmd, "status": status, "exit_code": code,
                    "started_at": _iso(t0), "finished_at": _iso(t1), "message": msg,
                    "summary": _j(summary), "verdict": verdict, "evidence_hash": rh})
    return out


def resolve_run_id(store: "Store", run_id: str) -> str:
    ids = rows.run_ids_starting(store, run_id)
    if not ids:
        raise UsageError(f"no run {run_id!r} in {store.path} (see sov history list)")
    if run_id in ids:
        return run_id
    if len(ids) > 1:
        raise UsageError(f"run id {run_id!r} is ambiguous: {len(ids)} runs start with it")
    return ids[0]


def show_run(store: "Store", run_id: str) -> dict:
    rid = resolve_run_id(store, run_id)
    run = {c: _j(_iso(v)) if c in ("argv", "summary") else _iso(v)
           for c, v in zip(rows.RUN_COLUMNS, rows.run_row(store, rid))}
    results = []
    for r in rows.run_results(store, rid):
        d = {"decoder": r[0], "model_sha256": r[1]}
        d.update({c: _j(v) if c == "figures" else v for c, v in zip(rows.RESULT_COLUMNS, r[2:])})
        results.append(d)
    verdicts = _verdicts(store, rid)
    drift = [{"name": d[0], "series": d[1], "status": d[2], "sha256": d[3], "shots": d[4],
              "errors": d[5], "figures": _j(d[6])}
             for d in rows.run_drift_checks(store, rid)]
    evidence = [{"sequence": e[0], "record_hash": e[1], "previous_hash": e[2]}
                for e in run_links(store, rid)]
    return {"run": run, "results": results, "verdicts": verdicts, "evidence": evidence,
            "drift_checks": drift}


def _verdicts(store: "Store", run_id: str) -> list[dict]:
    """The run's verdict rows, each with ``chain``: ``ok``, or ``TAMPERED: why`` when the row
    does not match the chain record that names it (or no record names it)."""
    from verifier.evidence.record import record_hash, verdict_row_problem

    vrows = verdict_rows(store, run_id)
    records = records_for_verdicts(store, [v.verdict_id for v in vrows])
    out = []
    for v in vrows:
        problem = "no evidence record in the chain names it"
        if v.verdict_id in records:
            seq, stored, raw = records[v.verdict_id]
            try:
                record = json.loads(raw)["record"]
                problem = verdict_row_problem(record, stored, v) if record_hash(record) == stored \
                    else f"its evidence record #{seq} was altered"
            except (ValueError, TypeError, KeyError):
                problem = f"its evidence record #{seq} is unreadable"
        out.append({"verdict_id": v.verdict_id, "kind": v.kind, "subject": v.subject, "verdict": v.verdict,
                    "exit_code": v.exit_code, "gates": _j(v.gates), "evidence_hash": v.record_hash,
                    "chain": "ok" if problem is None else f"TAMPERED: {problem}"})
    return out


def export_parquet(store: "Store", out_dir: str | os.PathLike[str]) -> list[dict]:
    """Every table of the store to ``out_dir/<table>.parquet``; returns ``[{table, path, rows}]``."""
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {d}: {e.strerror}") from None
    if not os.access(d, os.W_OK):
        raise UsageError(f"{d} is not writable")
    return rows.export_parquet(store, d)
