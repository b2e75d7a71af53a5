"""``sov accept``: should the candidate model replace the baseline? Exit 0 pass, 1 fail,
3 inconclusive (see docs/acceptance.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring

PolicyOpt = Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml",
                                                   help="Workloads and gates from a policy file (docs/policy.md).")]


def accept(
    candidate: Annotated[Optional[str], typer.Option("--candidate", help="The model under test: FILE.onnx, a built-in model or a baseline name.")] = None,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="The model in service: pymatching, FILE.onnx, ... (qibocal for --experiment).")] = None,
    policy: PolicyOpt = None,
    distance: o.DistanceOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    p: o.POpt = None,
    shots: o.ShotsOpt = 100_000,
    seed: o.SeedOpt = 0,
    circuit: o.CircuitOpt = None,
    dets: o.DetsOpt = None,
    obs: o.ObsOpt = None,
    data_format: o.DataFormatOpt = None,
    margin: Annotated[float, typer.Option("--margin", help="Allowed LER excess, relative to the baseline's LER (0.10 = 10 %).")] = 0.10,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence level of every decision.")] = 0.95,
    latency_budget_us: Annotated[Optional[float], typer.Option("--latency-budget-us", help="Latency gate: mean decode time budget in microseconds.")] = None,
    latency_per: Annotated[str, typer.Option("--latency-per", help="Latency budget per shot or per round.")] = "shot",
    max_latency_ratio: Annotated[Optional[float], typer.Option("--max-latency-ratio", help="Latency gate: at most this many times the baseline's decode time.")] = None,
    experiment: Annotated[Optional[str], typer.Option("--experiment", help="Calibration acceptance: the experiment (e.g. rabi_amplitude).")] = None,
    tolerance: Annotated[Optional[float], typer.Option("--tolerance", help="Calibration gate tolerance (see sov calib).")] = None,
    repeats: Annotated[Optional[int], typer.Option("--repeats", min=1, help="Calibration repeats.")] = None,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    workers: o.WorkersOpt = None,
    key: Annotated[Optional[Path], typer.Option("--key", metavar="PRIVATE_KEY", help="Sign the evidence record with this key file (sov keys generate).")] = None,
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
    shots that would likely decide). Everything is recorded in the store and in its
    hash-chained evidence log."""
    from reports.terminal import shot_progress
    from verifier.gates import policy as pol
    from verifier.workflows.accept import accept as run_accept
    from verifier.errors import UsageError
    from verifier.store.runs import recorded_run

    started = time.monotonic()
    n_workers = o.workers_or_default(workers)
    flags_workload = any(v is not None for v in (distance, circuit, dets, obs, p))
    if experiment is not None and (policy is not None or flags_workload):
        raise UsageError("--experiment (calibration acceptance) takes no QEC workload flags or --policy: "
                         "put a calibration gate in the policy instead")
    if policy is not None:
        if flags_workload:
            raise UsageError("give the workload either by flags or by --policy, not both")
        policy_obj = pol.load(policy)
    elif experiment is not None:
        params = {"experiment": experiment}
        for k, v in (("tolerance", tolerance), ("repeats", repeats)):
            if v is not None:
                params[k] = v
        params["seed"] = seed
        params["confidence"] = confidence
        policy_obj = pol.Policy("command line", (), (pol.GateSpec("calibration", "calibration", params),),
                                decoders={"contract": contract} if contract else {})
    else:
        if not flags_workload:
            raise UsageError("give a workload (--distance/--p, --circuit, ...) or --policy FILE.toml")
        o.start_workers("local", n_workers)
        policy_obj = pol.from_flags(pol.default_workload_args(
            distance=distance, rounds=rounds, basis=basis, noise=noise, p=p, shots=shots, seed=seed,
            circuit=circuit, dets=dets, obs=obs, data_format=data_format),
            margin=margin, confidence=confidence, latency_budget_us=latency_budget_us,
            latency_per=latency_per, max_latency_ratio=max_latency_ratio)
    cand_spec = candidate or policy_obj.decoders.get("candidate")
    base_spec = baseline or policy_obj.decoders.get("baseline")
    if not cand_spec:
        raise UsageError("give --candidate (or decoders.candidate in the policy)")
    if not base_spec:
        raise UsageError("give --baseline (or decoders.baseline in the policy)")
    keys = None
    if key is not None:
        from verifier.evidence.keys import load_keys

        keys = load_keys(key, want="private")
    decoder_gates = any(g.kind != "calibration" for g in policy_obj.gates)
    cand = base = None
    if decoder_gates:
        prov = policy_obj.decoders.get("provider", provider)
        bs = policy_obj.decoders.get("batch_size", batch_size)
        cand = wiring.decoder_from_spec(cand_spec, contract=contract or policy_obj.decoders.get("contract"),
                                   provider=prov, threads=threads, batch_size=bs, workers=n_workers)
        base = wiring.decoder_from_spec(base_spec, contract=policy_obj.decoders.get("baseline_contract"),
                                   provider=prov, threads=threads, batch_size=bs, workers=n_workers)
    store = o.store_for(db)
    with recorded_run(store, "accept") as rec:
        outcome = run_accept(cand, base, policy_obj, store=store, run=rec, workers=n_workers,
                             keys=keys, progress_factory=lambda label: shot_progress(label, quiet=quiet),
                             candidate_spec=cand_spec, baseline_spec=base_spec,
                             make_calibration_model=wiring.calibration_model_from_spec)
        rec.exit_code = outcome.exit_code
        rec.summary = {"verdict": outcome.verdict, "candidate": cand_spec, "baseline": base_spec,
                       "verdict_id": outcome.verdict_id,
                       "evidence_hash": outcome.evidence["hash"]["value"] if outcome.evidence else None,
                       "gates": {f"{g.name}[{g.workload}]": g.status for g in outcome.gates}}
    payload = outcome.to_json() | {"db": store.path}
    console = o.human_console(json_out)
    _print(console, outcome)
    if evidence_out is not None:
        from verifier.evidence.record import write

        write(outcome.evidence, evidence_out)
    if junit is not None:
        from reports.junit import junit_xml

        xml = junit_xml(outcome.gates, suite="sov accept", verdict=outcome.verdict,
                        properties={"candidate": cand_spec, "baseline": base_spec,
                                    "run_id": outcome.run_id,
                                    "evidence_hash": payload["evidence_hash"]},
                        seconds=time.monotonic() - started)
        try:
            junit.write_text(xml)
        except OSError as e:
            raise UsageError(f"cannot write --junit {junit}: {e.strerror}") from None
    o.write_json(json_out, payload)
    return outcome.exit_code


def _print(console, outcome) -> None:
    from rich.table import Table

    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    t = Table(title=f"sov accept: {outcome.candidate.get('name')} vs {outcome.baseline.get('name')}",
              title_justify="left")
    for c in ("gate", "workload", "status", "decided by"):
        t.add_column(c)
    for g in outcome.gates:
        t.add_row(g.name, g.workload or "-", f"[{colour[g.status]}]{g.status}[/]", g.message)
    console.print(t)
    for w in outcome.workloads:
        pc = w.paired
        console.print(f"  {w.name}: {w.workload.describe()}; paired shots {pc.shots:,}: both fail "
                      f"{pc.n11:,}, only candidate {pc.n10:,}, only baseline {pc.n01:,}")
    console.print(f"verdict: [bold {colour[outcome.verdict]}]{outcome.verdict.upper()}[/] "
                  f"(exit {outcome.exit_code}); run {outcome.run_id}, evidence "
                  f"#{outcome.evidence['record']['sequence']} {outcome.evidence['hash']['value'][:16]}"
                  + (" signed" if outcome.evidence["signatures"] else " unsigned"))
