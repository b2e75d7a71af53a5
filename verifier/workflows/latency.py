"""Decoding latency, not throughput: how long one shot takes when it arrives alone.

A real-time decoder sees one shot (one syndrome history) at a time and must keep up with
the QEC cycle: about 1 µs per round on superconducting hardware. Throughput numbers
(shots per second at batch 8192) hide that. :func:`measure_latency` compiles the decoder
under test in this process, exactly as a worker does (for an ONNX model this includes
the model sandbox, whose transport time is subtracted), decodes ``warmup`` shots that are not
counted, then times ``shots`` single-shot calls (``batch`` = 1 by default) with
``perf_counter_ns`` and the garbage collector paused. It reports percentiles p50 / p99 /
p99.9 per shot and per round (per-shot latency / rounds), next to the budget
``rounds x budget_us_per_round``, and the fraction of shots decoded within it.

The timed call is the decoder's whole ``decode_packed``: bit-packed detection events in,
bit-packed observable flips out, with every conversion sov does, minus the time the
call spent crossing the model sandbox's process boundary (reported separately as
``sandbox_transport_us``): the sandbox protects sov, it is not part of the decoder a
control loop would run. Timings are wall-clock on a shared, non-real-time OS: the tail
(p99.9) includes scheduler noise, which is reported as measured.
"""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from verifier.qec.decoder import Decoder, fingerprint, is_precomputed, transport_seconds
from verifier.errors import UsageError
from verifier.qec.workload import QecWorkload

DEFAULT_BUDGET_US_PER_ROUND = 1.0
PERCENTILES = (50.0, 99.0, 99.9)
DISTRIBUTION_SHOTS = 2000
# tail probabilities at which a latency survival curve is kept (for a report's plot)
TAIL_PROBS = tuple(float(x) for x in np.concatenate([np.linspace(0.99, 0.02, 50),
                                                     np.geomspace(0.019, 0.0005, 30)]))


@dataclass(frozen=True)
class LatencyResult:
    decoder: str
    fingerprint: str
    workload_id: str
    workload: dict
    rounds: int | None
    batch: int
    shots: int  # timed shots (after warm-up)
    warmup: int
    per_shot_us: dict[str, float]  # p50, p99, p99.9, mean, min, max
    per_round_us: dict[str, float] | None  # per_shot / rounds; None without rounds
    budget_us_per_round: float
    budget_us_per_shot: float | None
    within_budget: float | None  # fraction of timed shots decoded within the budget
    errors: int  # logical errors among the timed shots (a sanity check, not a rate)
    compile_seconds: float
    sandbox_transport_us: dict[str, float] | None = None  # per call, subtracted above
    environment: dict = field(default_factory=dict)

    @property
    def meets_budget(self) -> bool | None:
        if self.per_round_us is None:
            return None
        return self.per_round_us["p99"] <= self.budget_us_per_round

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["meets_budget_p99"] = self.meets_budget
        return d


def percentiles(samples_ns: np.ndarray) -> dict[str, float]:
    """p50 / p99 / p99.9 (numpy's linear interpolation), mean, min and max, in µs."""
    us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    p = np.percentile(us, PERCENTILES)
    return {"p50": float(p[0]), "p99": float(p[1]), "p99.9": float(p[2]),
            "mean": float(us.mean()), "min": float(us.min()), "max": float(us.max())}


def _environment() -> dict[str, Any]:
    import os
    import platform

    from verifier.environment import cores

    return {"python": platform.python_version(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "cores": cores(),
            "sandbox": os.environ.get("SOV_SANDBOX", "1") != "0"}


def measure_latency(decoder: Decoder, workload: QecWorkload, *, shots: int = 10_000,
                    warmup: int = 1_000, batch: int = 1,
                    budget_us_per_round: float = DEFAULT_BUDGET_US_PER_ROUND,
                    progress: Callable[[int, int], None] | None = None) -> LatencyResult:
    """Time ``shots`` calls of ``batch`` shot(s) each, after ``warmup`` untimed calls.

    The shots are the workload's first shots (its block 0, 1, ...), so two decoders
    measured on one workload see the same syndromes. ``progress``: :func:`time_calls`'."""
    if shots < 1 or warmup < 0 or batch < 1:
        raise UsageError("latency needs --shots >= 1, --warmup >= 0 and --batch-size >= 1")
    if budget_us_per_round <= 0:
        raise UsageError(f"--budget-us must be positive, got {budget_us_per_round}")
    if is_precomputed(decoder):
        raise UsageError(f"{decoder.name} holds predictions made elsewhere: it has no decoding latency")
    decoder.check(workload)
    need = (shots + warmup) * batch
    if need > workload.shots:
        raise UsageError(f"latency needs {need:,} shots ((--shots + --warmup) x --batch-size) but the "
                         f"workload has {workload.shots:,}: give a larger workload --shots")
    t0 = time.perf_counter()
    compiled = decoder.compile_for(workload)
    compile_s = time.perf_counter() - t0

    dets_parts, obs_parts, have = [], [], 0
    for b in workload.blocks():
        d, o = workload.sample_block(b)
        dets_parts.append(d)
        obs_parts.append(o)
        have += b.shots
        if have >= need:
            break
    dets = np.ascontiguousarray(np.concatenate(dets_parts)[:need])
    obs = np.concatenate(obs_parts)[:need]
    calls = [dets[i * batch:(i + 1) * batch] for i in range(shots + warmup)]

    samples, transport, preds = time_calls(compiled, calls, warmup, progress)
    pred = np.concatenate([np.asarray(p, dtype=np.uint8).reshape(batch, -1) for p in preds])
    truth = obs[warmup * batch:]
    if pred.shape != truth.shape:
        from verifier.errors import IntegrityError

        raise IntegrityError(f"decoder returned predictions of shape {pred.shape}, expected {truth.shape}")
    errors = int(np.any(pred != truth, axis=1).sum())

    per_call = samples / batch if batch > 1 else samples  # ns per shot
    shot_stats = percentiles(per_call)
    rounds = workload.rounds
    per_round = {k: v / rounds for k, v in shot_stats.items()} if rounds else None
    budget_shot = budget_us_per_round * rounds if rounds else None
    within = float(np.mean(per_call / 1e3 <= budget_shot)) if budget_shot else None
    return LatencyResult(decoder.name, fingerprint(decoder), workload.id, workload.spec(), rounds,
                         batch, shots, warmup, shot_stats, per_round, budget_us_per_round,
                         budget_shot, within, errors, compile_s, environment=_environment(),
                         sandbox_transport_us=percentiles(transport) if transport.any() else None)


PROGRESS_EVERY_NS = 250_000_000  # a timing's progress is reported at most this often


def time_calls(compiled, calls: list[np.ndarray], warmup: int,
               progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Decode ``calls[:warmup]`` untimed, then time each later call with the collector
    paused. Returns (decoder ns per call with sandbox transport subtracted, transport ns
    per call, predictions). ``progress(timed, total)``: calls timed so far, outside the
    timed spans and at most every :data:`PROGRESS_EVERY_NS`, so that a fast decoder's
    timing is not disturbed by its own progress bar."""
    for x in calls[:warmup]:
        compiled.decode_packed(x)
    n = len(calls) - warmup
    samples = np.empty(n, dtype=np.int64)
    transport = np.zeros(n, dtype=np.int64)
    preds = []
    clock = time.perf_counter_ns
    shown = clock()
    if progress is not None:
        progress(0, n)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for i, x in enumerate(calls[warmup:]):
            before = transport_seconds(compiled)
            t = clock()
            y = compiled.decode_packed(x)
            elapsed = clock() - t
            moved = int((transport_seconds(compiled) - before) * 1e9)
            transport[i] = min(max(moved, 0), elapsed)
            samples[i] = elapsed - transport[i]
            preds.append(y)
            if progress is not None and t + elapsed - shown >= PROGRESS_EVERY_NS:
                progress(i + 1, n)
                shown = clock()
    finally:
        if gc_was:
            gc.enable()
    if progress is not None:
        progress(n, n)
    return samples, transport, preds


def measure_shot_latency(decoder: Decoder, workload: QecWorkload, *, shots: int = 2_000,
                         warmup: int = 20, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Per-shot decode seconds (batch 1, same method as :func:`measure_latency`) of the
    workload's first shots, for distribution plots (``progress``: :func:`time_calls`')."""
    from verifier.engine.blocks import compiled_decoder  # the per-process cache: no second sandbox start

    compiled = compiled_decoder(decoder, workload)
    dets, _ = workload.sample_block(workload.blocks()[0])
    n = min(shots + warmup, dets.shape[0])
    calls = [dets[i:i + 1] for i in range(n)]
    samples, _, _ = time_calls(compiled, calls, min(warmup, n - 1), progress)
    return samples * 1e-9


def latency_distribution(decoder: Decoder, workload: QecWorkload, *, shots: int = DISTRIBUTION_SHOTS,
                         warmup: int = 20, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Per-round latency of ``shots`` single-shot calls (:func:`measure_shot_latency`) as
    quantiles (µs per round: the time to decode one shot, all its rounds, / rounds, what a
    real-time decoder must keep up with) and the survival curve at :data:`TAIL_PROBS`,
    for a report's distribution plot."""
    if shots <= 0 or is_precomputed(decoder):  # predictions made elsewhere: no latency to measure
        return {"shots": 0}
    rounds = max(1, int(workload.rounds or 1))
    seconds = np.asarray(measure_shot_latency(decoder, workload, shots=shots, warmup=warmup,
                                              progress=progress), dtype=float)
    us = np.sort(seconds) * 1e6 / rounds
    if us.size == 0:
        return {"shots": 0}
    q = lambda x: float(np.quantile(us, x))  # noqa: E731
    return {"shots": int(us.size), "rounds": rounds, "unit": "us_per_round",
            "mean": float(us.mean()), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
            "max": float(us[-1]),
            "tail": [[p, float(np.quantile(us, 1.0 - p))] for p in TAIL_PROBS if p * us.size >= 1]}


def record_latency(decoder: Decoder, workload: QecWorkload, *, store, **options: Any) -> tuple[LatencyResult, dict]:
    """:func:`measure_latency` (``options``: its keywords) in a recorded ``qec latency``
    run; the JSON payload (with the store's path and the run id) is the run's summary."""
    from verifier.store.runs import recorded_run

    with recorded_run(store, "qec latency") as rec:
        store.record_decoder(fingerprint(decoder), decoder.name, decoder.model_sha256, decoder.fingerprint_spec())
        store.record_workload(workload)
        res = measure_latency(decoder, workload, **options)
        payload = res.to_json()
        payload["db"] = store.path
        payload["run_id"] = rec.run_id
        rec.summary = {"latency": payload}
    return res, payload
