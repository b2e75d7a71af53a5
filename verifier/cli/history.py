"""``sov history``: what ran, with which verdict; one run in full; Parquet export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Runs, verdicts and evidence recorded in the store.", no_args_is_help=True)

RunId = o.operand(str, "RUN_ID", "A run id (or a unique prefix).")


@app.command("list")
def list_cmd(
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many runs, newest first (0 = all).")] = 50,
    command: Annotated[Optional[str], typer.Option("--command", help="Only runs of this command (e.g. accept, 'drift check').")] = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Runs, newest first, with status, exit code and verdict."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import history_table
    from verifier.workflows.history import list_runs

    rows = list_runs(o.store_for(db), limit=limit or None, command=command)
    o.human_console(json_out).print(history_table(rows))
    o.write_json(json_out, rows)
    return 0


@app.command("show")
def show(run_id: RunId, db: o.DbOpt = None, json_out: o.JsonOpt = None) -> int:
    """One run: its command line, results, verdicts, evidence records and drift checks."""
    o.check_outputs(json_out=json_out)
    import json

    from reports.terminal import print_run
    from verifier.workflows.history import show_run

    d = show_run(o.store_for(db), run_id)
    print_run(o.human_console(json_out), d)
    o.write_json(json_out, json.loads(json.dumps(d, default=str)))
    return 0


@app.command("export")
def export(
    parquet: Annotated[Path, typer.Option("--parquet", metavar="DIR", help="Write every table as DIR/<table>.parquet.")],
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Export the whole store as Parquet files (DuckDB COPY ... (FORMAT parquet))."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_exported
    from verifier.workflows.history import export_parquet

    files = export_parquet(o.store_for(db), parquet)
    print_exported(o.human_console(json_out), files)
    o.write_json(json_out, files)
    return 0
