"""``sov qec``: replay QEC workloads through decoders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring

app = typer.Typer(help="Replay QEC workloads through decoders (PyMatching, ONNX models).",
                  no_args_is_help=True)


@app.command("run")
@o.workload_options(shots=o.MEASURE_SHOTS)
@o.runtime_options()
def run(
    decoder: o.DecoderOpt = "pymatching",
    workload: Optional[dict] = None,  # the workload flags: see o.workload_options
    runtime: Optional[dict] = None,  # --contract ... --batch-size: see o.runtime_options
    max_errors: o.MaxErrorsOpt = None,
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
    o.check_outputs(json_out=json_out)
    n_workers = o.workers_or_default(workers)
    o.start_workers(executor, n_workers)
    wl = o.qec_workload(**workload)
    from reports.terminal import fault_probe_line, load_line, shot_progress, task_table
    from verifier.workflows.qec import record_task

    dec = wiring.decoder_from_spec(decoder, **runtime, workers=n_workers)
    store = o.store_for(db)
    console = o.human_console(json_out)  # (rich's import overlaps the workers' start)
    with o.executor_for(executor, scheduler, n_workers) as ex, shot_progress(f"{dec.name}", quiet=quiet) as progress:
        result, payload = record_task(dec, wl, store=store, workers=n_workers, max_errors=max_errors,
                                      progress=progress, executor=ex, probe=wiring.fault_prober())
    console.print(task_table([result], title=f"{wl.describe()}  (workload {wl.id[:12]})"))
    if (line := fault_probe_line(result.figures.get("fault_probe"))) is not None:
        console.print(line)
    if result.reused_shots:
        console.print(f"{result.reused_shots:,} shots reused from the store {store.path}")
    if (line := load_line(payload.get("machine"))) is not None:
        console.print(line)
    if (c := result.figures.get("commitment")) is not None:
        console.print(f"truth verified against the commitment {c['value'][:16]}... of the syndromes "
                      f"exported {c['exported_at'][:16]} ({c['exports_verified']} export(s))")
    o.write_json(json_out, payload)
    return 0


@app.command("export-syndromes")
@o.workload_options(shots=o.MEASURE_SHOTS)
def export_syndromes(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder to write the syndromes to (what the vendor gets).")],
    workload: Optional[dict] = None,  # the workload flags: see o.workload_options
    fmt: Annotated[str, typer.Option("--format", metavar="b8|01", help="Format of the detection events written.")] = "b8",
    truth: Annotated[Optional[Path], typer.Option("--truth", metavar="FILE.b8", help="Also write the observables here, for the lab to keep (never inside --out).")] = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Write a workload's detection events without its observables, for blind evaluation.

    --out DIR gets the events (detection_events.b8 or .01), the circuit and its detector
    error model, and syndromes.json with a commitment to the observables: sha256(salt ||
    observables as b8), with a random 32-byte salt kept in the store. Score what the
    vendor returns with --decoder predictions:FILE on the same workload flags: the truth is
    checked against the commitment first (exit 4 if it changed)."""
    o.check_outputs(json_out=json_out)
    from verifier.store.runs import recorded_run
    from verifier.workflows.syndromes import export_syndromes as export

    wl = o.qec_workload(**workload)
    store = o.store_for(db)
    with recorded_run(store, "qec export-syndromes") as rec:
        res = export(wl, store=store, out=out, fmt=fmt, truth=truth, run_id=rec.run_id)
        rec.summary = {"workload_id": wl.id, "commitment": res.export.commitment, "folder": res.folder,
                       "shots": res.export.shots}
    payload = res.to_json() | {"db": store.path}
    console = o.human_console(json_out)
    console.print(f"{res.export.shots:,} shots of {wl.describe()} (workload {wl.id[:12]}) exported to {res.folder}:")
    for role, path in res.files.items():
        console.print(f"  {role:<22} {Path(path).name}")
    console.print(f"commitment {res.export.commitment} (salt in the store {store.path})")
    if res.truth:
        console.print(f"truth (keep it, do not send it): {res.truth}")
    o.write_json(json_out, payload)
    return 0


@app.command("latency")
@o.hidden_aliases(batch_size="--batch")
@o.workload_options(shots=None, recorded=False)
def latency(
    decoder: o.DecoderOpt = "pymatching",
    workload: Optional[dict] = None,  # the workload flags (no --shots: see below): o.workload_options
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    threads: Annotated[int, typer.Option("--threads", min=0, help="onnxruntime intra-op threads (0 = its default).")] = 1,
    shots: Annotated[int, typer.Option("--shots", min=1, help="Timed shots (each decoded alone at --batch-size 1).")] = o.LATENCY_SHOTS,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed shots decoded first.")] = o.WARMUP_SHOTS,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Shots per timed call (1 = real-time, one shot at a time).")] = 1,
    budget_us: Annotated[float, typer.Option("--budget-us", help="Real-time budget per QEC round, in µs.")] = 1.0,
    quiet: o.QuietOpt = False,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Per-shot and per-round decoding latency (p50 / p99 / p99.9) next to the real-time budget.

    Decodes --warmup shots untimed, then times --shots single-shot calls of the decoder
    (in this process, as a worker runs it) and compares the per-round latency with
    --budget-us (about 1 µs per round for superconducting qubits). Records the numbers
    with the run in the store."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import latency_progress, latency_table, latency_verdict
    from verifier.workflows.latency import record_latency

    wl = o.qec_workload(**workload, shots=(shots + warmup) * batch_size)
    dec = wiring.decoder_from_spec(decoder, contract=contract, provider=provider, threads=threads,
                                   batch_size=batch_size, workers=1)
    with latency_progress(f"{dec.name} latency", quiet=quiet) as progress:
        res, payload = record_latency(dec, wl, store=o.store_for(db), shots=shots, warmup=warmup,
                                      batch=batch_size, budget_us_per_round=budget_us, progress=progress)
    console = o.human_console(json_out)
    console.print(latency_table(res, f"{dec.name} latency, batch {batch_size}, {shots:,} timed shots after "
                                     f"{warmup:,} warm-up  ({wl.describe()})"))
    if (verdict := latency_verdict(res)) is not None:
        console.print(verdict)
    o.write_json(json_out, payload)
    return 0


@app.command("crosscheck")
@o.workload_options(shots=o.MEASURE_SHOTS)
@o.runtime_options("contract", "threads", "batch_size")
def crosscheck(
    decoder: Annotated[str, typer.Option("--decoder", help="A built-in model or FILE.onnx.")],
    provider: Annotated[Optional[list[str]], typer.Option("--provider", metavar="NAME", help="Execution provider; repeat to compare (cpu, cuda, ...).")] = None,
    graph_optimization: Annotated[Optional[list[str]], typer.Option("--graph-optimization", metavar="disable|basic|extended|all",
                                                                    help="onnxruntime graph optimization level; repeat to compare.")] = None,
    workload: Optional[dict] = None,  # the workload flags: see o.workload_options
    runtime: Optional[dict] = None,  # --contract --threads --batch-size: see o.runtime_options
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
    o.check_outputs(json_out=json_out)
    from reports.terminal import crosscheck_differences, crosscheck_table, shot_progress
    from verifier.workflows.crosscheck import crosscheck_runtimes

    n_workers = o.workers_or_default(workers)
    make = wiring.onnx_runtime_variant(decoder, **runtime, workers=n_workers)
    check = crosscheck_runtimes(make, workload, providers=provider, levels=graph_optimization,
                                store=o.store_for(db), workers=n_workers, max_listed=max_listed,
                                progress=lambda label: shot_progress(label, quiet=quiet))
    console = o.human_console(json_out)
    console.print(crosscheck_table(check))
    for line in crosscheck_differences(check):
        console.print(line)
    o.write_json(json_out, check.to_json())
    return 0 if check.agree else 1
