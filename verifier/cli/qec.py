"""``sov qec``: replay QEC workloads through decoders."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring
from verifier.errors import UsageError

app = typer.Typer(help="Replay QEC workloads through decoders (PyMatching, ONNX models).",
                  no_args_is_help=True)


@app.command("run")
def run(
    decoder: Annotated[str, typer.Option("--decoder", help="pymatching, pymatching-correlated, a built-in model, or FILE.onnx.")] = "pymatching",
    distance: o.DistanceOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    p: o.POpt = None,
    shots: o.ShotsOpt = 10_000,
    seed: o.SeedOpt = 0,
    circuit: o.CircuitOpt = None,
    dets: o.DetsOpt = None,
    obs: o.ObsOpt = None,
    data_format: o.DataFormatOpt = None,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    max_errors: Annotated[Optional[int], typer.Option("--max-errors", min=1, help="Stop early after this many logical errors.")] = None,
    workers: o.WorkersOpt = None,
    executor: o.ExecutorOpt = "local",
    scheduler: o.SchedulerOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Replay one workload through one decoder and record the result.

    Prints shots, logical errors, the logical error rate with its 95 % interval, the
    per-round rate and throughput."""
    n_workers = o.workers_or_default(workers)
    o.start_workers(executor, n_workers)
    workload = o.qec_workload(distance=distance, rounds=rounds, basis=basis, noise=noise, p=p,
                              shots=shots, seed=seed, circuit=circuit, dets=dets, obs=obs,
                              data_format=data_format)
    from reports.terminal import shot_progress, task_table
    from verifier.workflows.qec import run_task
    from verifier.store.runs import recorded_run

    dec = wiring.decoder_from_spec(decoder, contract=contract, provider=provider, threads=threads,
                              batch_size=batch_size, workers=n_workers)
    store = o.store_for(db)
    console = o.human_console(json_out)  # (rich's import overlaps the workers' start)
    with o.executor_for(executor, scheduler, n_workers) as ex, recorded_run(store, "qec run") as rec:
        with shot_progress(f"{dec.name}", quiet=quiet) as progress:
            result = run_task(dec, workload, run=rec, workers=n_workers, max_errors=max_errors,
                              progress=progress, executor=ex)
        payload = result.to_json()
        payload["db"] = store.path
        rec.summary = {"decoder": dec.name, "workload_id": workload.id, "shots": result.stats.shots,
                       "errors": result.stats.errors}
    console.print(task_table([result], title=f"{workload.describe()}  (workload {workload.id[:12]})"))
    if result.reused_shots:
        console.print(f"{result.reused_shots:,} shots reused from the store {store.path}")
    o.write_json(json_out, payload)
    return 0


@app.command("latency")
def latency(
    decoder: Annotated[str, typer.Option("--decoder", help="pymatching, pymatching-correlated, a built-in model, or FILE.onnx.")] = "pymatching",
    distance: o.DistanceOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    p: o.POpt = None,
    seed: o.SeedOpt = 0,
    circuit: o.CircuitOpt = None,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: Annotated[int, typer.Option("--threads", min=0, help="onnxruntime intra-op threads (0 = its default).")] = 1,
    shots: Annotated[int, typer.Option("--shots", min=1, help="Timed shots (each decoded alone at --batch 1).")] = 10_000,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed shots decoded first.")] = 1_000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Shots per timed call (1 = real-time, one shot at a time).")] = 1,
    budget_us: Annotated[float, typer.Option("--budget-us", help="Real-time budget per QEC round, in µs.")] = 1.0,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Per-shot and per-round decoding latency (p50 / p99 / p99.9) next to the real-time budget.

    Decodes --warmup shots untimed, then times --shots single-shot calls of the decoder
    (in this process, as a worker runs it) and compares the per-round latency with
    --budget-us (about 1 µs per round for superconducting qubits). Records the numbers
    with the run in the store."""
    from rich.table import Table

    from verifier.workflows.latency import measure_latency
    from verifier.store.runs import recorded_run

    workload = o.qec_workload(distance=distance, rounds=rounds, basis=basis, noise=noise, p=p,
                              shots=(shots + warmup) * batch, seed=seed, circuit=circuit)
    dec = wiring.decoder_from_spec(decoder, contract=contract, provider=provider, threads=threads,
                              batch_size=max(batch, 1), workers=1)
    store = o.store_for(db)
    with recorded_run(store, "qec latency") as rec:
        store.record_decoder(_fp(dec), dec.name, dec.model_sha256, dec.fingerprint_spec())
        store.record_workload(workload)
        res = measure_latency(dec, workload, shots=shots, warmup=warmup, batch=batch,
                              budget_us_per_round=budget_us)
        payload = res.to_json()
        payload["db"] = store.path
        payload["run_id"] = rec.run_id
        rec.summary = {"latency": payload}
    console = o.human_console(json_out)
    t = Table(title=f"{dec.name} latency, batch {batch}, {shots:,} timed shots after {warmup:,} warm-up  "
                    f"({workload.describe()})", title_justify="left")
    for col in ("", "p50", "p99", "p99.9", "mean", "max"):
        t.add_column(col, justify="right")
    keys = ("p50", "p99", "p99.9", "mean", "max")
    t.add_row("per shot (µs)", *(f"{res.per_shot_us[k]:,.2f}" for k in keys))
    if res.per_round_us:
        t.add_row("per round (µs)", *(f"{res.per_round_us[k]:,.3f}" for k in keys))
    if res.sandbox_transport_us:
        t.add_row("sandbox transport, not counted (µs)",
                  *(f"{res.sandbox_transport_us[k]:,.2f}" for k in keys))
    console.print(t)
    if res.budget_us_per_shot is not None:
        verdict = "meets" if res.meets_budget else "misses"
        console.print(f"budget {budget_us:g} µs/round x {res.rounds} rounds = {res.budget_us_per_shot:g} µs/shot: "
                      f"{res.within_budget:.1%} of shots within it; p99 {verdict} the budget")
    o.write_json(json_out, payload)
    return 0


def _fp(dec) -> str:
    from verifier.qec.decoder import fingerprint

    return fingerprint(dec)


@app.command("crosscheck")
def crosscheck(
    decoder: Annotated[str, typer.Option("--decoder", help="A built-in model or FILE.onnx.")],
    provider: Annotated[Optional[list[str]], typer.Option("--provider", metavar="NAME", help="Execution provider; repeat to compare (cpu, cuda, ...).")] = None,
    graph_optimization: Annotated[Optional[list[str]], typer.Option("--graph-optimization", metavar="disable|basic|extended|all",
                                                                    help="onnxruntime graph optimization level; repeat to compare.")] = None,
    distance: o.DistanceOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    p: o.POpt = None,
    shots: o.ShotsOpt = 10_000,
    seed: o.SeedOpt = 0,
    circuit: o.CircuitOpt = None,
    dets: o.DetsOpt = None,
    obs: o.ObsOpt = None,
    data_format: o.DataFormatOpt = None,
    contract: o.ContractOpt = None,
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    workers: o.WorkersOpt = None,
    max_listed: Annotated[int, typer.Option("--max-listed", min=0, help="Differing shots to list per pair.")] = 20,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Same model on several execution providers (or optimization levels): same predictions?

    Replays the workload once per runtime variant (reusing what the store holds), then
    compares the per-shot predictions of every variant with the first, shot for shot.
    Exit 0 when all agree, 1 when some prediction differs (the differing shots are listed)."""
    import dataclasses

    from rich.table import Table

    from adapters.onnx_decoder import OnnxDecoder
    from reports.terminal import shot_progress
    from verifier.workflows.crosscheck import crosscheck as compare
    from verifier.workflows.qec import run_task
    from verifier.store.runs import recorded_run

    providers = list(dict.fromkeys(provider or ["cpu"]))
    levels = list(dict.fromkeys(graph_optimization or ["all"]))
    if len(providers) * len(levels) < 2:
        raise UsageError("give two runtimes to compare: --provider cpu --provider cuda "
                         "(or two --graph-optimization levels)")
    n_workers = o.workers_or_default(workers)
    workload = o.qec_workload(distance=distance, rounds=rounds, basis=basis, noise=noise, p=p,
                              shots=shots, seed=seed, circuit=circuit, dets=dets, obs=obs,
                              data_format=data_format)
    variants = []
    for prov in providers:
        dec = wiring.decoder_from_spec(decoder, contract=contract, provider=prov, threads=threads,
                                  batch_size=batch_size, workers=n_workers)
        if not isinstance(dec, OnnxDecoder):
            raise UsageError(f"crosscheck compares runtimes of an ONNX model; {decoder!r} is a baseline")
        for level in levels:
            variants.append(dataclasses.replace(dec, options=dataclasses.replace(dec.options, graph_optimization=level)))
    _check_providers(variants)
    store = o.store_for(db)
    with recorded_run(store, "qec crosscheck") as rec:
        results = []
        for dec in variants:
            label = f"{dec.name} [{dec.options.provider}, {dec.options.graph_optimization}]"
            with shot_progress(label, quiet=quiet) as progress:
                results.append(run_task(dec, workload, run=rec, workers=n_workers, progress=progress))
        reports = compare(store, [r.fingerprint for r in results], [workload.stream_id],
                          max_listed=max_listed, num_observables=workload.num_observables)
        agree = all(r.agree for r in reports)
        rec.exit_code = 0 if agree else 1
        payload = {"decoder": variants[0].name, "workload_id": workload.id,
                   "workload": workload.spec(), "agree": agree, "db": store.path, "run_id": rec.run_id,
                   "variants": [{"provider": d.options.provider, "graph_optimization": d.options.graph_optimization,
                                 "fingerprint": r.fingerprint, "shots": r.stats.shots, "errors": r.stats.errors,
                                 "shots_per_second": r.stats.shots_per_second}
                                for d, r in zip(variants, results)],
                   "pairs": [r.to_json() for r in reports]}
        rec.summary = {"agree": agree, "pairs": [{k: v for k, v in r.to_json().items() if k != "differences"}
                                                 for r in reports]}
    console = o.human_console(json_out)
    t = Table(title=f"{variants[0].name}: per-shot predictions across runtimes ({workload.describe()})",
              title_justify="left")
    for col in ("reference", "other", "compared shots", "differing shots", "agree"):
        t.add_column(col, justify="right" if "shots" in col else "left")
    for r in reports:
        t.add_row(_variant(r.reference_spec), _variant(r.other_spec), f"{r.compared_shots:,}",
                  f"{r.differing_shots:,}", "yes" if r.agree else "NO")
    console.print(t)
    for r in reports:
        for d in r.differences:
            console.print(f"  differs at shot {d.shot}: {_variant(r.reference_spec)} predicts {d.reference}, "
                          f"{_variant(r.other_spec)} predicts {d.other}")
    o.write_json(json_out, payload)
    return 0 if agree else 1


def _variant(spec: dict) -> str:
    return f"{spec.get('provider')}/{spec.get('graph_optimization')}"


def _check_providers(variants) -> None:
    """Refuse before any shot a provider this onnxruntime does not have (exit 2)."""
    import onnxruntime as ort

    from adapters.runtime import PROVIDERS

    have = ort.get_available_providers()
    for d in variants:
        if PROVIDERS[d.options.provider] not in have:
            raise UsageError(f"execution provider {d.options.provider!r} is not available in this "
                             f"onnxruntime ({', '.join(have)}); install onnxruntime-gpu for cuda")
