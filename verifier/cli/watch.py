"""``sov watch``: register the models in service whose drift ``sov drift check`` watches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring

app = typer.Typer(help="Register models in service for scheduled drift checks.", no_args_is_help=True)


def make_decoder_factory(workers: int, threads: int | None = None):
    """(path, stored decoder options) -> Decoder, for drift checks."""
    def make(path: str, opts: dict):
        return wiring.decoder_from_spec(path, contract=opts.get("contract"), provider=opts.get("provider", "cpu"),
                                   threads=threads, batch_size=opts.get("batch_size", 8192), workers=workers)
    return make


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="The model file in service (.onnx).", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="A short name for it (used by sov drift check --name).")],
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml", help="Take the reference workloads from a policy file.")] = None,
    distance: o.DistanceOpt = None,
    rounds: o.RoundsOpt = None,
    basis: o.BasisOpt = "z",
    noise: o.NoiseOpt = "uniform",
    p: o.POpt = None,
    shots: o.ShotsOpt = 20_000,
    seed: o.SeedOpt = 0,
    circuit: o.CircuitOpt = None,
    dets: o.DetsOpt = None,
    obs: o.ObsOpt = None,
    data_format: o.DataFormatOpt = None,
    contract: o.ContractOpt = None,
    provider: o.ProviderOpt = "cpu",
    batch_size: o.BatchOpt = 8192,
    experiment: Annotated[Optional[str], typer.Option("--experiment", help="A calibration model: watch the parameters it returns on sov's fixed reference data for this experiment.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not replay the reference workload now (the first drift check then starts the history).")] = False,
    workers: o.WorkersOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Register a model in service: path, sha256 and reference workload(s); replays the
    reference workload once to start its history."""
    from verifier.workflows import drift as drift
    from verifier.gates import policy as pol
    from verifier.errors import UsageError
    from verifier.store.runs import recorded_run

    flags_workload = any(v is not None for v in (distance, circuit, dets, obs, p))
    if experiment is not None:
        if flags_workload or policy is not None:
            raise UsageError("--experiment (a calibration model) takes no QEC workload flags or --policy")
        workloads = []
    elif policy is not None:
        if flags_workload:
            raise UsageError("give the workload either by flags or by --policy, not both")
        workloads = list(pol.load(policy).workloads)
    else:
        if not flags_workload:
            raise UsageError("give a reference workload (--distance/--p, --circuit, ...) or --policy FILE.toml")
        workloads = [pol.WorkloadSpec("workload", pol.default_workload_args(
            distance=distance, rounds=rounds, basis=basis, noise=noise, p=p, shots=shots, seed=seed,
            circuit=circuit, dets=dets, obs=obs, data_format=data_format))]
    n_workers = o.workers_or_default(workers)
    make = make_decoder_factory(n_workers)
    opts = {"provider": provider, "batch_size": batch_size, "contract": contract}
    if experiment is not None:  # refuse now a model that cannot load (exit 2/4)
        m = wiring.calibration_model_from_spec(str(path), experiment, contract=contract)
        if hasattr(m, "close"):
            m.close()
    else:
        make(str(path), opts)
    for w in workloads:   # and a workload that cannot be built
        from verifier.workflows.accept import build_workload

        build_workload(w.args)
    store = o.store_for(db)
    with recorded_run(store, "watch add") as rec:
        w = drift.add(store, path, name, workloads, decoder_options={"provider": provider, "batch_size": batch_size},
                      contract=contract, experiment=experiment)
        checks = [] if no_run else drift.establish(store, w, run=rec, make_decoder=make, workers=n_workers,
                                                   make_calibration_model=wiring.calibration_model_from_spec)
        rec.summary = {"name": name, "sha256": w.sha256}
    console = o.human_console(json_out)
    console.print(f"watching {name}: {w.path} (sha256 {w.sha256[:16]}...)")
    for c in checks:
        if c.signature is not None:
            console.print(f"  reference {c.series}: signature {c.signature.get('digest', '')[:16]} on data "
                          f"{str(c.signature.get('reference_id'))[:12]}")
            continue
        console.print(f"  reference {c.series}: {c.errors}/{c.shots} errors (LER {c.ler:.3e}), "
                      f"{c.latency_us or float('nan'):.3g} us/shot decode")
    o.write_json(json_out, w.to_json() | {"reference": [c.to_json() for c in checks]})
    return 0


@app.command("list")
def list_cmd(db: o.DbOpt = None, json_out: o.JsonOpt = None) -> int:
    """The watched models."""
    from rich.table import Table

    from verifier.workflows import drift as drift

    ws = drift.list_watched(o.store_for(db))
    console = o.human_console(json_out)
    t = Table(title="watched models", title_justify="left")
    for c in ("name", "path", "sha256", "workloads", "since"):
        t.add_column(c)
    for w in ws:
        t.add_row(w.name, w.path, w.sha256[:16], ", ".join(x["name"] for x in w.spec["workloads"]),
                  str(w.added_at)[:19])
    console.print(t)
    o.write_json(json_out, [w.to_json() for w in ws])
    return 0


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The watched model's name.", show_default=False)],
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Stop watching a model (its history stays in the store)."""
    from verifier.workflows import drift as drift

    w = drift.remove(o.store_for(db), name)
    o.human_console(json_out).print(f"no longer watching {name} ({w.path})")
    o.write_json(json_out, {"removed": name})
    return 0
