"""The run over candidates: every decoder over every workload of the grid, reusing what
the store holds, then the payload (``payload.py``) built from the results."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from verifier.errors import IntegrityError, ResourceLimit, UsageError
from verifier.jsonsafe import json_safe
from verifier.qec.decoder import Decoder, fingerprint, is_precomputed, member_for, member_json
from verifier.qec.grid import SweepSpec
from verifier.stats.binomial import CONFIDENCE, clopper_pearson, per_round
from verifier.workflows.latency import latency_distribution
from verifier.workflows.compare.details import (LATENCY_SHOTS, ModelInspector, compare_command,
                                                environment, model_details, sweep_json)
from verifier.workflows.compare.paired import paired_test
from verifier.workflows.compare.procurement import settings
from verifier.workflows.compare.payload import header, summarize, workload_entry
from verifier.workflows.compare.recorded import find_verdicts
from verifier.workflows.syndromes import refuse_unexported

if TYPE_CHECKING:
    from verifier.store.runs import Run

# (label, index, total) -> a context manager yielding a ProgressFn or None (for the latency
# phase: a (timed, total) callback or None)
ProgressFactory = Callable[[str, int, int], Any]


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


def _baseline(candidates: list[Candidate]) -> Candidate:
    """The one baseline, after refusing a list that cannot be compared."""
    if not candidates:
        raise UsageError("give at least one --decoder")
    baselines = [c for c in candidates if c.baseline]
    if len(baselines) != 1:
        raise UsageError("exactly one decoder must be the baseline")
    fps = [c.fp for c in candidates]
    if len(set(fps)) != len(fps):
        dup = next(c.spec for c in candidates if fps.count(c.fp) > 1)
        raise UsageError(f"decoder {dup!r} is given twice (same model and options)")
    return baselines[0]


def _fp_for(c: Candidate, w) -> str:
    """The fingerprint the store keeps ``c``'s blocks of ``w`` under: a family's member's."""
    member = member_for(c.decoder, w)
    return c.fp if member is c.decoder else fingerprint(member)


def _is_model(c: Candidate) -> bool:
    """A vendor's model (a file, a family, predictions), not an open baseline."""
    return c.decoder.model_sha256 is not None or callable(getattr(c.decoder, "members_json", None))


def _best_open(candidates: list[Candidate], results: list[dict[str, Any]],
               failed: dict[str, str]) -> dict[str, Candidate]:
    """Per workload id, the open baseline with the fewest failures on its shots (ties: the
    reference baseline, then the order given)."""
    errors = {(r["decoder"], r["workload_id"]): r["errors"] for r in results}
    opens = sorted((c for c in candidates if not _is_model(c) and c.fp not in failed),
                   key=lambda c: not c.baseline)
    out: dict[str, Candidate] = {}
    for wid in {r["workload_id"] for r in results}:
        have = [c for c in opens if (c.fp, wid) in errors]
        if have:
            out[wid] = min(have, key=lambda c: errors[(c.fp, wid)])
    return out


def _result_row(c: Candidate, w, res, lat: dict[str, Any]) -> dict[str, Any]:
    s = res.stats
    lo, hi = clopper_pearson(s.errors, s.shots, CONFIDENCE)
    return {"decoder": c.fp, "workload_id": w.id, "distance": w.distance, "rounds": w.rounds,
            "p": float(w.p), "shots": s.shots, "errors": s.errors, "ler": s.ler, "ler_ci": [lo, hi],
            "ler_per_round": res.ler_per_round,
            "ler_per_round_ci": [per_round(lo, w.rounds), per_round(hi, w.rounds)],
            "seconds": s.seconds, "shots_per_second": s.shots_per_second,
            "reused_shots": res.reused_shots, "latency": lat, "fault_probe": res.figures.get("fault_probe"),
            **_member(c, w, res),
            **({"commitment": res.figures["commitment"]} if "commitment" in res.figures else {})}


def _member(c: Candidate, w, res) -> dict[str, Any]:
    """The family member that ran a task, as sweeps name it (nothing for one decoder)."""
    if res.fingerprint == c.fp:
        return {}
    return {"member": member_json(member_for(c.decoder, w), res.fingerprint)}


def _run_tasks(candidates: list[Candidate], workloads: list, *, run: "Run", workers: int, latency_shots: int,
               progress: ProgressFactory | None, probe: Callable | None = None,
               latency_progress: ProgressFactory | None = None) -> tuple[list[dict[str, Any]], dict[str, str], int]:
    """Every (decoder, workload) task, each model probed first (``probe``), then timed
    (with a ``latency_progress`` bar of its own); a decoder that fails integrity or hits a
    resource limit is dropped from the remaining tasks and named in the returned failures
    (fingerprint -> message), with the exit code the worst of them asks for (0: none)."""
    from verifier.workflows.qec import run_task

    results: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    codes: dict[str, int] = {}
    total = len(candidates) * len(workloads)
    i = 0
    for w in workloads:
        for c in candidates:
            i += 1
            if c.fp in failed:
                continue
            label = f"{c.label}  d={w.distance} p={w.p:g}"
            ctx = progress(label, i, total) if progress else nullcontext(None)
            try:
                dec = member_for(c.decoder, w)  # a family: the member for this point
                timed = latency_progress is not None and latency_shots > 0 and not is_precomputed(dec)
                with ctx as prog:
                    res = run_task(dec, w, run=run, workers=workers, progress=prog,
                                   probe=probe if dec.model_sha256 else None)
                with latency_progress(label, i, total) if timed else nullcontext(None) as lat_prog:
                    lat = latency_distribution(dec, w, shots=latency_shots, progress=lat_prog)
            except (IntegrityError, ResourceLimit) as e:  # that candidate fails, the others go on
                failed[c.fp] = str(e)
                codes[c.fp] = int(e.exit_code)
                continue
            results.append(_result_row(c, w, res, lat))
    return results, failed, max(codes.values(), default=0)


def _decoder_entry(c: Candidate, failed: dict[str, str], inspect: ModelInspector | None) -> dict[str, Any]:
    return {"key": c.fp, "label": c.label, "spec": c.spec, "name": c.decoder.name,
            "baseline": c.baseline, "fingerprint": c.fp, "model_sha256": c.decoder.model_sha256,
            "fingerprint_spec": c.decoder.fingerprint_spec(), "model": model_details(c.decoder, inspect),
            "integrity_failure": failed.get(c.fp),
            **({"members": c.decoder.members_json()} if callable(getattr(c.decoder, "members_json", None)) else {})}


def run_compare(candidates: list[Candidate], sweep: SweepSpec, *, run: "Run", workers: int = 1,
                latency_shots: int = LATENCY_SHOTS, argv: Sequence[str] | None = None,
                progress: ProgressFactory | None = None, calibration: dict[str, Any] | None = None,
                inspect_model: ModelInspector | None = None, procurement: dict[str, Any] | None = None,
                probe: Callable | None = None, latency_progress: ProgressFactory | None = None) -> dict[str, Any]:
    """Run every (decoder, workload) the store does not hold yet and build the payload.

    ``progress(label, index, total)`` returns a context manager that yields a
    ``ProgressFn`` (or None), ``latency_progress`` the same for each latency timing (a
    ``(timed, total)`` callback); ``calibration`` is an already-computed calibration section;
    ``inspect_model(path)`` describes an ONNX file for the models section (without it the
    section is empty). A decoder that fails integrity (NaN outputs, changed file) is
    reported as such and the run's exit code becomes 4. ``probe``: the single-fault probe
    (``verifier.workflows.qec.ProbeFn``), run on each decoder that is a model."""
    baseline = _baseline(candidates)
    _labels(candidates)
    workloads = sweep.workloads()
    for c in candidates:  # refuse before any shot a decoder that cannot serve a workload
        for w in workloads:
            c.decoder.check(w)
            refuse_unexported(run.store, c.decoder, w)
    started = time.monotonic()
    results, failed, failed_code = _run_tasks(candidates, workloads, run=run, workers=workers,
                                 latency_shots=latency_shots, progress=progress, probe=probe,
                                 latency_progress=latency_progress)
    elapsed = time.monotonic() - started
    env = environment()  # load average right after the measurements
    paired = [{"decoder": c.fp, **paired_test(run.store, _fp_for(baseline, w), _fp_for(c, w), w)}
              for c in candidates if c is not baseline and c.fp not in failed and baseline.fp not in failed
              for w in workloads]
    best = _best_open(candidates, results, failed)
    vs_best = [{"decoder": c.fp, "best_open": b.fp, **paired_test(run.store, _fp_for(b, w), _fp_for(c, w), w)}
               for w in workloads for c in candidates
               if _is_model(c) and c.fp not in failed and (b := best.get(w.id)) is not None and b is not baseline]
    payload = {
        **header(run, elapsed=elapsed, baseline=baseline.fp, sweep=sweep_json(sweep)),
        "decoders": [_decoder_entry(c, failed, inspect_model) for c in candidates],
        "workloads": [workload_entry(w) for w in workloads],
        "results": results, "paired": paired, "paired_best_open": vs_best,
        "best_open": {wid: c.fp for wid, c in best.items()},
        "command": compare_command([c.spec for c in candidates], sweep),
        "argv": list(argv) if argv is not None else None,
        "environment": env,
        "verdicts": find_verdicts(run.store, [c.decoder.model_sha256 for c in candidates] +
                                  [c.fp for c in candidates]),
        "calibration": calibration,
        "procurement": procurement or settings(),
    }
    payload["summary"] = summarize(payload)
    if failed:  # an integrity failure outranks a resource limit
        run.exit_code = failed_code
    return json_safe(payload)
