"""The single-fault probe: the wrong-circuit guard run before a replay.

Every error mechanism of the workload's detector error model (as ``dem.flattened()``
lists them, one row each, duplicates included) is decoded alone, from its own syndrome,
together with the empty syndrome and, when the code's distance is at least 5, a sample of
pairs of mechanisms. A decoder that gets the observable effect of one fault of a code of
distance >= 3 wrong is broken or decodes another circuit (another detector order): the
count is reported next to the baseline's (PyMatching) on the very same syndromes.

Mechanisms whose symptom (detector set) is shared with a mechanism of a different
observable effect, or that flip an observable without any detection event, cannot be
decoded by anyone: they are counted as ``weight1_ambiguous`` and excluded from the
failures and from the weight-2 sample.

The library takes compiled decoders (``CompiledDecoder.decode_packed``) and never builds
the baseline itself: ``verifier.cli.wiring.fault_prober`` gives the workflows a
:class:`FaultProber` holding PyMatching.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from verifier.hashing import sha256_bytes

if TYPE_CHECKING:
    from verifier.qec.decoder import CompiledDecoder, Decoder
    from verifier.qec.workload import QecWorkload

WEIGHT2_SAMPLES = 1000  # pairs of mechanisms decoded when the distance is >= 5 (docs/contracts.md)
WEIGHT2_MIN_DISTANCE = 5  # below it some pairs are legitimately ambiguous


def workload_dem(workload: "QecWorkload"):
    """The detector error model the workload's matching decoders use (its ``--dem`` or
    its circuit's): the faults the probe decodes. A circuit whose errors do not decompose
    has no matching baseline, but its undecomposed DEM still lists every fault."""
    try:
        return workload.detector_error_model()
    except ValueError:
        from verifier.qec.dem import circuit_dem

        return circuit_dem(workload.circuit(), decompose=False)


@dataclass(frozen=True)
class ProbeSyndromes:
    """The probe's shots, bit-packed like a block: row 0 is the empty syndrome, rows
    ``1 .. weight1`` the mechanisms in DEM order, then the sampled pairs."""

    dets: np.ndarray  # uint8[n, ceil(D/8)]
    obs: np.ndarray  # uint8[n, ceil(O/8)], the observable effect each row must be decoded to
    ambiguous: np.ndarray  # bool[weight1]
    weight2: int
    distance: int | None
    seed: int

    @property
    def weight1(self) -> int:
        return int(self.ambiguous.shape[0])


def mechanisms(dem, num_detectors: int, num_observables: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed symptoms and observable effects of every error of ``dem.flattened()``
    (components of a decomposed error XOR together: the fault's whole symptom)."""
    rows_d: list[int] = []
    cols_d: list[int] = []
    rows_o: list[int] = []
    cols_o: list[int] = []
    m = 0
    for inst in dem.flattened():
        if inst.type != "error":
            continue
        for t in inst.targets_copy():
            if t.is_relative_detector_id():
                rows_d.append(m)
                cols_d.append(t.val)
            elif t.is_logical_observable_id():
                rows_o.append(m)
                cols_o.append(t.val)
        m += 1
    return _packed(m, num_detectors, rows_d, cols_d), _packed(m, num_observables, rows_o, cols_o)


def _packed(n: int, width: int, rows: list[int], cols: list[int]) -> np.ndarray:
    out = np.zeros((n, (width + 7) // 8), np.uint8)
    if rows:
        c = np.asarray(cols, np.int64)
        np.bitwise_xor.at(out, (np.asarray(rows, np.int64), c // 8), (1 << (c % 8)).astype(np.uint8))
    return out


def ambiguous_mechanisms(dets: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """True for a mechanism no decoder can get right: its symptom is another mechanism's
    with another observable effect, or it flips an observable with no detection event."""
    effects: dict[bytes, set[bytes]] = {}
    keys = [r.tobytes() for r in dets]
    for k, o in zip(keys, obs):
        effects.setdefault(k, set()).add(o.tobytes())
    empty, none = bytes(dets.shape[1]), bytes(obs.shape[1])
    effects.setdefault(empty, set()).add(none)  # no fault at all: no flip
    return np.array([len(effects[k]) > 1 for k in keys], dtype=bool)


def graphlike_distance(dem) -> int | None:
    """The fewest graphlike errors that flip an observable undetected (stim's search);
    None when stim finds none (a DEM with no graphlike logical error)."""
    try:
        return len(dem.shortest_graphlike_error(ignore_ungraphlike_errors=False))
    except ValueError:
        return None


def dem_seed(dem) -> int:
    """The weight-2 sample's seed: from the DEM's text, so the same error model always
    gets the same pairs, whatever the shots, seed or store."""
    return int(sha256_bytes(str(dem).encode())[:16], 16)


def probe_syndromes(dem, num_detectors: int, num_observables: int, *, distance: int | None = None,
                    weight2_samples: int = WEIGHT2_SAMPLES) -> ProbeSyndromes:
    """The probe's shots for ``dem``; ``distance`` (the workload's, else the DEM's
    graphlike distance) decides whether pairs are sampled."""
    dets, obs = mechanisms(dem, num_detectors, num_observables)
    amb = ambiguous_mechanisms(dets, obs)
    if distance is None:
        distance = graphlike_distance(dem)
    seed = dem_seed(dem)
    pairs = np.zeros((0, 2), np.int64)
    if distance is not None and distance >= WEIGHT2_MIN_DISTANCE and weight2_samples > 0:
        pairs = sample_pairs(np.flatnonzero(~amb), weight2_samples, seed)
    empty_d = np.zeros((1, dets.shape[1]), np.uint8)
    empty_o = np.zeros((1, obs.shape[1]), np.uint8)
    all_d = np.concatenate([empty_d, dets, dets[pairs[:, 0]] ^ dets[pairs[:, 1]]])
    all_o = np.concatenate([empty_o, obs, obs[pairs[:, 0]] ^ obs[pairs[:, 1]]])
    return ProbeSyndromes(all_d, all_o, amb, int(pairs.shape[0]), distance, seed)


def sample_pairs(candidates: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` distinct unordered pairs of distinct ``candidates``, uniformly drawn."""
    k = int(candidates.shape[0])
    if k < 2:
        return np.zeros((0, 2), np.int64)
    n = min(n, k * (k - 1) // 2)
    rng = np.random.default_rng(seed)
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < n:
        a, b = rng.integers(0, k, size=2)
        if a != b:
            chosen.setdefault((int(min(a, b)), int(max(a, b))), None)
    idx = np.array(list(chosen), np.int64)
    return candidates[idx]


def failures(compiled: "CompiledDecoder", syn: ProbeSyndromes) -> np.ndarray:
    """bool[n]: the rows whose prediction is not the row's observable effect. Each distinct
    syndrome is decoded once, all in one batch (a decoder is a function of its syndrome)."""
    rows = np.ascontiguousarray(syn.dets)
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).reshape(-1)  # one sortable key per row
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    pred = np.asarray(compiled.decode_packed(rows[first]))[inverse.reshape(-1)]
    return (pred[:, :syn.obs.shape[1]] != syn.obs).any(axis=1)


@dataclass(frozen=True)
class FaultProbe:
    """What the probe found for one decoder on one workload's error model."""

    weight1_total: int
    weight1_ambiguous: int
    weight1_failed: int
    baseline_weight1_failed: int | None  # None: the baseline cannot decode this DEM
    weight1_failed_baseline_ok: int | None  # single faults the baseline corrects and this decoder does not
    weight2_sampled: int
    weight2_failed: int
    baseline_weight2_failed: int | None
    empty_syndrome_ok: bool
    distance: int | None
    seed: int
    seconds: float
    failed_mechanisms: tuple[int, ...] = ()  # the first few, DEM indices

    def to_json(self) -> dict[str, Any]:
        return {"weight1_total": self.weight1_total, "weight1_ambiguous": self.weight1_ambiguous,
                "weight1_failed": self.weight1_failed,
                "baseline_weight1_failed": self.baseline_weight1_failed,
                "weight1_failed_baseline_ok": self.weight1_failed_baseline_ok,
                "weight2_sampled": self.weight2_sampled, "weight2_failed": self.weight2_failed,
                "baseline_weight2_failed": self.baseline_weight2_failed,
                "empty_syndrome_ok": self.empty_syndrome_ok, "distance": self.distance,
                "weight2_seed": self.seed, "seconds": self.seconds,
                "failed_mechanisms": list(self.failed_mechanisms)}

    @property
    def suspect(self) -> bool:
        """Fails single faults the baseline corrects, or flips with no detection event."""
        return bool(self.weight1_failed_baseline_ok) or not self.empty_syndrome_ok


@dataclass(frozen=True)
class ProbeSkipped:
    """A probe that could not run to the end (a resource limit of the model's sandbox):
    the replay that follows gives the run's own verdict."""

    reason: str
    suspect = False

    def to_json(self) -> dict[str, Any]:
        return {"skipped": self.reason}


def compare_failures(fail: np.ndarray, base: np.ndarray | None, syn: ProbeSyndromes,
                     seconds: float) -> FaultProbe:
    """The probe's counts from the failure rows of a decoder and of the baseline (None:
    no baseline column)."""
    w1 = slice(1, 1 + syn.weight1)
    ok = ~syn.ambiguous
    f1, f2 = fail[w1] & ok, fail[1 + syn.weight1:]
    if base is None:
        b1 = b1_ok = b2 = None
    else:
        b1_mask = base[w1] & ok
        b1, b1_ok, b2 = int(b1_mask.sum()), int((f1 & ~b1_mask).sum()), int(base[1 + syn.weight1:].sum())
    return FaultProbe(syn.weight1, int(syn.ambiguous.sum()), int(f1.sum()), b1, b1_ok, syn.weight2,
                      int(f2.sum()), b2, not bool(fail[0]), syn.distance, syn.seed, seconds,
                      tuple(int(i) for i in np.flatnonzero(f1)[:10]))


Warn = Callable[[str], None]


@dataclass
class FaultProber:
    """Runs the probe once per (decoder fingerprint, workload stream), with the baseline's
    failures computed once per stream. ``pins_circuit(decoder)`` says whether a model
    names its circuit (``sov.circuit_sha256``, already checked against the workload);
    ``warn(line)`` gets at most one warning line per decoder."""

    baseline: "Decoder"
    warn: Warn | None = None
    pins_circuit: Callable[["Decoder"], bool] = lambda _d: False
    weight2_samples: int = WEIGHT2_SAMPLES
    _syndromes: dict[str, ProbeSyndromes] = field(default_factory=dict)
    _baseline: dict[str, np.ndarray | None] = field(default_factory=dict)
    _done: dict[tuple[str, str], FaultProbe | ProbeSkipped | None] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def __call__(self, decoder: "Decoder", workload: "QecWorkload") -> FaultProbe | ProbeSkipped | None:
        """The probe of ``decoder`` on ``workload`` (None for a decoder that does not
        decode syndromes it is given, e.g. recorded predictions, and for the baseline
        where it cannot decode the workload: its replay says why)."""
        from verifier.qec.decoder import fingerprint, is_precomputed

        if is_precomputed(decoder):
            return None
        key = (fingerprint(decoder), workload.stream_id)
        if key not in self._done:
            self._done[key] = self._probe(decoder, workload, key[0])
        probe = self._done[key]
        if isinstance(probe, FaultProbe):
            self._maybe_warn(decoder, probe, key[0])
        return probe

    def _probe(self, decoder: "Decoder", workload: "QecWorkload", fp: str) -> FaultProbe | ProbeSkipped | None:
        from verifier.errors import ResourceLimit
        from verifier.qec.decoder import fingerprint

        started = time.monotonic()
        syn = self._syndromes_for(workload)
        base = self._baseline_failures(workload, syn)
        if fp == fingerprint(self.baseline):
            if base is None:
                return None
            fail = base
        else:
            try:
                fail = failures(decoder.compile_for(workload), syn)
            except ResourceLimit as e:  # a time or memory limit is the replay's to report
                return ProbeSkipped(str(e))
        return compare_failures(fail, base, syn, time.monotonic() - started)

    def _syndromes_for(self, workload: "QecWorkload") -> ProbeSyndromes:
        sid = workload.stream_id
        if sid not in self._syndromes:
            self._syndromes[sid] = probe_syndromes(workload_dem(workload), workload.num_detectors,
                                                   workload.num_observables, distance=workload.distance,
                                                   weight2_samples=self.weight2_samples)
        return self._syndromes[sid]

    def _baseline_failures(self, workload: "QecWorkload", syn: ProbeSyndromes) -> np.ndarray | None:
        from verifier.errors import UsageError

        sid = workload.stream_id
        if sid not in self._baseline:
            try:
                self._baseline[sid] = failures(self.baseline.compile_for(workload), syn)
            except UsageError:  # e.g. a DEM that is not graphlike: no baseline column
                self._baseline[sid] = None
        return self._baseline[sid]

    def _maybe_warn(self, decoder: "Decoder", probe: FaultProbe, fp: str) -> None:
        if self.warn is None or not probe.suspect or fp in self._warned:
            return
        line = warning_line(decoder.name, probe, pinned=self.pins_circuit(decoder),
                            baseline=self.baseline.name)
        if line:
            self._warned.add(fp)
            self.warn(line)


def warning_line(name: str, probe: FaultProbe, *, pinned: bool, baseline: str = "pymatching") -> str | None:
    """The one stderr line for a suspect probe (None when there is nothing to say)."""
    if not probe.empty_syndrome_ok:
        return (f"sov: warning: {name} predicts a logical flip for the empty syndrome (no detection "
                "event): the decoder is broken (fault probe)")
    if not probe.weight1_failed_baseline_ok:
        return None
    head = (f"sov: warning: {name} gets {probe.weight1_failed_baseline_ok:,} of {probe.weight1_total:,} "
            f"single faults wrong that {baseline} corrects (fault probe)")
    if pinned:
        return head + "; the model names this circuit (sov.circuit_sha256), so the model itself is broken"
    return (head + ": it may have been built for another circuit or detector order; replay it with "
            "its own circuit (--circuit FILE.stim)")
