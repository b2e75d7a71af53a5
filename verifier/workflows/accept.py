"""``sov accept`` as a library: run a candidate and a baseline on the same shots of every
workload of a policy, evaluate the gates, record the verdict and its evidence record.

Calibration gates (``kind = "calibration"`` in a policy, or ``sov accept --experiment``)
are delegated to the ``calibrate`` callable the CLI passes in
(``verifier.calib.accept.accept_calibration``), called as ``calibrate(candidate, baseline,
experiment=..., tolerance=..., repeats=..., seed=..., store=..., run=...)`` and returning a
``GateResult`` or a list of them (see docs/acceptance.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from verifier.errors import UsageError
from verifier.gates.gate import (EXIT_BY_VERDICT, INCONCLUSIVE, GateResult, PairedCounts, combine,
                            latency, ler_noninferiority)
from verifier.gates.policy import GateSpec, Policy, WorkloadSpec

if TYPE_CHECKING:
    from pathlib import Path

    from verifier.qec.decoder import Decoder
    from verifier.evidence.keys import Key
    from verifier.engine.results import TaskResult
    from verifier.workflows.qec import ProbeFn
    from verifier.store.runs import Run
    from verifier.store.db import Store
    from verifier.workflows.paired_timing import PairedTiming

CalibrationGate = Callable[..., Any]  # accept_calibration(candidate, baseline, experiment=, ...)
MakeDecoder = Callable[..., "Decoder"]  # (spec, contract=, provider=, batch_size=) -> Decoder
ProvenanceCheck = Callable[[str, Any], "dict | None"]  # (candidate spec, ProvenanceSpec) -> signer


def check_provenance(policy: Policy, candidate_spec: str, *, store: "Store",
                     check: ProvenanceCheck | None) -> dict | None:
    """The candidate's signature under the policy's ``[provenance]`` table, before any
    replay: ``check`` (``adapters.provenance.check_candidate``, passed in by the CLI) raises
    IntegrityError (exit 4) when a required signature is missing or any signature is
    invalid or untrusted. A verified signer is recorded with the model and returned."""
    if policy.provenance is None:
        return None
    if check is None:
        raise UsageError("this policy has a [provenance] table and this build cannot verify "
                         "model signatures")
    signer = check(candidate_spec, policy.provenance)
    if signer is not None:
        from verifier.store.models import record_signature

        record_signature(store, signer)
    return signer


@dataclass
class WorkloadOutcome:
    name: str
    workload: Any
    candidate: "TaskResult"
    baseline: "TaskResult"
    paired: PairedCounts
    timing: "PairedTiming | None" = None  # when a latency gate applies to this workload
    best_open: dict | None = None  # with --best-of: the open decoder with the fewest failures here

    def to_json(self) -> dict:
        return {"name": self.name, "id": self.workload.id, "stream_id": self.workload.stream_id,
                "description": self.workload.describe(), "spec": self.workload.spec(),
                "paired": self.paired.to_json(), "candidate": _task_json(self.candidate),
                "baseline": _task_json(self.baseline),
                "timing": self.timing.to_json() if self.timing else None, "best_open": self.best_open}


def _task_json(r: "TaskResult") -> dict:
    d = r.to_json()
    out = {k: d[k] for k in ("decoder", "fingerprint", "model_sha256", "shots", "errors", "ler",
                             "ler_ci", "ler_per_round", "seconds", "shots_per_second",
                             "reused_shots")}
    for extra in ("fault_probe", "commitment"):
        if extra in d:
            out[extra] = d[extra]
    return out


@dataclass
class AcceptOutcome:
    verdict: str
    gates: list[GateResult]
    workloads: list[WorkloadOutcome]
    candidate: dict
    baseline: dict
    policy: Policy
    run_id: str | None = None
    verdict_id: str | None = None
    evidence: dict | None = None
    extra: dict = field(default_factory=dict)
    candidate_spec: str | None = None  # as given (a path, a built-in name...), for reports
    baseline_spec: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_BY_VERDICT[self.verdict]

    @property
    def shots_to_decide(self) -> int | None:
        """The largest ``shots_to_decide`` of the undecided LER gates (None if none)."""
        need = [g.figures.get("shots_to_decide") for g in self.gates if g.status == INCONCLUSIVE]
        need = [n for n in need if isinstance(n, int)]
        return max(need) if need else None

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "exit_code": self.exit_code,
                "shots_to_decide": self.shots_to_decide,
                "candidate": self.candidate, "baseline": self.baseline,
                "policy": self.policy.to_json(),
                "gates": [g.to_json() for g in self.gates],
                "workloads": [w.to_json() for w in self.workloads],
                "run_id": self.run_id, "verdict_id": self.verdict_id,
                "evidence_hash": self.evidence["hash"]["value"] if self.evidence else None,
                **self.extra}


def decoder_json(d: "Decoder") -> dict:
    from verifier.qec.decoder import fingerprint

    return {"name": d.name, "model_sha256": d.model_sha256, "fingerprint": fingerprint(d),
            "spec": d.fingerprint_spec()}


def best_open(store: "Store", candidate: "TaskResult", baseline: "TaskResult", others: "Sequence[Decoder]",
              workload, *, run: "Run", workers: int) -> dict:
    """The open decoder with the fewest failures on this workload's shots, among the baseline
    and ``others`` (``--best-of``), and the candidate's paired LER ratio to it with its exact
    95 % interval and the non-inferiority decision at the default margin. Reported beside
    the gates, not one of them: a policy's baseline is what a gate is about."""
    from verifier.gates.gate import paired_ratio
    from verifier.workflows.qec import run_task

    runs = [baseline] + [run_task(d, workload, run=run, workers=workers) for d in others]
    best = min(runs, key=lambda r: r.stats.errors)
    pc = paired_counts(store, candidate, best, workload)
    return {"decoder": best.decoder_name, "fingerprint": best.fingerprint, "errors": best.stats.errors,
            "is_baseline": best is baseline, "considered": [r.decoder_name for r in runs],
            **paired_ratio(pc), "paired": pc.to_json()}


def paired_counts(store: "Store", candidate: "TaskResult", baseline: "TaskResult", workload) -> PairedCounts:
    """Per-shot failure cells from the blocks both replays recorded for this workload."""
    wanted = [(b.index, b.shots) for b in workload.blocks()]
    cbits = store.block_failures(candidate.fingerprint, workload.stream_id)
    bbits = store.block_failures(baseline.fingerprint, workload.stream_id)
    try:
        return PairedCounts.from_packed_blocks(cbits, bbits, wanted)
    except KeyError as e:  # pragma: no cover - replay records every block it ran
        raise UsageError(f"block {e.args[0]} of workload {workload.id[:12]} is missing from the store") from None


def paired_timing(candidate: "Decoder", baseline: "Decoder", workload,
                  progress: Callable[[int, int], None] | None = None) -> "PairedTiming":
    """Both decoders timed together on the workload's first shots (``paired_timing``)."""
    from verifier.engine.blocks import compiled_decoder
    from verifier.workflows.paired_timing import CHUNK_SHOTS, time_pair

    block = workload.blocks()[0]
    dets, _ = workload.sample_block(block)
    dets = np.ascontiguousarray(dets[:CHUNK_SHOTS])
    return time_pair(compiled_decoder(candidate, workload), compiled_decoder(baseline, workload), dets,
                     progress=progress)


def evaluate_gate(spec: GateSpec, wo: WorkloadOutcome) -> GateResult:
    if spec.kind == "ler_noninferiority":
        return ler_noninferiority(wo.paired, margin=spec.params["margin"],
                                  confidence=spec.params["confidence"], workload=wo.name,
                                  name=spec.name)
    if spec.kind == "latency":
        per = spec.params["per"]
        rounds = wo.workload.rounds
        if per == "round" and not rounds:
            raise UsageError(f"latency per round needs the workload's rounds ({wo.name}): give --rounds")
        t = wo.timing
        if t is None:  # pragma: no cover - accept() times every workload a latency gate names
            raise UsageError(f"no paired timing for workload {wo.name}")
        return latency(t.candidate_us(), t.candidate_us_ci(), budget_us=spec.params["budget_us"], per=per,
                       rounds=rounds, workload=wo.name, ratio=t.ratio, ratio_ci=t.ratio_ci(),
                       max_ratio=spec.params.get("max_ratio_to_baseline"), timing=t.to_json(),
                       name=spec.name)
    raise UsageError(f"gate kind {spec.kind!r} does not apply to decoder workloads")


def run_calibration_gates(policy: Policy, candidate: str, baseline: str, *, store, run,
                          contract: str | None = None,
                          calibrate: CalibrationGate | None = None) -> list[GateResult]:
    specs = [g for g in policy.gates if g.kind == "calibration"]
    if not specs:
        return []
    if calibrate is None:
        raise UsageError("calibration acceptance is not available in this build "
                         "(verifier.calib.accept.accept_calibration is missing)")
    out: list[GateResult] = []
    for g in specs:
        kwargs = {"tolerance": g.params.get("tolerance"), "repeats": g.params.get("repeats"),
                  "seed": g.params.get("seed"), "store": store, "run": run}
        if g.params.get("confidence") is not None:
            kwargs["confidence"] = g.params["confidence"]
        if contract:
            kwargs["contract"] = contract
        res = calibrate(candidate, baseline, experiment=g.params["experiment"], **kwargs)
        for r in (res if isinstance(res, (list, tuple)) else [res]):
            out.append(r if r.workload else GateResult(r.name, r.status, r.figures, r.message,
                                                       g.params["experiment"]))
    return out


def accept(candidate: "Decoder | None", baseline: "Decoder | None", policy: Policy, *,
           store: "Store", run: "Run", workers: int = 1, keys: "list[Key] | None" = None,
           progress_factory: Callable[[str], Any] | None = None,
           candidate_spec: str | None = None, baseline_spec: str | None = None,
           calibrate: CalibrationGate | None = None, signer: dict | None = None,
           probe: "ProbeFn | None" = None, others: "Sequence[Decoder]" = (),
           timing_progress: Callable[[str], Any] | None = None) -> AcceptOutcome:
    """Replay both decoders on every workload, evaluate every gate, record the verdict.

    ``progress_factory(label)`` returns a context manager yielding a progress callback (or
    None); ``timing_progress(label)`` the same for the paired latency timing ``(timed,
    total)``. Decoders may be None for a policy with calibration gates only. ``signer``: the
    candidate's verified signature (:func:`check_provenance`), recorded in the evidence.
    ``probe``: the single-fault probe, run on each decoder that is a model."""
    from contextlib import nullcontext

    from verifier.qec.decoder import is_precomputed
    from verifier.qec.flags import from_flags
    from verifier.workflows.qec import run_task
    from verifier.workflows.syndromes import refuse_unexported

    decoder_gates = [g for g in policy.gates if g.kind != "calibration"]
    built: list[tuple[WorkloadSpec, Any]] = []
    if decoder_gates:
        if candidate is None or baseline is None:
            raise UsageError("decoder gates need --candidate and --baseline")
        for w in policy.workloads:
            if any(g.applies_to(w.name) for g in decoder_gates):
                wl = from_flags(**w.args)
                timed = any(g.kind == "latency" and g.applies_to(w.name) for g in decoder_gates)
                for dec in (candidate, baseline):
                    dec.check(wl)
                    refuse_unexported(store, dec, wl)
                    if timed and is_precomputed(dec):
                        raise UsageError(f"a latency gate times both decoders and {dec.name} holds "
                                         f"predictions made elsewhere, with no latency: drop the gate for {w.name}")
                built.append((w, wl))
    outcomes: list[WorkloadOutcome] = []
    for w, wl in built:
        results = []
        for dec in (candidate, baseline):
            cm = progress_factory(f"{dec.name} on {w.name}") if progress_factory else nullcontext(None)
            with cm as progress:
                results.append(run_task(dec, wl, run=run, workers=workers, progress=progress,
                                        probe=probe if dec.model_sha256 else None))
        paired = paired_counts(store, results[0], results[1], wl)
        timed = any(g.kind == "latency" and g.applies_to(w.name) for g in decoder_gates)
        best = best_open(store, results[0], results[1], others, wl, run=run, workers=workers) if others else None
        timing = None
        if timed:
            with timing_progress(f"{w.name}: paired timing") if timing_progress else nullcontext(None) as tp:
                timing = paired_timing(candidate, baseline, wl, progress=tp)
        outcomes.append(WorkloadOutcome(w.name, wl, results[0], results[1], paired, timing, best))
    gates: list[GateResult] = []
    for g in decoder_gates:
        for wo in outcomes:
            if g.applies_to(wo.name):
                gates.append(evaluate_gate(g, wo))
    gates += run_calibration_gates(policy, candidate_spec or (candidate.name if candidate else ""),
                                   baseline_spec or (baseline.name if baseline else ""),
                                   store=store, run=run, contract=policy.decoders.get("contract"),
                                   calibrate=calibrate)
    verdict = combine(gates) if gates else INCONCLUSIVE
    cand_json = decoder_json(candidate) if candidate else {"name": candidate_spec}
    outcome = AcceptOutcome(verdict, gates, outcomes,
                            cand_json | ({"signer": signer} if signer else {}),
                            decoder_json(baseline) if baseline else {"name": baseline_spec},
                            policy, run_id=run.run_id, candidate_spec=candidate_spec,
                            baseline_spec=baseline_spec)
    record_verdict(store, outcome, keys=keys)
    return outcome


def record_verdict(store: "Store", outcome: AcceptOutcome, *, keys: "list[Key] | None" = None) -> None:
    """Append the evidence record to the chain and the verdict row to ``verdicts``."""
    import json

    from verifier.evidence import record as evidence
    from verifier.jsonsafe import json_safe
    from verifier.store.verdicts import VerdictRow

    verdict_id = uuid.uuid4().hex
    body = {
        "kind": "accept", "run_id": outcome.run_id, "verdict_id": verdict_id,
        "subject": {"candidate": outcome.candidate, "baseline": outcome.baseline},
        "policy": outcome.policy.to_json(),
        "workloads": [{"name": w.name, "id": w.workload.id, "spec": w.workload.spec()}
                      for w in outcome.workloads],
        "figures": {w.name: {"paired": w.paired.to_json(), "candidate": _task_json(w.candidate),
                             "baseline": _task_json(w.baseline)} for w in outcome.workloads},
        "gates": [g.to_json() for g in outcome.gates],
        "verdict": outcome.verdict, "exit_code": outcome.exit_code,
    }
    row = VerdictRow(verdict_id, outcome.run_id, "accept", outcome.candidate.get("name"),
                     outcome.verdict, outcome.exit_code,
                     json.dumps(json_safe([g.to_json() for g in outcome.gates])),
                     json.dumps(json_safe(body["figures"])), None)
    doc = evidence.append(store, body, keys=keys, run_id=outcome.run_id, verdict_id=verdict_id,
                          verdict_row=row)  # the row goes in the record's transaction, hashed into it
    outcome.verdict_id = verdict_id
    outcome.evidence = doc


def integrity_gates(policy: Policy, message: str) -> list[dict]:
    """Every gate the policy would have evaluated (one per gate and workload, calibration
    gates per experiment), each with status ``error`` and the integrity ``message``: what a
    JUnit report lists when the run stopped on an integrity failure (exit 4)."""
    rows = []
    for g in policy.gates:
        where = ([g.params.get("experiment")] if g.kind == "calibration"
                 else [w.name for w in policy.workloads if g.applies_to(w.name)])
        rows += [{"name": g.name, "workload": w, "status": "error", "message": message,
                  "figures": {}} for w in where]
    return rows


def run_acceptance(policy: Policy, candidate: str | None, baseline: str | None, *, store: "Store",
                   make_decoder: MakeDecoder, provider: str = "cpu", batch_size: int = 8192,
                   contract: str | None = None, workers: int = 1, key_file: "Path | None" = None,
                   progress_factory: Callable[[str], Any] | None = None,
                   calibrate: CalibrationGate | None = None,
                   provenance: ProvenanceCheck | None = None,
                   probe: "ProbeFn | None" = None, best_of: "Sequence[str]" = (),
                   timing_progress: Callable[[str], Any] | None = None) -> AcceptOutcome:
    """``sov accept``: the candidate's signature when the policy has a ``[provenance]``
    table (before any model is loaded), the decoders named by the flags (or the policy's
    ``[decoders]``), the signing keys, and :func:`accept` inside one recorded run."""
    from verifier.store.runs import recorded_run

    cand_spec = candidate or policy.decoders.get("candidate")
    base_spec = baseline or policy.decoders.get("baseline")
    if not cand_spec:
        raise UsageError("give --candidate (or decoders.candidate in the policy)")
    if not base_spec:
        raise UsageError("give --baseline (or decoders.baseline in the policy)")
    signer = check_provenance(policy, cand_spec, store=store, check=provenance)
    keys = None
    if key_file is not None:
        from verifier.evidence.keys import load_keys

        keys = load_keys(key_file, want="private")
    cand = base = None
    if any(g.kind != "calibration" for g in policy.gates):
        opts = {"provider": policy.decoders.get("provider", provider),
                "batch_size": policy.decoders.get("batch_size", batch_size)}
        cand = make_decoder(cand_spec, contract=contract or policy.decoders.get("contract"), **opts)
        base = make_decoder(base_spec, contract=policy.decoders.get("baseline_contract"), **opts)
        others = [make_decoder(s, **opts) for s in best_of]
        if any(d.model_sha256 is not None for d in others):
            raise UsageError("--best-of takes open decoders (tesseract, pymatching-correlated, ...), not models")
    else:
        others = []
    with recorded_run(store, "accept") as rec:
        outcome = accept(cand, base, policy, store=store, run=rec, workers=workers, keys=keys,
                         progress_factory=progress_factory, candidate_spec=cand_spec,
                         baseline_spec=base_spec, calibrate=calibrate, signer=signer, probe=probe,
                         others=others, timing_progress=timing_progress)
        rec.exit_code = outcome.exit_code
        rec.summary = {"verdict": outcome.verdict, "candidate": cand_spec, "baseline": base_spec,
                       "verdict_id": outcome.verdict_id,
                       "evidence_hash": outcome.evidence["hash"]["value"] if outcome.evidence else None,
                       "gates": {f"{g.name}[{g.workload}]": g.status for g in outcome.gates}}
    return outcome
