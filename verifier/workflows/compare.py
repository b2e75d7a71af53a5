"""Procurement comparisons: several decoders on the same grid of workloads.

:func:`run_compare` replays every decoder over every workload of a sweep (distances x
physical error rates, rounds = distance unless given), reusing whatever the store already
holds, then builds one JSON-able *payload* with every figure a report needs:

- per task: shots, errors, LER with its 95 % Clopper-Pearson interval, per-round LER,
  throughput, latency quantiles per round;
- per candidate and workload: exact McNemar test against the baseline on the *same
  shots* (per-shot failures read back from the store), and the same test pooled over
  workloads;
- per decoder: a summary row (ranking by the geometric mean of the LER ratio to the
  baseline), threshold and Lambda where the sweep allows and a fit module is installed;
- the models (file name, sha256, contract, metadata, size, operators), the workloads (ids
  and the ``sov qec run`` command that regenerates each), the environment, and any
  verdicts recorded in the store for these models.

The payload is stored in the run's summary, so ``sov report`` re-renders it without
running anything. Renderers live in ``reports/`` and read only the payload.
"""

from __future__ import annotations

import math
import platform
import shlex
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from verifier.qec.decoder import Decoder, fingerprint
from verifier.errors import IntegrityError, UsageError
from verifier.stats.binomial import clopper_pearson, per_round
from verifier.qec.workload import MemoryWorkload, QecWorkload

if TYPE_CHECKING:
    from verifier.engine.replay import ProgressFn
    from verifier.store.runs import Run
    from verifier.store.db import Store

PAYLOAD_SCHEMA = "sov.compare/1"
CONFIDENCE = 0.95
ALPHA = 0.05
LATENCY_SHOTS = 2000
# tail probabilities at which the latency survival curve is kept (for the plot)
TAIL_PROBS = tuple(float(x) for x in np.concatenate([np.linspace(0.99, 0.02, 50),
                                                     np.geomspace(0.019, 0.0005, 30)]))
ENV_PACKAGES = ("sov-verifier", "onnxruntime", "onnx", "stim", "pymatching", "qibocal", "numpy",
                "scipy", "duckdb")

ProgressFactory = Callable[[str, int, int], Any]  # (label, index, total) -> context manager yielding ProgressFn|None


@dataclass(frozen=True)
class Sweep:
    """The grid of workloads every decoder runs: distances x p, rounds = distance."""

    distances: tuple[int, ...]
    ps: tuple[float, ...]
    noise: str = "uniform"
    basis: str = "z"
    shots: int = 10_000
    seed: int = 0
    rounds: int | None = None  # None: rounds = distance

    def __post_init__(self) -> None:
        if not self.distances:
            raise UsageError("give at least one distance (--distances 3,5)")
        if not self.ps:
            raise UsageError("give at least one physical error rate (--p 0.002,0.004)")
        if len(set(self.distances)) != len(self.distances) or len(set(self.ps)) != len(self.ps):
            raise UsageError("--distances and --p must not repeat a value")

    def workloads(self) -> list[MemoryWorkload]:
        return [MemoryWorkload(d, self.rounds or d, self.basis.lower(), self.noise.lower(), float(p),
                               self.shots, self.seed)
                for d in sorted(self.distances) for p in sorted(self.ps)]

    def to_json(self) -> dict[str, Any]:
        return {"distances": sorted(self.distances), "ps": sorted(float(p) for p in self.ps),
                "noise": self.noise, "basis": self.basis, "shots": self.shots, "seed": self.seed,
                "rounds": self.rounds}


def parse_list(text: str, kind: type, flag: str) -> tuple:
    """``"3,5"`` -> ``(3, 5)``; a clear usage error otherwise."""
    items = [t.strip() for t in str(text).replace(";", ",").split(",") if t.strip()]
    try:
        return tuple(kind(t) for t in items)
    except ValueError:
        raise UsageError(f"{flag} takes a comma-separated list of {kind.__name__}s, got {text!r}") from None


# -- statistics ---------------------------------------------------------------------------

def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: ``b`` and ``c`` are the discordant counts."""
    n = b + c
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(min(b, c), n, 0.5, alternative="two-sided").pvalue)


def _bits(blobs: dict[tuple[int, int], bytes], blocks) -> np.ndarray | None:
    parts = []
    for b in blocks:
        blob = blobs.get((b.index, b.shots))
        if blob is None:
            return None
        parts.append(np.unpackbits(np.frombuffer(blob, dtype=np.uint8), count=b.shots,
                                   bitorder="little").astype(bool))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def paired_test(store: "Store", baseline_fp: str, candidate_fp: str, workload: QecWorkload) -> dict[str, Any]:
    """Exact McNemar test of a candidate against the baseline on the same shots."""
    base = _bits(store.block_failures(baseline_fp, workload.stream_id), workload.blocks())
    cand = _bits(store.block_failures(candidate_fp, workload.stream_id), workload.blocks())
    if base is None or cand is None:
        return {"workload_id": workload.id, "available": False}
    only_cand = int(np.count_nonzero(cand & ~base))  # candidate fails where the baseline succeeds
    only_base = int(np.count_nonzero(base & ~cand))
    both = int(np.count_nonzero(cand & base))
    return {"workload_id": workload.id, "available": True, "shots": int(base.size), "both_fail": both,
            "only_candidate_fails": only_cand, "only_baseline_fails": only_base,
            "p_value": mcnemar_exact(only_cand, only_base),
            "verdict": _paired_verdict(only_cand, only_base)}


def _paired_verdict(only_cand: int, only_base: int, alpha: float = ALPHA) -> str:
    if only_cand == only_base == 0:
        return "identical"
    if mcnemar_exact(only_cand, only_base) >= alpha:
        return "no significant difference"
    return "better" if only_base > only_cand else "worse"


# -- latency ------------------------------------------------------------------------------

def measure_latency(decoder: Decoder, workload: QecWorkload, *, shots: int = LATENCY_SHOTS,
                    warmup: int = 20) -> dict[str, Any]:
    """Decode ``shots`` shots of the workload's first block one at a time and time each,
    with :func:`verifier.workflows.latency.measure_shot_latency` (the method of ``sov qec latency``:
    the compiled decoder's whole ``decode_packed``, sandbox transport subtracted,
    collector paused), keeping the samples for the report's distribution plot.

    Latency per round = time to decode one shot (all its rounds) / rounds: what a
    real-time decoder would have to keep up with."""
    from verifier.workflows.latency import measure_shot_latency

    rounds = max(1, int(workload.rounds or 1))
    seconds = np.asarray(measure_shot_latency(decoder, workload, shots=shots, warmup=warmup), dtype=float)
    us = np.sort(seconds) * 1e6 / rounds
    if us.size == 0:
        return {"shots": 0}
    q = lambda x: float(np.quantile(us, x))  # noqa: E731
    return {"shots": int(us.size), "rounds": rounds, "unit": "us_per_round",
            "mean": float(us.mean()), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
            "max": float(us[-1]),
            "tail": [[p, float(np.quantile(us, 1.0 - p))] for p in TAIL_PROBS if p * us.size >= 1]}


# -- threshold and Lambda (verifier.stats.threshold / verifier.stats.suppression) ----------------------

THRESHOLD_BOOTSTRAP = 100
LAMBDA_BOOTSTRAP = 400


def threshold_and_lambda(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Threshold (finite-size-scaling fit, needs >= 2 distances and >= 3 p values) and Λ
    (per-round suppression, one fit per p over >= 2 distances) of one decoder's results.

    The summary's Λ is the one at the lowest p (deepest below threshold); every p's Λ is
    kept in ``lambda_by_p``. A fit that cannot be made says why in ``note``."""
    distances = sorted({r["distance"] for r in rows})
    ps = sorted({r["p"] for r in rows})
    out: dict[str, Any] = {"threshold": None, "threshold_ci": None, "threshold_fit": None, "lambda": None,
                           "lambda_ci": None, "lambda_p": None, "lambda_by_p": [], "note": None}
    notes = []
    if len(distances) < 2:
        out["note"] = "threshold and Λ need >= 2 distances"
        return out
    key = tuple(sorted((r["distance"], r["rounds"], r["p"], r["shots"], r["errors"]) for r in rows))
    th_part, lam_part, more = _fits(key)
    out.update(th_part)
    out.update(lam_part)
    notes += more
    out["note"] = "; ".join(notes) or None
    return out


@lru_cache(maxsize=64)
def _fits(key: tuple) -> tuple[dict, dict, list[str]]:
    """The fits for one set of counts (cached: identical decoders share them)."""
    rows = [dict(zip(("distance", "rounds", "p", "shots", "errors"), k)) for k in key]
    distances = sorted({r["distance"] for r in rows})
    ps = sorted({r["p"] for r in rows})
    th: dict[str, Any] = {}
    lam: dict[str, Any] = {"lambda_by_p": []}
    notes: list[str] = []
    if len(ps) < 3:
        notes.append("threshold needs >= 3 p values")
    elif not _curves_cross(rows, distances, ps):
        notes.append("threshold: the curves of successive distances do not cross inside the swept rates "
                     "(all below or all above threshold)")
        th["threshold_fit"] = {"status": "no_crossing", "message": notes[-1], "crossings": []}
    else:
        try:
            from verifier.stats.threshold import LerPoint, fit_threshold

            fit = fit_threshold([LerPoint(r["distance"], r["p"], r["shots"], r["errors"]) for r in rows],
                                bootstrap=THRESHOLD_BOOTSTRAP)
            js = fit.to_json()
            th["threshold_fit"] = {k: js.get(k) for k in ("threshold", "threshold_ci", "status", "message",
                                                            "crossings", "curves")}
            if fit.status == "ok" and fit.threshold is not None:
                th["threshold"] = fit.threshold
                th["threshold_ci"] = list(fit.threshold_ci)
            else:
                notes.append(f"threshold: {fit.message or fit.status}")
        except ImportError:
            notes.append("threshold: fit module not installed")
        except (ValueError, ArithmeticError) as e:
            notes.append(f"threshold: {e}")
    try:
        from verifier.stats.suppression import EpsilonPoint, fit_lambda

        for p in ps:
            pts = [EpsilonPoint(r["distance"], r["rounds"], r["shots"], r["errors"]) for r in rows if r["p"] == p]
            if len(pts) < 2:
                continue
            fit = fit_lambda(pts, bootstrap=LAMBDA_BOOTSTRAP)
            lam["lambda_by_p"].append({"p": p, "lambda": fit.lam, "lambda_ci": list(fit.lam_ci),
                                       "status": fit.status, "message": fit.message,
                                       "pairwise": list(fit.pairwise)})
        first = next((x for x in lam["lambda_by_p"] if x["lambda"] is not None), None)
        if first is not None:
            lam.update({"lambda": first["lambda"], "lambda_ci": first["lambda_ci"], "lambda_p": first["p"]})
            if first["status"] != "ok":
                notes.append(f"Λ at p={first['p']:g}: {first['message']}")
        elif lam["lambda_by_p"]:
            notes.append(f"Λ: {lam['lambda_by_p'][0]['message']}")
    except ImportError:
        notes.append("Λ: fit module not installed")
    return th, lam, notes


def _curves_cross(rows: list[dict], distances: list[int], ps: list[float]) -> bool:
    """Whether the LER curves of two successive distances change order inside the sweep."""
    ler = {(r["distance"], r["p"]): r["errors"] / r["shots"] for r in rows if r["shots"]}
    for da, db in zip(distances, distances[1:]):
        signs = {math.copysign(1.0, ler[(db, p)] - ler[(da, p)]) for p in ps
                 if (da, p) in ler and (db, p) in ler and ler[(db, p)] != ler[(da, p)]}
        if len(signs) > 1:
            return True
    return False


# -- environment, models, workloads ---------------------------------------------------------

def environment() -> dict[str, Any]:
    """Versions (without importing the heavy packages) and the machine."""
    from importlib import metadata

    versions = {}
    for pkg in ENV_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
            "cpu": cpu or "unknown", "cores": cores, "load_average": load, "packages": versions}


def model_details(decoder: Decoder) -> dict[str, Any] | None:
    """File name, sha256, contract, metadata, size and operators of an ONNX decoder."""
    path = getattr(decoder, "path", None)
    if not decoder.model_sha256 or not path:
        return None
    from adapters.onnx_model import inspect_model

    info = inspect_model(path)
    return {"file_name": info.file_name, "path": info.path, "sha256": info.sha256,
            "contract": getattr(decoder, "contract", None) or info.metadata.get("sov.contract"),
            "metadata": dict(info.metadata), "size_bytes": info.size_bytes, "opset": info.opset,
            "ir_version": info.ir_version, "producer": info.producer, "operators": list(info.operators),
            "parameters": info.parameters, "inputs": [t.show() for t in info.inputs],
            "outputs": [t.show() for t in info.outputs]}


def regenerate_command(workload: MemoryWorkload, decoder_spec: str = "pymatching") -> str:
    args = ["sov", "qec", "run", "--decoder", decoder_spec, "--distance", str(workload.distance),
            "--rounds", str(workload.rounds), "--basis", workload.basis, "--noise", workload.noise,
            "--p", f"{workload.p:g}", "--shots", str(workload.shots), "--seed", str(workload.seed)]
    return shlex.join(args)


def compare_command(specs: Sequence[str], sweep: Sweep) -> str:
    args = ["sov", "compare"]
    for s in specs:
        args += ["--decoder", s]
    args += ["--distances", ",".join(str(d) for d in sorted(sweep.distances)),
             "--p", ",".join(f"{p:g}" for p in sorted(sweep.ps)), "--noise", sweep.noise,
             "--basis", sweep.basis, "--shots", str(sweep.shots), "--seed", str(sweep.seed)]
    if sweep.rounds:
        args += ["--rounds", str(sweep.rounds)]
    return shlex.join(args)


def find_verdicts(store: "Store", keys: Sequence[str]) -> list[dict[str, Any]]:
    """Gate verdicts recorded in the store (``sov accept``, drift checks) that concern any of
    ``keys`` (model hashes or decoder fingerprints), newest first, with their evidence hash."""
    keys = [k for k in keys if k]
    if not keys:
        return []
    try:
        tables = {r[0] for r in store.query("SELECT table_name FROM information_schema.tables")}
        if "verdicts" not in tables:
            return []
        rows = store.query("SELECT verdict_id, run_id, kind, subject, verdict, exit_code, record_hash, "
                           "CAST(recorded_at AS VARCHAR), CAST(gates AS VARCHAR), CAST(figures AS VARCHAR) "
                           "FROM verdicts ORDER BY recorded_at DESC")
    except Exception:  # an older store, or a schema this sov does not know: no verdicts section
        return []
    out: list[dict[str, Any]] = []
    for vid, rid, kind, subject, verdict, code, rhash, at, gates, figures in rows:
        text = f"{subject} {gates} {figures}"
        hit = [k for k in keys if k in text]
        if not hit:
            continue
        gate_names = []
        try:
            import json

            g = json.loads(gates) if gates else None
            if isinstance(g, list):
                gate_names = [f"{x.get('name')}: {x.get('status')}" for x in g if isinstance(x, dict)]
            elif isinstance(g, dict):
                gate_names = [f"{k}: {v.get('status') if isinstance(v, dict) else v}" for k, v in g.items()]
        except ValueError:
            pass
        out.append({"verdict_id": vid, "run_id": rid, "kind": kind, "subject": subject, "verdict": verdict,
                    "exit_code": code, "evidence_hash": rhash, "recorded_at": at, "gates": gate_names,
                    "matches": hit})
    return out[:100]


# -- the comparison ------------------------------------------------------------------------

@dataclass
class Candidate:
    """One decoder of the comparison, as the user named it."""

    spec: str
    decoder: Decoder
    label: str = ""
    baseline: bool = False
    fp: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.fp = fingerprint(self.decoder)
        if not self.label:
            self.label = self.decoder.name


def _labels(cands: list[Candidate]) -> None:
    seen: dict[str, int] = {}
    for c in cands:
        seen[c.label] = seen.get(c.label, 0) + 1
    for c in cands:
        if seen[c.label] > 1 and c.decoder.model_sha256:
            c.label = f"{c.label} ({c.decoder.model_sha256[:8]})"


def run_compare(candidates: list[Candidate], sweep: Sweep, *, run: "Run", workers: int = 1,
                latency_shots: int = LATENCY_SHOTS, argv: Sequence[str] | None = None,
                progress: Callable[[str, int, int], Any] | None = None,
                calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every (decoder, workload) the store does not hold yet and build the payload.

    ``progress(label, index, total)`` returns a context manager that yields a
    ``ProgressFn`` (or None); ``calibration`` is an already-computed calibration section
    (extension point for calibration models). A decoder that fails integrity (NaN
    outputs, changed file) is reported as such and the run's exit code becomes 4."""
    from contextlib import nullcontext

    from verifier.workflows.qec import run_task

    if not candidates:
        raise UsageError("give at least one --decoder")
    baselines = [c for c in candidates if c.baseline]
    if len(baselines) != 1:
        raise UsageError("exactly one decoder must be the baseline")
    baseline = baselines[0]
    fps = [c.fp for c in candidates]
    if len(set(fps)) != len(fps):
        dup = next(c.spec for c in candidates if fps.count(c.fp) > 1)
        raise UsageError(f"decoder {dup!r} is given twice (same model and options)")
    _labels(candidates)
    workloads = sweep.workloads()
    for c in candidates:  # refuse before any shot a decoder that cannot serve a workload
        for w in workloads:
            c.decoder.check(w)

    store = run.store
    results: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    total = len(candidates) * len(workloads)
    i = 0
    started = time.monotonic()
    for w in workloads:
        for c in candidates:
            i += 1
            label = f"{c.label}  d={w.distance} p={w.p:g}"
            if c.fp in failed:
                continue
            ctx = progress(label, i, total) if progress else nullcontext(None)
            try:
                with ctx as prog:
                    res = run_task(c.decoder, w, run=run, workers=workers, progress=prog)
                    # inside the bar's context: it stays up while the latency probe runs
                    lat = measure_latency(c.decoder, w, shots=latency_shots) if latency_shots > 0 else {"shots": 0}
            except IntegrityError as e:
                failed[c.fp] = str(e)
                continue
            s = res.stats
            lo, hi = clopper_pearson(s.errors, s.shots, CONFIDENCE)
            results.append({
                "decoder": c.fp, "workload_id": w.id, "distance": w.distance, "rounds": w.rounds,
                "p": float(w.p), "shots": s.shots, "errors": s.errors, "ler": s.ler, "ler_ci": [lo, hi],
                "ler_per_round": res.ler_per_round,
                "ler_per_round_ci": [per_round(lo, w.rounds), per_round(hi, w.rounds)],
                "seconds": s.seconds, "shots_per_second": s.shots_per_second,
                "reused_shots": res.reused_shots, "latency": lat})
    elapsed = time.monotonic() - started
    env = environment()  # load average right after the measurements

    paired = []
    for c in candidates:
        if c is baseline or c.fp in failed or baseline.fp in failed:
            continue
        for w in workloads:
            paired.append({"decoder": c.fp, **paired_test(store, baseline.fp, c.fp, w)})

    decoders = []
    for c in candidates:
        decoders.append({"key": c.fp, "label": c.label, "spec": c.spec, "name": c.decoder.name,
                         "baseline": c.baseline, "fingerprint": c.fp, "model_sha256": c.decoder.model_sha256,
                         "fingerprint_spec": c.decoder.fingerprint_spec(), "model": model_details(c.decoder),
                         "integrity_failure": failed.get(c.fp)})
    wl = [{"id": w.id, "stream_id": w.stream_id, "distance": w.distance, "rounds": w.rounds, "p": float(w.p),
           "noise": w.noise, "basis": w.basis, "shots": w.shots, "seed": w.seed, "spec": w.spec(),
           "description": w.describe(), "num_detectors": w.num_detectors, "command": regenerate_command(w)}
          for w in workloads]
    payload = {
        "schema": PAYLOAD_SCHEMA, "run_id": run.run_id, "db": store.path,
        "created_at": _now_iso(), "elapsed_seconds": elapsed, "confidence": CONFIDENCE, "alpha": ALPHA,
        "baseline": baseline.fp, "sweep": sweep.to_json(), "decoders": decoders, "workloads": wl,
        "results": results, "paired": paired,
        "command": compare_command([c.spec for c in candidates], sweep),
        "argv": list(argv) if argv is not None else None,
        "environment": env,
        "verdicts": find_verdicts(store, [c.decoder.model_sha256 for c in candidates] + fps),
        "calibration": calibration,
    }
    payload["summary"] = summarize(payload)
    if failed:
        run.exit_code = int(IntegrityError.exit_code)
    return json_safe(payload)


def json_safe(obj: Any) -> Any:
    """Plain JSON types only: numpy scalars to Python numbers, NaN/Inf to None, tuples to lists
    (the payload is stored in DuckDB's JSON column and must read back identically)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def _now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def summarize(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per decoder, ranked: geometric mean LER ratio to the baseline (ties: errors)."""
    base = payload["baseline"]
    res = payload["results"]
    by = {(r["decoder"], r["workload_id"]): r for r in res}
    wids = [w["id"] for w in payload["workloads"]]
    largest = max(payload["workloads"], key=lambda w: (w["distance"], w["p"])) if payload["workloads"] else None
    rows = []
    for d in payload["decoders"]:
        mine = [r for r in res if r["decoder"] == d["key"]]
        shots = sum(r["shots"] for r in mine)
        errors = sum(r["errors"] for r in mine)
        seconds = sum(r["seconds"] for r in mine)
        logs = []
        for wid in wids:
            a, b = by.get((d["key"], wid)), by.get((base, wid))
            if a and b and a["shots"] and b["shots"]:
                # +0.5 continuity keeps a zero-error workload finite
                logs.append(math.log(((a["errors"] + 0.5) / a["shots"]) / ((b["errors"] + 0.5) / b["shots"])))
        ratio = math.exp(sum(logs) / len(logs)) if logs else None
        pr = [p for p in payload["paired"] if p["decoder"] == d["key"] and p.get("available")]
        oc = sum(p["only_candidate_fails"] for p in pr)
        ob = sum(p["only_baseline_fails"] for p in pr)
        head = by.get((d["key"], largest["id"])) if largest else None
        lat = (head or {}).get("latency") or {}
        th = threshold_and_lambda(mine) if mine else {}
        lo, hi = clopper_pearson(errors, shots, CONFIDENCE) if shots else (None, None)
        rows.append({
            "decoder": d["key"], "label": d["label"], "baseline": d["baseline"],
            "model_sha256": d["model_sha256"], "integrity_failure": d["integrity_failure"],
            "shots": shots, "errors": errors, "pooled_ler": errors / shots if shots else None,
            "pooled_ler_ci": [lo, hi], "ratio_to_baseline": 1.0 if d["key"] == base else ratio,
            "paired": None if d["key"] == base or not pr else {
                "only_candidate_fails": oc, "only_baseline_fails": ob, "p_value": mcnemar_exact(oc, ob),
                "verdict": _paired_verdict(oc, ob, payload.get("alpha", ALPHA)), "workloads": len(pr)},
            "latency_workload": largest["id"] if largest else None,
            "latency_p50": lat.get("p50"), "latency_p99": lat.get("p99"), "latency_p999": lat.get("p999"),
            "throughput": shots / seconds if seconds > 0 else None,
            "threshold": th.get("threshold"), "threshold_ci": th.get("threshold_ci"),
            "threshold_fit": th.get("threshold_fit"), "lambda": th.get("lambda"), "lambda_ci": th.get("lambda_ci"),
            "lambda_p": th.get("lambda_p"), "lambda_by_p": th.get("lambda_by_p"), "threshold_note": th.get("note"),
        })
    rows.sort(key=lambda r: (r["integrity_failure"] is not None, r["ratio_to_baseline"] is None,
                             r["ratio_to_baseline"] if r["ratio_to_baseline"] is not None else 0.0,
                             r["errors"]))
    for k, r in enumerate(rows, 1):
        r["rank"] = k
    return rows


# -- reading back ------------------------------------------------------------------------

def load_payload(store: "Store", run_id: str | None = None) -> dict[str, Any]:
    """The compare payload of ``run_id`` (or of the latest compare run) from the store."""
    import json

    if run_id:
        rows = store.query("SELECT run_id, command, status, summary FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise UsageError(f"no run {run_id!r} in the store {store.path}")
    else:
        rows = store.query("SELECT run_id, command, status, summary FROM runs WHERE command = 'compare' "
                           "AND summary IS NOT NULL ORDER BY started_at DESC")
        rows = [r for r in rows if r[3] and "report" in (json.loads(r[3]) or {})][:1]
        if not rows:
            raise UsageError(f"no compare run with a report in the store {store.path} (run sov compare first)")
    rid, command, status, summary = rows[0]
    data = json.loads(summary) if summary else {}
    if not isinstance(data, dict) or "report" not in data:
        raise UsageError(f"run {rid} ({command}, {status}) holds no comparison report")
    return data["report"]


# -- calibration models (verifier.calib) --------------------------------------------------

CAL_BASELINES = ("qibocal", "sov-reference")


def calibration_section(models: Sequence[str], experiment: str | None = None, *, repeats: int | None = None,
                        seed: int = 0, resolve: Callable[..., Any]) -> dict[str, Any]:
    """Calibration models next to Qibocal and sov's reference estimator, on exactly the same
    simulated qubits (known truth): per parameter the error figures, and every repeat's error
    for the distribution plots. Uses ``verifier.calib`` (run, simulator, metrics); ``resolve``
    builds a model from its name (``verifier.cli.wiring.calibration_model_from_spec``)."""
    from verifier.calib.experiments import experiment as get_experiment
    from verifier.calib.run import default_repeats, evaluate
    from verifier.calib.simulator import CalWorkload, default_shots, simulate

    specs = list(CAL_BASELINES) + [m for m in models if m not in CAL_BASELINES]
    if experiment is None:
        first = next((m for m in models if m not in CAL_BASELINES), None)
        if first is None:
            raise UsageError("give --experiment with the calibration baselines")
        m0 = resolve(first, None)
        try:
            experiment = m0.experiment
        finally:
            if hasattr(m0, "close"):
                m0.close()
    exp = get_experiment(experiment)
    wl = CalWorkload(exp.name, int(repeats or default_repeats(exp.name)), seed, default_shots(exp.name))
    data = simulate(exp.name, wl.repeats, seed=wl.seed, shots=wl.shots)
    rows: list[dict[str, Any]] = []
    dists: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for spec in specs:
        model = resolve(spec, exp.name)
        try:
            r = evaluate(model, wl, data)
        finally:
            if hasattr(model, "close"):
                model.close()
        entries.append({"model": r.model, "spec": spec, "baseline": spec in CAL_BASELINES,
                        "model_sha256": r.model_sha256, "fingerprint": r.fingerprint,
                        "seconds": r.seconds, "failures": len(r.failures), "notes": list(r.notes)})
        for p, f in r.figures.items():
            row = {"model": r.model, "parameter": p, "repeats": wl.repeats, "seconds": r.seconds,
                   "baseline": spec in CAL_BASELINES}
            row.update({k: v for k, v in f.items() if k not in ("repeats",)})
            rows.append(row)
        if exp.kind == "readout":
            v = np.asarray(r.values, dtype=float)
            dists.append({"model": r.model, "parameter": "assignment_fidelity", "metric": "1 − assignment fidelity",
                          "values": sorted(float(x) for x in (1.0 - v[np.isfinite(v)])),
                          "failures": int((~np.isfinite(v)).sum())})
        else:
            for p in exp.param_names:
                e = np.asarray(r.errors.get(f"{p}.rel", []), dtype=float)
                dists.append({"model": r.model, "parameter": p, "metric": "|relative error|",
                              "values": sorted(float(x) for x in e[np.isfinite(e)]),
                              "failures": int((~np.isfinite(e)).sum())})
    return {"title": f"Calibration models: {exp.name} (simulated qubits, known truth)", "experiment": exp.name,
            "kind": exp.kind, "workload": wl.spec(), "workload_id": wl.id, "models": entries, "rows": rows,
            "distributions": dists}


def calibration_only_payload(run: "Run", calibration: dict[str, Any], *, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The payload of a comparison of calibration models alone (no QEC sweep)."""
    models = [m["spec"] for m in calibration.get("models", []) if not m.get("baseline")]
    cmd = ["sov", "compare"]
    for m in models:
        cmd += ["--calib-model", m]
    cmd += ["--experiment", calibration["experiment"]]
    return json_safe({
        "schema": PAYLOAD_SCHEMA, "run_id": run.run_id, "db": run.store.path, "created_at": _now_iso(),
        "elapsed_seconds": None, "confidence": CONFIDENCE, "alpha": ALPHA, "baseline": None, "sweep": None,
        "decoders": [], "workloads": [], "results": [], "paired": [], "summary": [],
        "command": shlex.join(cmd), "argv": list(argv) if argv is not None else None,
        "environment": environment(),
        "verdicts": find_verdicts(run.store, [m.get("model_sha256") for m in calibration.get("models", [])]),
        "calibration": calibration})
