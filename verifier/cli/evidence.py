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
    key: Annotated[Optional[list[Path]], typer.Option("--key", metavar="PUB", help="Public key file(s) to trust for this call, besides the trust store (sov keys list).")] = None,
    require: Annotated[Optional[str], typer.Option("--require", metavar="ALGS", help="Signature algorithms required, each by a trusted key, comma-separated [default: ed25519,ml-dsa-65].")] = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml", help="The required algorithms from a policy file's [evidence] require (docs/policy.md); --require overrides it.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Also check the record against this store's hash chain.")] = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Exit 0 when the record's hash and every signature hold and each required algorithm
    is signed by a trusted key; exit 4 when anything was altered, or the record is unsigned,
    self-signed or signed by an untrusted key."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_trusted_verification
    from verifier.evidence.trust import verify_file

    rep = verify_file(file, key_files=key or (), require=require, policy=policy,
                      store=o.store_for(db) if db is not None else None)
    print_trusted_verification(o.human_console(json_out), rep, f"{file}")
    o.write_json(json_out, rep.to_json())
    return _fail_line(rep, f"{file}")


@app.command("chain")
def chain(db: o.DbOpt = None, json_out: o.JsonOpt = None) -> int:
    """Walk the store's whole evidence chain: every record's hash and link, the verdict row
    each record names, and the head file (STORE.head) that makes deleting the last record
    show. Exit 4 naming the first bad entry, or when the store file does not read."""
    o.check_outputs(json_out=json_out)
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


def _fail_line(rep, what: str) -> int:
    """verify's exit: 0, or 4 with the first failing check as the one stderr line."""
    import sys

    if rep.ok:
        return 0
    bad = next(c for c in rep.checks if not c.ok)
    sys.stderr.write(f"sov: integrity: {what}: {bad.name}: {bad.detail}\n")
    return 4
