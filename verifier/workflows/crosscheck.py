"""Same model, different runtime: do the per-shot predictions agree?

A model replayed with two execution providers (``--provider cpu`` and ``--provider cuda``),
or two graph-optimization levels, has two decoder fingerprints that differ only in those
runtime fields. Its per-shot predictions are in the store (bit-packed, per block), so the
comparison is exact and pairwise, shot for shot: :func:`crosscheck` reports, for every
variant against the first one, how many shots were compared, how many predictions differ,
and where (workload stream, shot index, both predictions) for the first few.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from verifier.engine.blocks import unpack_predictions
from verifier.errors import UsageError
from verifier.qec.flags import from_flags
from verifier.qec.workload import BLOCK_SHOTS, QecWorkload
from verifier.store import decoders
from verifier.store.runs import recorded_run
from verifier.workflows.qec import run_task

if TYPE_CHECKING:
    from verifier.engine.results import TaskResult
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
    spec = decoders.decoder_spec(store, fp)
    if spec is None:
        raise UsageError(f"no decoder with fingerprint {fp[:12]} in the store {store.path}")
    return spec


def runtime_variants(store: "Store", fp: str, *, fields: Sequence[str] = RUNTIME_FIELDS) -> list[str]:
    """Fingerprints in the store whose spec equals ``fp``'s except in ``fields``
    (the same model and runtime version on another provider or optimization level)."""
    base = decoder_spec(store, fp)
    strip = lambda s: {k: v for k, v in s.items() if k not in fields}  # noqa: E731
    return [other for other, spec in decoders.decoder_specs(store)
            if other != fp and strip(spec) == strip(base)]


def _widen(x: np.ndarray, width: int) -> np.ndarray:
    """Zero columns on the right: a block recorded before predictions were packed to O bits
    a shot holds ``8 * ceil(O/8)`` of them, the extra ones zero."""
    if x.shape[1] >= width:
        return x
    return np.pad(x, ((0, 0), (0, width - x.shape[1])))


def compare_pair(store: "Store", reference: str, other: str, stream_ids: Sequence[str], *,
                 max_listed: int = 20, num_observables: int | None = None) -> PairReport:
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


# -- sov qec crosscheck: replay every runtime variant, then compare -------------------------

VariantFactory = Callable[[str, str], Any]  # (provider, graph optimization) -> Decoder
ProgressFactory = Callable[[str], Any]  # label -> context manager yielding a ProgressFn or None


@dataclass
class RuntimeCrosscheck:
    workload: QecWorkload
    variants: list  # the decoders, one per provider x optimization level
    results: list["TaskResult"]
    pairs: list[PairReport]
    run_id: str
    db: str

    @property
    def agree(self) -> bool:
        return all(r.agree for r in self.pairs)

    def to_json(self) -> dict[str, Any]:
        w = self.workload
        return {"decoder": self.variants[0].name, "workload_id": w.id, "workload": w.spec(),
                "agree": self.agree, "db": self.db, "run_id": self.run_id,
                "variants": [{**runtime_of(d), "fingerprint": r.fingerprint, "shots": r.stats.shots,
                              "errors": r.stats.errors, "shots_per_second": r.stats.shots_per_second}
                             for d, r in zip(self.variants, self.results)],
                "pairs": [r.to_json() for r in self.pairs]}

    def summary(self) -> dict[str, Any]:
        return {"agree": self.agree, "pairs": [{k: v for k, v in r.to_json().items() if k != "differences"}
                                               for r in self.pairs]}


def runtime_of(decoder) -> dict[str, Any]:
    """The runtime fields of a decoder's fingerprint spec (provider, optimization level)."""
    spec = decoder.fingerprint_spec()
    return {k: spec.get(k) for k in RUNTIME_FIELDS}


def crosscheck_runtimes(make_variant: VariantFactory, workload_flags: dict[str, Any], *,
                        providers: Sequence[str] | None, levels: Sequence[str] | None, store: "Store",
                        workers: int = 1, max_listed: int = 20,
                        progress: ProgressFactory | None = None) -> RuntimeCrosscheck:
    """Replay the workload named by ``workload_flags`` (``verifier.qec.flags.from_flags``)
    once per runtime variant ``make_variant(provider, level)``, reusing what the store
    holds, in one recorded run, then compare every variant's per-shot predictions with
    the first one's. The run's exit code is 1 when some prediction differs."""
    providers = list(dict.fromkeys(providers or ["cpu"]))
    levels = list(dict.fromkeys(levels or ["all"]))
    if len(providers) * len(levels) < 2:
        raise UsageError("give two runtimes to compare: --provider cpu --provider cuda "
                         "(or two --graph-optimization levels)")
    workload = from_flags(**workload_flags)
    variants = [make_variant(prov, level) for prov in providers for level in levels]
    with recorded_run(store, "qec crosscheck") as rec:
        results = []
        for dec in variants:
            rt = runtime_of(dec)
            label = f"{dec.name} [{rt['provider']}, {rt['graph_optimization']}]"
            with (progress(label) if progress else nullcontext(None)) as prog:
                results.append(run_task(dec, workload, run=rec, workers=workers, progress=prog))
        pairs = crosscheck(store, [r.fingerprint for r in results], [workload.stream_id],
                           max_listed=max_listed, num_observables=workload.num_observables)
        out = RuntimeCrosscheck(workload, variants, results, pairs, rec.run_id, store.path)
        rec.exit_code = 0 if out.agree else 1
        rec.summary = out.summary()
    return out
