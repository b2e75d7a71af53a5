"""Queries behind ``sov history``: runs with their verdicts, everything one run recorded,
and the export of every table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RUN_COLUMNS = ["run_id", "command", "argv", "sov_version", "started_at", "finished_at", "status",
               "exit_code", "message", "summary"]
RESULT_COLUMNS = ["fingerprint", "workload_id", "shots", "errors", "seconds", "ler", "ler_lo",
                  "ler_hi", "ler_per_round", "shots_per_second", "figures"]


def runs_with_verdicts(store, *, limit: int | None, command: str | None) -> list[tuple]:
    """Newest first: ``(run_id, command, status, exit_code, started_at, finished_at, message,
    summary, verdict, kind, record_hash)``."""
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
    return store.query(sql, params)


def run_ids_starting(store, prefix: str) -> list[str]:
    return [r[0] for r in store.query("SELECT run_id FROM runs WHERE run_id LIKE ? ORDER BY run_id",
                                      [prefix + "%"])]


def run_row(store, run_id: str) -> tuple:
    """The run's :data:`RUN_COLUMNS`."""
    return store.query(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ?", [run_id])[0]


def run_results(store, run_id: str) -> list[tuple]:
    """``(decoder name, model_sha256, *RESULT_COLUMNS)`` of each result, in recording order."""
    return store.query(f"SELECT d.name, d.model_sha256, {', '.join('x.' + c for c in RESULT_COLUMNS)} "
                       "FROM results x LEFT JOIN decoders d ON d.fingerprint = x.fingerprint "
                       "WHERE x.run_id = ? ORDER BY x.recorded_at", [run_id])


def run_drift_checks(store, run_id: str) -> list[tuple]:
    """``(name, series, status, sha256, shots, errors, figures)``."""
    return store.query("SELECT name, series, status, sha256, shots, errors, figures "
                       "FROM drift_checks WHERE run_id = ? ORDER BY checked_at", [run_id])


def export_parquet(store, d: Path) -> list[dict]:
    """Every table to ``d/<table>.parquet`` (DuckDB's ``COPY ... (FORMAT parquet)``)."""
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
