"""``sov evidence``: verify evidence records offline, and the store's hash chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Verify signed, hash-chained evidence records.", no_args_is_help=True)

RecordFile = o.operand(Path, "FILE", "An evidence record (sov accept --evidence FILE).")


@app.command("verify")
def verify(
    file: RecordFile,
    key: Annotated[Optional[list[Path]], typer.Option("--key", metavar="PUB", help="Public key file(s) that must have signed it.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Also check the record against this store's hash chain.")] = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Exit 0 when the record's hash and every signature hold (and every --key signed it);
    exit 4 when anything was altered."""
    from verifier.evidence import record as evidence
    from verifier.evidence.keys import load_keys

    pinned = [k for path in (key or []) for k in load_keys(path, want="public")]
    doc = evidence.load(file)
    rep = evidence.verify(doc, pinned=pinned, store=o.store_for(db) if db is not None else None)
    return _report(rep, json_out, f"{file}")


@app.command("chain")
def chain(db: o.DbOpt = None, json_out: o.JsonOpt = None) -> int:
    """Walk the store's whole evidence chain: every record's hash and link, the verdict row
    each record names, and the head file (STORE.head) that makes deleting the last record
    show. Exit 4 naming the first bad entry, or when the store file does not read."""
    from verifier.evidence import record as evidence

    rep = evidence.verify_chain(o.store_for(db))
    return _report(rep, json_out, "evidence chain")


def _report(rep, json_out, what: str) -> int:
    import sys

    from reports.terminal import print_verification

    print_verification(o.human_console(json_out), rep, what)
    o.write_json(json_out, rep.to_json())
    if rep.ok:
        return 0
    bad = next(c for c in rep.checks if not c.ok)
    sys.stderr.write(f"sov: integrity: {what}: {bad.name}: {bad.detail}\n")
    return 4
