"""The store's history: runs with their verdicts, one run in full, and a Parquet export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.errors import UsageError

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
    sql = ("SELECT r.run_id, r.command, r.status, r.exit_code, r.started_at, r.finished_at, "
           "r.message, r.summary, v.verdict, v.kind, v.record_hash FROM runs r "
           "LEFT JOIN verdicts v ON v.run_id = r.run_id ")
    params: list[Any] = []
    if command:
        sql += "WHERE r.command = ? "
        params.append(command)
    sql += "ORDER BY r.started_at DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    out = []
    for row in store.query(sql, params):
        run_id, cmd, status, code, t0, t1, msg, summary, verdict, kind, rh = row
        out.append({"run_id": run_id, "command": cmd, "status": status, "exit_code": code,
                    "started_at": _iso(t0), "finished_at": _iso(t1), "message": msg,
                    "summary": _j(summary), "verdict": verdict, "evidence_hash": rh})
    return out


def resolve_run_id(store: "Store", run_id: str) -> str:
    rows = store.query("SELECT run_id FROM runs WHERE run_id LIKE ? ORDER BY run_id", [run_id + "%"])
    if not rows:
        raise UsageError(f"no run {run_id!r} in {store.path} (see sov history list)")
    exact = [r[0] for r in rows if r[0] == run_id]
    if exact:
        return exact[0]
    if len(rows) > 1:
        raise UsageError(f"run id {run_id!r} is ambiguous: {len(rows)} runs start with it")
    return rows[0][0]


def show_run(store: "Store", run_id: str) -> dict:
    rid = resolve_run_id(store, run_id)
    cols = ["run_id", "command", "argv", "sov_version", "started_at", "finished_at", "status",
            "exit_code", "message", "summary"]
    row = store.query(f"SELECT {', '.join(cols)} FROM runs WHERE run_id = ?", [rid])[0]
    run = {c: _j(_iso(v)) if c in ("argv", "summary") else _iso(v) for c, v in zip(cols, row)}
    res_cols = ["fingerprint", "workload_id", "shots", "errors", "seconds", "ler", "ler_lo",
                "ler_hi", "ler_per_round", "shots_per_second", "figures"]
    results = []
    for r in store.query(f"SELECT d.name, d.model_sha256, {', '.join('x.' + c for c in res_cols)} "
                         "FROM results x LEFT JOIN decoders d ON d.fingerprint = x.fingerprint "
                         "WHERE x.run_id = ? ORDER BY x.recorded_at", [rid]):
        d = {"decoder": r[0], "model_sha256": r[1]}
        d.update({c: _j(v) if c == "figures" else v for c, v in zip(res_cols, r[2:])})
        results.append(d)
    verdicts = [{"verdict_id": v[0], "kind": v[1], "subject": v[2], "verdict": v[3],
                 "exit_code": v[4], "gates": _j(v[5]), "evidence_hash": v[6]}
                for v in store.query("SELECT verdict_id, kind, subject, verdict, exit_code, gates, "
                                     "record_hash FROM verdicts WHERE run_id = ? ORDER BY recorded_at", [rid])]
    evidence = [{"sequence": e[0], "record_hash": e[1], "previous_hash": e[2]}
                for e in store.query("SELECT seq, record_hash, previous_hash FROM evidence_chain "
                                     "WHERE run_id = ? ORDER BY seq", [rid])]
    drift = [{"name": d[0], "series": d[1], "status": d[2], "sha256": d[3], "shots": d[4],
              "errors": d[5], "figures": _j(d[6])}
             for d in store.query("SELECT name, series, status, sha256, shots, errors, figures "
                                  "FROM drift_checks WHERE run_id = ? ORDER BY checked_at", [rid])]
    return {"run": run, "results": results, "verdicts": verdicts, "evidence": evidence,
            "drift_checks": drift}


def export_parquet(store: "Store", out_dir: str | os.PathLike[str]) -> list[dict]:
    """Every table of the store to ``out_dir/<table>.parquet`` with DuckDB's native
    ``COPY ... TO ... (FORMAT parquet)``; returns ``[{table, path, rows}]``."""
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {d}: {e.strerror}") from None
    if not os.access(d, os.W_OK):
        raise UsageError(f"{d} is not writable")
    out = []
    with store.connect(read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]
        for t in tables:
            target = (d / f"{t}.parquet").resolve()
            quoted = str(target).replace("'", "''")
            con.execute(f'COPY "{t}" TO \'{quoted}\' (FORMAT parquet)')
            rows = con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            out.append({"table": t, "path": str(target), "rows": rows})
    return out
