"""``sov history``: what ran, with which verdict; one run in full; Parquet export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Runs, verdicts and evidence recorded in the store.", no_args_is_help=True)


@app.command("list")
def list_cmd(
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many runs, newest first (0 = all).")] = 50,
    command: Annotated[Optional[str], typer.Option("--command", help="Only runs of this command (e.g. accept, 'drift check').")] = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Runs, newest first, with status, exit code and verdict."""
    from rich.table import Table

    from verifier.workflows.history import list_runs

    rows = list_runs(o.store_for(db), limit=limit or None, command=command)
    console = o.human_console(json_out)
    t = Table(title="sov history", title_justify="left")
    for c in ("run", "command", "status", "exit", "verdict", "started"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["run_id"], r["command"], r["status"], str(r["exit_code"]), r["verdict"] or "-",
                  str(r["started_at"])[:19])
    console.print(t)
    o.write_json(json_out, rows)
    return 0


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run id (or a unique prefix).", show_default=False)],
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """One run: its command line, results, verdicts, evidence records and drift checks."""
    import json

    from verifier.workflows.history import show_run

    d = show_run(o.store_for(db), run_id)
    console = o.human_console(json_out)
    r = d["run"]
    console.print(f"[bold]{r['run_id']}[/bold]  sov {r['command']}  {r['status']} (exit {r['exit_code']})  "
                  f"{r['started_at']} .. {r['finished_at']}")
    console.print(f"  argv: {' '.join(r['argv'] or [])}")
    if r.get("message"):
        console.print(f"  message: {r['message']}")
    for x in d["results"]:
        console.print(f"  result: {x['decoder']} on workload {str(x['workload_id'])[:12]}: "
                      f"{x['errors']}/{x['shots']} errors, LER {x['ler']:.3e}" if x["ler"] is not None else
                      f"  result: {x['decoder']}: {x['shots']} shots")
    for v in d["verdicts"]:
        console.print(f"  verdict ({v['kind']}): {v['verdict']} exit {v['exit_code']}, evidence {str(v['evidence_hash'])[:16]}")
        for g in v["gates"] or []:
            console.print(f"    {g['status']:12s} {g['name']} [{g.get('workload')}]: {g['message']}")
    for c in d["drift_checks"]:
        console.print(f"  drift check {c['name']} {c['series']}: {c['status']}")
    o.write_json(json_out, json.loads(json.dumps(d, default=str)))
    return 0


@app.command("export")
def export(
    parquet: Annotated[Path, typer.Option("--parquet", metavar="DIR", help="Write every table as DIR/<table>.parquet.")],
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Export the whole store as Parquet files (DuckDB COPY ... (FORMAT parquet))."""
    from verifier.workflows.history import export_parquet

    files = export_parquet(o.store_for(db), parquet)
    console = o.human_console(json_out)
    for f in files:
        console.print(f"  {f['table']:16s} {f['rows']:>8,} rows  {f['path']}")
    o.write_json(json_out, files)
    return 0
