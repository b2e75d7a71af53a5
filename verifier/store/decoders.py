"""Queries on the store's ``decoders`` table (one row per fingerprint, with its spec)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verifier.store.db import Store


def _spec(value) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value)


def decoder_spec(store: "Store", fingerprint: str) -> dict | None:
    """The fingerprint spec recorded for ``fingerprint``; None when the store has none."""
    rows = store.query("SELECT spec FROM decoders WHERE fingerprint = ?", [fingerprint])
    return _spec(rows[0][0]) if rows else None


def decoder_specs(store: "Store") -> list[tuple[str, dict]]:
    """``(fingerprint, spec)`` of every recorded decoder, the first seen first."""
    return [(fp, _spec(spec)) for fp, spec in
            store.query("SELECT fingerprint, spec FROM decoders ORDER BY first_seen")]
