"""The ``verdicts`` table: one row per decision (an acceptance, or one watched model's
drift check), next to its evidence record's hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from verifier.store.rows import insert

ROW_FORMAT = "sov.verdict-row/1"


@dataclass(frozen=True)
class VerdictRow:
    verdict_id: str
    run_id: str | None
    kind: str  # accept | drift
    subject: str | None  # the candidate's name, or the watched model's
    verdict: str
    exit_code: int
    gates: str  # JSON text, stored as given
    figures: str  # JSON text
    record_hash: str | None


COLUMNS = [f.name for f in fields(VerdictRow)]


def row_hash(row: VerdictRow) -> str:
    """sha256 of everything the row says except ``record_hash`` (which names the evidence
    record that carries this hash, so it cannot be inside it): the value a chain entry
    commits to (``verdict_row_sha256``), so that editing the row breaks the chain."""
    content = {c: getattr(row, c) for c in COLUMNS if c != "record_hash"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{ROW_FORMAT}:{text}".encode()).hexdigest()


def insert_verdict(con: Any, row: VerdictRow) -> None:
    """Inside the caller's transaction (a drift check writes its checks in the same one)."""
    from verifier.store.db import now

    insert(con, "verdicts", asdict(row) | {"recorded_at": now()})


def save_verdict(store, row: VerdictRow) -> None:
    with store.connect() as con:
        insert_verdict(con, row)


def verdict_rows(store, run_id: str | None = None) -> list[VerdictRow]:
    """Every verdict row (or one run's), in recording order, as stored."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM verdicts"
    params: list[Any] = []
    if run_id is not None:
        sql += " WHERE run_id = ?"
        params.append(run_id)
    return [VerdictRow(*r) for r in store.query(sql + " ORDER BY recorded_at", params)]
