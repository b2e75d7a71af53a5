"""``sov report``: render a recorded comparison again, without running anything."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from verifier.cli import options as o
from verifier.cli.compare import HtmlOpt, MarkdownOpt, ReportJsonOpt
from verifier.errors import UsageError


def report(
    run_id: Annotated[Optional[str], typer.Argument(metavar="RUN_ID", help="A run of sov compare (see the store).")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="The latest sov compare run in the store.")] = False,
    db: o.DbOpt = None,
    html: HtmlOpt = None,
    markdown: MarkdownOpt = None,
    json_out: ReportJsonOpt = None,
) -> int:
    """Re-render the report of a recorded `sov compare` run from the store (no replay)."""
    o.check_outputs(html=html, markdown=markdown, json_out=json_out)
    from pathlib import Path

    from reports.terminal import compare_tables
    from verifier.cli.compare import write_outputs
    from verifier.workflows.compare import load_payload

    if run_id and latest:
        raise UsageError("give RUN_ID or --latest, not both")
    if not run_id and not latest:
        raise UsageError("give a RUN_ID or --latest")
    store = o.store_for(db)
    if not Path(store.path).exists():
        raise UsageError(f"no store at {store.path} (give --db)")
    payload = load_payload(store, run_id)
    console = o.human_console(json_out)
    for table in compare_tables(payload):
        console.print(table)
    write_outputs(payload, html=html, markdown=markdown, json_out=json_out, console=console)
    return 0
