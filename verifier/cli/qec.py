"""``sov qec``: replay QEC workloads through decoders."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from verifier.cli import options as o

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
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Replay one workload through one decoder and record the result.

    Prints shots, logical errors, the logical error rate with its 95 % interval, the
    per-round rate and throughput."""
    from reports.terminal import shot_progress, task_table
    from verifier.qec import run_task
    from verifier.runs import recorded_run

    n_workers = o.workers_or_default(workers)
    workload = o.qec_workload(distance=distance, rounds=rounds, basis=basis, noise=noise, p=p,
                              shots=shots, seed=seed, circuit=circuit, dets=dets, obs=obs,
                              data_format=data_format)
    dec = o.decoder_from_spec(decoder, contract=contract, provider=provider, threads=threads,
                              batch_size=batch_size, workers=n_workers)
    store = o.store_for(db)
    with recorded_run(store, "qec run") as rec:
        with shot_progress(f"{dec.name}", quiet=quiet) as progress:
            result = run_task(dec, workload, run=rec, workers=n_workers, max_errors=max_errors,
                              progress=progress)
        payload = result.to_json()
        payload["db"] = store.path
        rec.summary = {"decoder": dec.name, "workload_id": workload.id, "shots": result.stats.shots,
                       "errors": result.stats.errors}
    console = o.human_console(json_out)
    console.print(task_table([result], title=f"{workload.describe()}  (workload {workload.id[:12]})"))
    if result.reused_shots:
        console.print(f"{result.reused_shots:,} shots reused from the store {store.path}")
    o.write_json(json_out, payload)
    return 0
