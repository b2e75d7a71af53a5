"""``sov keys``: signing keys for evidence records (Ed25519 + ML-DSA-65 hybrid)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Signing keys for evidence records.", no_args_is_help=True)


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder for sov-signing.key (private, mode 0600) and sov-signing.pub.")] = Path("."),
    alg: Annotated[Optional[list[str]], typer.Option("--alg", metavar="ALG", help="Algorithm(s) [default: ed25519 and ml-dsa-65, a hybrid].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
    json_out: o.JsonOpt = None,
) -> int:
    """Generate a signing key bundle: one key per algorithm, signed side by side (hybrid)."""
    from reports.terminal import print_keys
    from verifier.evidence.keys import DEFAULT_ALGS, generate as gen, write_keys

    keys = gen(tuple(alg) if alg else DEFAULT_ALGS)
    priv, pub = write_keys(keys, out, force=force)
    print_keys(o.human_console(json_out), priv, pub, keys)
    o.write_json(json_out, {"private": str(priv), "public": str(pub),
                            "keys": [{"alg": k.alg, "key_id": k.key_id} for k in keys]})
    return 0
