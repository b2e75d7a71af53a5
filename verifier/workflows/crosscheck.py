"""Same model, different runtime: do the per-shot predictions agree?

A model replayed with two execution providers (``--provider cpu`` and ``--provider cuda``),
or two graph-optimization levels, has two decoder fingerprints that differ only in those
runtime fields. Its per-shot predictions are in the store (bit-packed, per block), so the
comparison is exact and pairwise, shot for shot: :func:`crosscheck` reports, for every
variant against the first one, how many shots were compared, how many predictions differ,
and where (workload stream, shot index, both predictions) for the first few.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from verifier.errors import UsageError
from verifier.qec.workload import BLOCK_SHOTS

if TYPE_CHECKING:
    from verifier.store.db import Store

RUNTIME_FIELDS = ("provider", "graph_optimization")


@dataclass(frozen=True)
class Difference:
    stream_id: str
    shot: int  # index of the shot in the workload stream
    reference: list[int]  # predicted observable flips, one 0/1 per observable
    other: list[int]


@dataclass
class PairReport:
    reference: str  # fingerprint
    other: str
    reference_spec: dict
    other_spec: dict
    compared_shots: int = 0
    differing_shots: int = 0
    blocks_compared: int = 0
    blocks_only_in_one: int = 0
    differences: list[Difference] = field(default_factory=list)  # the first few

    @property
    def agree(self) -> bool:
        return self.differing_shots == 0 and self.compared_shots > 0

    def varied(self) -> dict[str, list[Any]]:
        keys = sorted(set(self.reference_spec) | set(self.other_spec))
        return {k: [self.reference_spec.get(k), self.other_spec.get(k)] for k in keys
                if self.reference_spec.get(k) != self.other_spec.get(k)}

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "other": self.other, "varied": self.varied(),
                "compared_shots": self.compared_shots, "differing_shots": self.differing_shots,
                "agree": self.agree, "blocks_compared": self.blocks_compared,
                "blocks_only_in_one": self.blocks_only_in_one,
                "differences": [d.__dict__ for d in self.differences]}


def decoder_spec(store: "Store", fp: str) -> dict:
    rows = store.query("SELECT spec FROM decoders WHERE fingerprint = ?", [fp])
    if not rows:
        raise UsageError(f"no decoder with fingerprint {fp[:12]} in the store {store.path}")
    spec = rows[0][0]
    return json.loads(spec) if isinstance(spec, str) else dict(spec)


def runtime_variants(store: "Store", fp: str, *, fields: Sequence[str] = RUNTIME_FIELDS) -> list[str]:
    """Fingerprints in the store whose spec equals ``fp``'s except in ``fields``
    (the same model and runtime version on another provider or optimization level)."""
    base = decoder_spec(store, fp)
    strip = lambda s: {k: v for k, v in s.items() if k not in fields}  # noqa: E731
    out = []
    for other, spec in store.query("SELECT fingerprint, spec FROM decoders ORDER BY first_seen"):
        spec = json.loads(spec) if isinstance(spec, str) else dict(spec)
        if other != fp and strip(spec) == strip(base):
            out.append(other)
    return out


def _widen(x: np.ndarray, width: int) -> np.ndarray:
    """Zero columns on the right: a block recorded before predictions were packed to O bits
    a shot holds ``8 * ceil(O/8)`` of them, the extra ones zero."""
    if x.shape[1] >= width:
        return x
    return np.pad(x, ((0, 0), (0, width - x.shape[1])))


def compare_pair(store: "Store", reference: str, other: str, stream_ids: Sequence[str], *,
                 max_listed: int = 20, num_observables: int | None = None) -> PairReport:
    from verifier.engine.blocks import unpack_predictions

    rep = PairReport(reference, other, decoder_spec(store, reference), decoder_spec(store, other))
    for sid in stream_ids:
        a = store.block_predictions(reference, sid)
        b = store.block_predictions(other, sid)
        rep.blocks_only_in_one += len(set(a) ^ set(b))
        for key in sorted(set(a) & set(b)):
            block, shots = key
            (pa, na), (pb, nb) = a[key], b[key]
            rep.blocks_compared += 1
            rep.compared_shots += shots
            if pa == pb and na == nb:
                continue
            width = max(na, nb)
            xa = _widen(unpack_predictions(pa, shots, na), width)
            xb = _widen(unpack_predictions(pb, shots, nb), width)
            bad = np.flatnonzero(np.any(xa != xb, axis=1))
            rep.differing_shots += int(bad.size)
            nobs = num_observables or width
            for i in bad[:max(0, max_listed - len(rep.differences))]:
                rep.differences.append(Difference(sid, block * BLOCK_SHOTS + int(i),
                                                  xa[i, :nobs].tolist(), xb[i, :nobs].tolist()))
    return rep


def crosscheck(store: "Store", fingerprints: Sequence[str], stream_ids: Sequence[str], *,
               max_listed: int = 20, num_observables: int | None = None) -> list[PairReport]:
    """Compare every fingerprint after the first with the first, on the given workload
    streams, shot for shot. Raises UsageError when fewer than two are given."""
    fps = list(dict.fromkeys(fingerprints))
    if len(fps) < 2:
        raise UsageError("crosscheck needs two decoders that differ (e.g. --provider cpu --provider cuda)")
    return [compare_pair(store, fps[0], fp, stream_ids, max_listed=max_listed,
                         num_observables=num_observables) for fp in fps[1:]]
