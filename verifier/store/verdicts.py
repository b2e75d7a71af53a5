"""The ``verdicts`` table: one row per decision (an acceptance, or one watched model's
drift check), next to its evidence record's hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from verifier.store.rows import insert


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


def insert_verdict(con: Any, row: VerdictRow) -> None:
    """Inside the caller's transaction (a drift check writes its checks in the same one)."""
    from verifier.store.db import now

    insert(con, "verdicts", asdict(row) | {"recorded_at": now()})


def save_verdict(store, row: VerdictRow) -> None:
    with store.connect() as con:
        insert_verdict(con, row)
