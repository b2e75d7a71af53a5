"""``sov models``: inspect ONNX files, verify their signatures and list the built-in models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.cli import options as o

app = typer.Typer(help="Inspect ONNX models and list the built-in ones.", no_args_is_help=True)

ModelFile = o.operand(Path, "FILE", "An .onnx file (or a built-in model name).")


@app.command("inspect")
def inspect(
    model: ModelFile,
    contract: o.ContractOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Contract, sha256, opset, operators, inputs/outputs, metadata and integrity verdict.

    Exit 4 when the file fails an integrity check, 2 when it is missing."""
    o.check_outputs(json_out=json_out)
    from adapters.builtin import builtin_path
    from adapters.contracts import inspection
    from adapters.onnx_model import inspect_model
    from reports.terminal import model_table
    from verifier.errors import IntegrityError

    try:
        info = inspect_model(builtin_path(str(model)) or model)
    except IntegrityError as e:
        o.write_json(json_out, {"path": str(model), "integrity": "failed", "reason": str(e)})
        raise
    payload = inspection(info, contract)
    o.human_console(json_out).print(model_table(info, payload["contract"], known=payload["contract_known"],
                                                    source=payload["contract_source"]))
    o.write_json(json_out, payload)
    return 0


@app.command("list")
def list_models(json_out: o.JsonOpt = None) -> int:
    """The models that ship with sov."""
    o.check_outputs(json_out=json_out)
    from adapters.builtin import builtin_models
    from reports.terminal import builtin_models_table

    models = builtin_models()
    o.human_console(json_out).print(builtin_models_table(models))
    o.write_json(json_out, [{k: m[k] for k in ("name", "path", "contract")} for m in models])
    return 0


SignatureOpt = Annotated[Path, typer.Option("--signature", metavar="SIG", help="The model-signing signature (a Sigstore bundle, e.g. model.sig).")]
PubKeyOpt = Annotated[Optional[list[Path]], typer.Option("--key", metavar="PUB", help="Trusted public key(s) (PEM, ECDSA) for a key signature.")]
CertChainOpt = Annotated[Optional[list[Path]], typer.Option("--cert-chain", metavar="PEM", help="Trusted certificate chain(s) (PEM) for a certificate signature.")]
IdentityOpt = Annotated[Optional[list[str]], typer.Option("--identity", metavar="ID", help="The signer must be one of these (certificate SAN / CN, or key sha256:...).")]


@app.command("verify")
def verify(
    model: ModelFile,
    signature: SignatureOpt,
    key: PubKeyOpt = None,
    cert_chain: CertChainOpt = None,
    identity: IdentityOpt = None,
    db: o.DbOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Verify an OpenSSF model-signing signature of a model file offline, show the signer
    and record it with the model in the store.

    Exit 0 when it verifies, 4 when it does not (tampered file, untrusted key or
    certificate, unexpected identity), 2 for a missing file or model-signing not installed."""
    o.check_outputs(json_out=json_out)
    from adapters.builtin import builtin_path
    from adapters.provenance import verify_signature
    from reports.terminal import signer_table
    from verifier.store.models import record_signature

    signer = verify_signature(builtin_path(str(model)) or model, signature, public_keys=key or [],
                              certificate_chains=cert_chain or [], identities=identity or [])
    record_signature(o.store_for(db), signer.to_json())
    o.human_console(json_out).print(signer_table(signer))
    o.write_json(json_out, signer.to_json())
    return 0


BomJsonOpt = Annotated[str, typer.Option("--json", metavar="FILE", help="Where to write the BOM ('-' = stdout).")]


@app.command("bom")
@o.hidden_aliases(json_out=("--output", "-o"))
def bom(
    model: ModelFile,
    contract: o.ContractOpt = None,
    db: o.DbOpt = None,
    json_out: BomJsonOpt = "-",
) -> int:
    """CycloneDX 1.6 ML-BOM (JSON) of a model: hashes, contract, metadata, and the
    datasets (workload ids) it was evaluated on according to the store.

    Exit 4 when the file fails an integrity check, 2 when it is missing."""
    o.check_outputs(json_out=json_out)
    from adapters.builtin import builtin_path
    from adapters.onnx_model import inspect_model
    from reports.bom import model_bom
    from verifier import __version__

    info = inspect_model(builtin_path(str(model)) or model)
    o.write_json(json_out, model_bom(info, contract=contract, store=o.store_for(db), sov_version=__version__))
    return 0
