"""The ``watched_models`` and ``drift_checks`` tables: models in service and every drift
check of their reference series."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from verifier.store.rows import insert, insert_many
from verifier.store.verdicts import VerdictRow, insert_verdict

_WATCHED_COLUMNS = "name, path, sha256, contract, spec, added_at"


@dataclass(frozen=True)
class Watched:
    """A model in service: its file, its sha256 at registration and its reference series."""

    name: str
    path: str
    sha256: str
    contract: str | None
    spec: dict
    added_at: Any

    def to_json(self) -> dict:
        return {"name": self.name, "path": self.path, "sha256": self.sha256,
                "contract": self.contract, "spec": self.spec,
                "added_at": self.added_at.isoformat() if hasattr(self.added_at, "isoformat") else self.added_at}


def _watched(r: tuple) -> Watched:
    return Watched(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5])


def find_watched(store, name: str) -> Watched | None:
    rows = store.query(f"SELECT {_WATCHED_COLUMNS} FROM watched_models "
                       "WHERE name = ? AND removed_at IS NULL", [name])
    return _watched(rows[0]) if rows else None


def list_watched(store) -> list[Watched]:
    """The models watched now, by name (none when the store does not exist yet)."""
    if not Path(store.path).exists():
        return []
    rows = store.query(f"SELECT {_WATCHED_COLUMNS} FROM watched_models "
                       "WHERE removed_at IS NULL ORDER BY name")
    return [_watched(r) for r in rows]


def is_watched(store, name: str) -> bool:
    if not Path(store.path).exists():
        return False
    return bool(store.query("SELECT 1 FROM watched_models WHERE name = ? AND removed_at IS NULL", [name]))


def insert_watched(store, w: Watched) -> None:
    with store.connect() as con:
        insert(con, "watched_models", {"name": w.name, "path": w.path, "sha256": w.sha256,
                                       "contract": w.contract, "spec": json.dumps(w.spec),
                                       "added_at": w.added_at, "removed_at": None})


def mark_removed(store, name: str) -> None:
    from verifier.store.db import now

    with store.connect() as con:
        con.execute("UPDATE watched_models SET removed_at = ? WHERE name = ? AND removed_at IS NULL",
                    [now(), name])


# -- drift checks ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DriftCheckRow:
    name: str
    run_id: str | None
    series: str
    sha256: str | None
    in_control: bool
    seed: int | None
    shots: int
    errors: int
    seconds: float
    status: str  # ok | drift | baseline | error
    figures: str  # JSON text, stored as given


_IN_CONTROL = ("FROM drift_checks WHERE name = ? AND series = ? AND in_control AND sha256 = ? "
               "AND checked_at >= ? AND status != 'error'")


def in_control_counts(store, w: Watched, series: str) -> list[tuple[int, int, float]]:
    """``(shots, errors, seconds)`` of every in-control check of ``series`` since ``w``
    was registered with its current hash: the history later checks are tested against."""
    return store.query(f"SELECT shots, errors, seconds {_IN_CONTROL}",
                       [w.name, series, w.sha256, w.added_at])


def in_control_figures(store, w: Watched, series: str) -> list[str | None]:
    """The figures (JSON text) of the same checks, newest first."""
    rows = store.query(f"SELECT figures {_IN_CONTROL} ORDER BY checked_at DESC",
                       [w.name, series, w.sha256, w.added_at])
    return [r[0] for r in rows]


def record_checks(store, rows: list[DriftCheckRow], verdict: VerdictRow | None = None) -> None:
    """The checks of one model (and its verdict) in one transaction."""
    from verifier.store.db import now

    with store.connect() as con:  # one timestamp each: a run's checks list in their order
        insert_many(con, "drift_checks", [asdict(r) | {"checked_at": now()} for r in rows])
        if verdict is not None:
            insert_verdict(con, verdict)
