"""The ``evidence_chain`` table: the hash-chained evidence records, in sequence order, and
the chain's head file (``STORE.head``, next to the store: the last record's sequence and
hash, signed when the writer had a key), which makes deleting the last record detectable."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

from verifier.errors import StoreError
from verifier.store.rows import insert
from verifier.store.verdicts import VerdictRow, insert_verdict

HEAD_SUFFIX = ".head"


def head_path(store) -> Path:
    return Path(str(store.path) + HEAD_SUFFIX)


def append_record(store, seal: Callable[[int, str | None], dict], *, run_id: str | None,
                  verdict_id: str | None, verdict_row: VerdictRow | None = None,
                  head: Callable[[int, str], dict] | None = None) -> dict:
    """Append ``seal(sequence, previous_hash)`` to the chain. The last link is read and the
    new record inserted in one transaction, so two writers cannot fork the chain; the
    verdict row (its ``record_hash`` filled in) goes in the same transaction. ``head``:
    the head file's document for ``(sequence, record_hash)``, written after the commit
    while this process still holds the store open (so no other writer interleaves)."""
    from verifier.store.db import now

    with store.connect() as con:
        last = con.execute("SELECT seq, record_hash FROM evidence_chain ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, None)
        doc = seal(seq, prev)
        insert(con, "evidence_chain", {"seq": seq, "record_hash": doc["hash"]["value"],
                                       "previous_hash": prev, "run_id": run_id,
                                       "verdict_id": verdict_id, "record": json.dumps(doc),
                                       "recorded_at": now()})
        if verdict_row is not None:
            insert_verdict(con, replace(verdict_row, record_hash=doc["hash"]["value"]))
        if head is not None:
            con.execute("COMMIT")
            write_head(store, head(seq, doc["hash"]["value"]))
            con.execute("BEGIN TRANSACTION")  # the empty one connect() commits
    return doc


def write_head(store, doc: dict) -> None:
    from verifier.atomic import write_text_atomic

    p = head_path(store)
    try:
        write_text_atomic(p, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise StoreError(f"recorded, but cannot write the chain head file {p}: {e.strerror}") from None


def read_head(store) -> tuple[dict | None, str | None]:
    """``(head document, None)``, ``(None, None)`` when there is no head file, or
    ``(None, why)`` when it cannot be read or parsed."""
    p = head_path(store)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return None, f"head file {p} unreadable: {getattr(e, 'strerror', None) or e}"
    return (doc, None) if isinstance(doc, dict) else (None, f"head file {p} is not a JSON object")


def chain_link(store, seq) -> tuple[str, str | None] | None:
    """``(record_hash, previous_hash)`` of record ``seq``, None when the store has none."""
    rows = store.query("SELECT record_hash, previous_hash FROM evidence_chain WHERE seq = ?", [seq])
    return (rows[0][0], rows[0][1]) if rows else None


def chain(store) -> list[tuple[int, str, str | None, str]]:
    """Every record as ``(seq, record_hash, previous_hash, record JSON)``, in order."""
    return store.query("SELECT seq, record_hash, previous_hash, record FROM evidence_chain ORDER BY seq")


def records_for_verdicts(store, verdict_ids: list[str]) -> dict[str, tuple[int, str, str]]:
    """``verdict_id -> (seq, record_hash, record JSON)`` of the chain records naming them."""
    if not verdict_ids:
        return {}
    rows = store.query("SELECT verdict_id, seq, record_hash, record FROM evidence_chain "
                       "WHERE list_contains(?, verdict_id) ORDER BY seq", [verdict_ids])
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def run_links(store, run_id: str) -> list[tuple[int, str, str | None]]:
    """``(seq, record_hash, previous_hash)`` of the records one run appended."""
    return store.query("SELECT seq, record_hash, previous_hash FROM evidence_chain "
                       "WHERE run_id = ? ORDER BY seq", [run_id])


def chain_entries(store) -> list[tuple[int, str, str | None, str | None, str]]:
    """Every record as ``(seq, record_hash, previous_hash, verdict_id, record JSON)``, in order."""
    return store.query("SELECT seq, record_hash, previous_hash, verdict_id, record FROM evidence_chain "
                       "ORDER BY seq")


def read_runs(store) -> int:
    """Read every column of ``runs`` (what ``sov history list`` reads); raises StoreError
    when the file does not hold them any more. Returns the number of runs."""
    return store.query("SELECT count(*), max(run_id), max(command), max(argv), max(started_at), "
                       "max(finished_at), max(status), max(exit_code), max(message), max(summary) "
                       "FROM runs")[0][0]
