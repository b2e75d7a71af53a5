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
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_keys
    from verifier.evidence.keys import DEFAULT_ALGS, generate as gen, write_keys

    keys = gen(tuple(alg) if alg else DEFAULT_ALGS)
    priv, pub = write_keys(keys, out, force=force)
    print_keys(o.human_console(json_out), priv, pub, keys)
    o.write_json(json_out, {"private": str(priv), "public": str(pub),
                            "keys": [{"alg": k.alg, "key_id": k.key_id} for k in keys]})
    return 0


KeyFile = o.operand(Path, "FILE.pub", "A public key file (sov keys generate writes sov-signing.pub).")


@app.command("trust")
def trust(file: KeyFile, json_out: o.JsonOpt = None) -> int:
    """Trust the keys of a public key file: evidence signed by them verifies
    (the trust store: $SOV_TRUST_DIR, or ~/.config/sov/trusted)."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_trusted
    from verifier.evidence import trust as store

    added = store.trust(file)
    print_trusted(o.human_console(json_out), added, store.trust_dir(), "trusted")
    o.write_json(json_out, {"trust_dir": str(store.trust_dir()), "keys": [t.to_json() for t in added]})
    return 0


@app.command("list")
def list_keys(json_out: o.JsonOpt = None) -> int:
    """The trusted public keys: algorithm, key id and file."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import trusted_keys_table
    from verifier.evidence import trust as store

    keys = store.trusted()
    o.human_console(json_out).print(trusted_keys_table(keys, store.trust_dir()))
    o.write_json(json_out, {"trust_dir": str(store.trust_dir()), "keys": [t.to_json() for t in keys]})
    return 0


@app.command("untrust")
def untrust(key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="A trusted key's id (or its first 8+ characters).", show_default=False)],
            json_out: o.JsonOpt = None) -> int:
    """Stop trusting one key: evidence signed by it no longer verifies."""
    o.check_outputs(json_out=json_out)
    from reports.terminal import print_trusted
    from verifier.evidence import trust as store

    gone = store.untrust(key_id)
    print_trusted(o.human_console(json_out), [gone], store.trust_dir(), "untrusted")
    o.write_json(json_out, {"trust_dir": str(store.trust_dir()), "removed": gone.to_json()})
    return 0
