"""The store's ``syndrome_exports`` table: what ``sov qec export-syndromes`` sent out and the
commitment to the truth it kept (migration 7)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier.store.db import Store

_COLUMNS = ("commitment", "workload_id", "stream_id", "dets_sha256", "shots", "num_detectors",
            "num_observables", "format", "salt", "folder", "run_id", "created_at")


@dataclass(frozen=True)
class SyndromeExport:
    commitment: str
    workload_id: str
    stream_id: str
    dets_sha256: str
    shots: int
    num_detectors: int
    num_observables: int
    format: str
    salt: str
    folder: str | None
    run_id: str | None
    created_at: Any  # datetime

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = str(self.created_at)
        return d


def record_export(store: "Store", export: SyndromeExport) -> None:
    from verifier.store.rows import insert

    with store.connect() as con:
        insert(con, "syndrome_exports", asdict(export))


def exports_for(store: "Store | None", workload_id: str,
                dets_sha256: str | None = None) -> list[SyndromeExport]:
    """The exports of this workload, or of the detection-events file ``dets_sha256`` (the
    exported file replayed as recorded data), the newest first; empty when the store does
    not exist yet or predates the table."""
    if store is None or not Path(store.path).exists():
        return []
    if not store.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'syndrome_exports'"):
        return []
    rows = store.query(f"SELECT {', '.join(_COLUMNS)} FROM syndrome_exports "
                       "WHERE workload_id = ? OR dets_sha256 = ? ORDER BY created_at DESC",
                       [workload_id, dets_sha256 or ""])
    return [SyndromeExport(*r) for r in rows]
