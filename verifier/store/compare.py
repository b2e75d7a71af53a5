"""The queries of ``sov compare`` and ``sov report``: a run's stored summary, the latest
comparison runs, and the gate verdicts recorded for the compared models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier.store.db import Store

_RUN_COLUMNS = "run_id, command, status, summary"


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    command: str
    status: str
    summary: Any  # the decoded JSON summary; None when the run stored none

    @classmethod
    def from_row(cls, row: tuple) -> "RunSummary":
        run_id, command, status, summary = row
        return cls(run_id, command, status, json.loads(summary) if summary else None)


def run_summary(store: "Store", run_id: str) -> RunSummary | None:
    rows = store.query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id])
    return RunSummary.from_row(rows[0]) if rows else None


def compare_summaries(store: "Store") -> list[RunSummary]:
    """Every ``sov compare`` run that stored a summary, newest first."""
    rows = store.query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE command = 'compare' "
                       "AND summary IS NOT NULL ORDER BY started_at DESC")
    return [RunSummary.from_row(r) for r in rows]


_VERDICT_COLUMNS = ("verdict_id", "run_id", "kind", "subject", "verdict", "exit_code", "record_hash",
                    "recorded_at", "gates", "figures")


def verdict_rows(store: "Store") -> list[dict[str, Any]]:
    """Every recorded gate verdict, newest first, its JSON columns as text; none for a store
    without a verdicts table (or with a schema this sov does not know)."""
    try:
        tables = {r[0] for r in store.query("SELECT table_name FROM information_schema.tables")}
        if "verdicts" not in tables:
            return []
        rows = store.query("SELECT verdict_id, run_id, kind, subject, verdict, exit_code, record_hash, "
                           "CAST(recorded_at AS VARCHAR), CAST(gates AS VARCHAR), CAST(figures AS VARCHAR) "
                           "FROM verdicts ORDER BY recorded_at DESC")
    except Exception:  # an older store, or a schema this sov does not know: no verdicts section
        return []
    return [dict(zip(_VERDICT_COLUMNS, r)) for r in rows]
