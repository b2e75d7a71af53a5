"""The ``evidence_chain`` table: the hash-chained evidence records, in sequence order."""

from __future__ import annotations

import json
from typing import Callable

from verifier.store.rows import insert


def append_record(store, seal: Callable[[int, str | None], dict], *, run_id: str | None,
                  verdict_id: str | None) -> dict:
    """Append ``seal(sequence, previous_hash)`` to the chain. The last link is read and the
    new record inserted in one transaction, so two writers cannot fork the chain."""
    from verifier.store.db import now

    with store.connect() as con:
        last = con.execute("SELECT seq, record_hash FROM evidence_chain ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, None)
        doc = seal(seq, prev)
        insert(con, "evidence_chain", {"seq": seq, "record_hash": doc["hash"]["value"],
                                       "previous_hash": prev, "run_id": run_id,
                                       "verdict_id": verdict_id, "record": json.dumps(doc),
                                       "recorded_at": now()})
    return doc


def chain_link(store, seq) -> tuple[str, str | None] | None:
    """``(record_hash, previous_hash)`` of record ``seq``, None when the store has none."""
    rows = store.query("SELECT record_hash, previous_hash FROM evidence_chain WHERE seq = ?", [seq])
    return (rows[0][0], rows[0][1]) if rows else None


def chain(store) -> list[tuple[int, str, str | None, str]]:
    """Every record as ``(seq, record_hash, previous_hash, record JSON)``, in order."""
    return store.query("SELECT seq, record_hash, previous_hash, record FROM evidence_chain ORDER BY seq")


def run_links(store, run_id: str) -> list[tuple[int, str, str | None]]:
    """``(seq, record_hash, previous_hash)`` of the records one run appended."""
    return store.query("SELECT seq, record_hash, previous_hash FROM evidence_chain "
                       "WHERE run_id = ? ORDER BY seq", [run_id])
