"""The answers of plot-reading calibration models to the question set (``cal_answers``,
written by ``sov calib ask``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verifier.store.db import Store, now
from verifier.store.rows import insert_many


def insert_answers(store: Store, rows: list[dict[str, Any]], *, run_id: str | None, model: str,
                   question_version: str) -> None:
    """One row per answer (``Answer.to_json()``)."""
    at = now()
    with store.connect() as con:
        insert_many(con, "cal_answers", [{
            "run_id": run_id, "model": model, "item_id": r["item_id"], "qtype": r["type"],
            "scenario": r["scenario"], "source": r["source"], "experiment": r["experiment"],
            "question": r["question"], "choices": json.dumps(r["choices"]), "expected": json.dumps(r["expected"]),
            "raw_answer": r["raw_answer"], "parsed": None if r["parsed"] is None else json.dumps(r["parsed"]),
            "correct": bool(r["correct"]), "error": r["error"], "question_version": question_version,
            "recorded_at": at} for r in rows])


def answers_of_run(store: Store, run_id: str) -> list[dict[str, Any]]:
    """A run's recorded answers, in the order they were asked."""
    if not Path(store.path).exists():
        return []
    cols = ("item_id", "qtype", "scenario", "question", "expected", "raw_answer", "parsed", "correct", "error")
    rows = store.query(f"SELECT {', '.join(cols)} FROM cal_answers WHERE run_id = ? ORDER BY rowid", [run_id])
    out = []
    for row in rows:
        d = dict(zip(cols, row))
        d["expected"] = json.loads(d["expected"])
        d["parsed"] = None if d["parsed"] is None else json.loads(d["parsed"])
        out.append(d)
    return out
