"""Statements built from named columns, so that a later migration that adds a column
cannot shift a value into the wrong one (as a positional ``INSERT ... VALUES`` would)."""

from __future__ import annotations

import json
from typing import Any, Mapping


def insert(con: Any, table: str, row: Mapping[str, Any], *, on_conflict: str | None = None) -> None:
    """``INSERT INTO table (cols...) VALUES (...)`` of one row given as ``{column: value}``.

    dict and list values are stored as JSON text. ``on_conflict``: e.g. ``"DO NOTHING"``."""
    insert_many(con, table, [row], on_conflict=on_conflict)


def insert_many(con: Any, table: str, rows: list[Mapping[str, Any]], *, on_conflict: str | None = None) -> None:
    """Several rows with the same columns in one ``executemany``."""
    if not rows:
        return
    cols = list(rows[0])
    sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
           + (f" ON CONFLICT {on_conflict}" if on_conflict else ""))
    con.executemany(sql, [[_value(r[c]) for c in cols] for r in rows])


def _value(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str, sort_keys=True)
    return v
