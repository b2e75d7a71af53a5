"""``sov demo``: the whole path end to end on built-in data, in the current folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from verifier.cli import options as o
from verifier.cli import wiring


def demo(
    db: Annotated[Path, typer.Option("--db", help="Store to record into.")] = Path("sov-demo.duckdb"),
    shots: Annotated[int, typer.Option("--shots", min=1, help="Shots per decoder.")] = o.MEASURE_SHOTS,
    workers: o.WorkersOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Replay a d=5 surface-code memory workload through PyMatching and the shipped
    pre-decoders, record everything in a DuckDB file here, and print a summary."""
    from adapters.builtin import builtin_models
    from reports.terminal import demo_lines, shot_progress
    from verifier.workflows.qec import demo_workload, run_demo

    n_workers = o.workers_or_default(workers)
    o.start_workers("local", n_workers)
    workload = demo_workload(shots)
    specs = ["pymatching"] + [m["name"] for m in builtin_models() if m["contract"].startswith("qec.")]
    store = o.store_for(db)
    console = o.human_console(None)
    console.print(f"[bold]sov demo[/bold]: {workload.describe()}; store {store.path}")
    results, run_id = run_demo(specs, lambda spec: wiring.decoder_from_spec(spec, workers=n_workers), workload,
                               store=store, workers=n_workers,
                               progress_factory=lambda label: shot_progress(label, quiet=quiet))
    for line in demo_lines(results, workload_id=workload.id, store_path=store.path, run_id=run_id):
        console.print(line)
    return 0
