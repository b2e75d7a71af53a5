"""``sov accept``: should the candidate model replace the baseline? Exit 0 pass, 1 fail,
3 inconclusive (see docs/acceptance.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring
from verifier.stats.binomial import CONFIDENCE

ExperimentOpt = o.experiment_opt("Calibration acceptance: the experiment (e.g. rabi_amplitude).")


@o.workload_options(shots=o.GATE_SHOTS)
@o.runtime_options("contract", "provider", "threads", "batch_size")
def accept(
    candidate: Annotated[Optional[str], typer.Option("--candidate", help="The model under test: FILE.onnx, a built-in model or a baseline name.")] = None,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="The model in service: pymatching, FILE.onnx, ... (qibocal for --experiment).")] = None,
    policy: o.PolicyOpt = None,
    workload: Optional[dict] = None,  # the workload flags: see o.workload_options
    margin: Annotated[float, typer.Option("--margin", help="Allowed LER excess, relative to the baseline's LER (0.10 = 10 %).")] = 0.10,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence level of every decision.")] = CONFIDENCE,
    latency_budget_us: Annotated[Optional[float], typer.Option("--latency-budget-us", help="Latency gate: mean decode time budget in microseconds.")] = None,
    latency_per: Annotated[str, typer.Option("--latency-per", help="Latency budget per shot or per round.")] = "shot",
    max_latency_ratio: Annotated[Optional[float], typer.Option("--max-latency-ratio", help="Latency gate: at most this many times the baseline's decode time.")] = None,
    best_of: Annotated[Optional[str], typer.Option("--best-of", metavar="NAME,...", help="Open decoders to run too (e.g. tesseract,pymatching-correlated): each workload reports the best open decoder on its shots and the candidate's paired ratio to it, beside the gates.", show_default=False)] = None,
    experiment: ExperimentOpt = None,
    tolerance: Annotated[Optional[str], typer.Option("--tolerance", metavar="1.5x|1.5x+F|ABS", help="Calibration gate: the candidate's median error may be at most this factor times the baseline's (plus F, default 0.0005), or exceed it by at most ABS [default: 1.5x].", show_default=False)] = None,
    repeats: Annotated[Optional[int], typer.Option("--repeats", min=1, help="Calibration repeats.")] = None,
    replay: Annotated[Optional[Path], typer.Option("--replay", metavar="DIR", help="Calibration: gate the candidate on a recorded Qibocal output folder instead of simulated qubits (as `sov calib replay DIR --gate`).")] = None,
    runtime: Optional[dict] = None,  # --contract ... --batch-size: see o.runtime_options
    workers: o.WorkersOpt = None,
    key: o.KeyOpt = None,
    evidence_out: Annotated[Optional[Path], typer.Option("--evidence", metavar="FILE", help="Write the evidence record (JSON) to FILE.")] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", metavar="FILE", help="Write JUnit XML (one testcase per gate) to FILE.")] = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Accept or reject a candidate decoder against a baseline on the same shots.

    Gates: LER non-inferiority on paired shots (default: the candidate's LER may exceed the
    baseline's by at most 10 % of it, at 95 % confidence), optional latency budget, and
    calibration tolerance (--experiment). Exit 0 pass, 1 fail, 3 inconclusive (with the
    shots that would decide with 80 % probability). Everything is recorded in the store and in its
    hash-chained evidence log."""
    if replay is not None:
        return _accept_replay(replay, candidate, baseline, experiment, runtime["contract"], tolerance, db, json_out)
    o.check_outputs(json_out=json_out, junit=junit, evidence_out=evidence_out)
    from reports.junit import write_junit
    from reports.terminal import latency_progress, print_accept, shot_progress
    from verifier.gates.policy import resolve_policy
    from verifier.errors import IntegrityError
    from verifier.workflows.accept import integrity_gates, run_acceptance

    started = time.monotonic()
    n_workers = o.workers_or_default(workers)
    contract, threads = runtime["contract"], runtime["threads"]
    policy_obj = resolve_policy(policy, workload, experiment=experiment, contract=contract,
                                calibration={"tolerance": tolerance, "repeats": repeats, "seed": workload["seed"],
                                             "confidence": confidence},
                                margin=margin, confidence=confidence, latency_budget_us=latency_budget_us,
                                latency_per=latency_per, max_latency_ratio=max_latency_ratio)
    if policy is None and experiment is None:
        o.start_workers("local", n_workers)
    store = o.store_for(db)
    try:
        outcome = run_acceptance(
            policy_obj, candidate, baseline, store=store, contract=contract, provider=runtime["provider"],
            batch_size=runtime["batch_size"], workers=n_workers, key_file=key, calibrate=wiring.calibration_acceptance,
            provenance=wiring.model_provenance, probe=wiring.fault_prober(),
            best_of=[x.strip() for x in best_of.split(",") if x.strip()] if best_of else (),
            make_decoder=lambda spec, **kw: wiring.decoder_from_spec(spec, threads=threads, workers=n_workers, **kw),
            progress_factory=lambda label: shot_progress(label, quiet=quiet),
            timing_progress=lambda label: latency_progress(label, quiet=quiet))
    except IntegrityError as e:  # CI still gets its report: every gate an <error> with the message
        if junit is not None:
            write_junit(junit, integrity_gates(policy_obj, str(e)), suite="sov accept", verdict="integrity",
                        properties={"candidate": candidate, "baseline": baseline},
                        seconds=time.monotonic() - started)
        raise
    payload = outcome.to_json() | {"db": store.path}
    print_accept(o.human_console(json_out), outcome)
    if evidence_out is not None:
        from verifier.evidence.record import write

        write(outcome.evidence, evidence_out)
    if junit is not None:
        write_junit(junit, outcome.gates, suite="sov accept", verdict=outcome.verdict,
                    properties={"candidate": outcome.candidate_spec, "baseline": outcome.baseline_spec,
                                "run_id": outcome.run_id, "evidence_hash": payload["evidence_hash"]},
                    seconds=time.monotonic() - started)
    o.write_json(json_out, payload)
    return outcome.exit_code


def _accept_replay(folder, candidate, baseline, experiment, contract, tolerance, db, json_out) -> int:
    """``sov accept --replay DIR``: the calibration gate on a recorded Qibocal folder."""
    from verifier.cli.calib import replay_and_gate

    if candidate is None:
        raise o.UsageError("--replay needs --candidate")
    return replay_and_gate(folder, candidate, experiment=experiment, contract=contract, gate=True,
                           tolerance=tolerance, baseline=baseline or "qibocal", db=db, json_out=json_out)
