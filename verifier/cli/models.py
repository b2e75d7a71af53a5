"""``sov models``: inspect ONNX files and list the built-in models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from verifier.cli import options as o

app = typer.Typer(help="Inspect ONNX models and list the built-in ones.", no_args_is_help=True)


@app.command("inspect")
def inspect(
    model: Annotated[Path, typer.Argument(help="An .onnx file.", show_default=False)],
    contract: o.ContractOpt = None,
    json_out: o.JsonOpt = None,
) -> int:
    """Contract, sha256, opset, operators, inputs/outputs, metadata and integrity verdict.

    Exit 4 when the file fails an integrity check, 2 when it is missing."""
    from adapters.contracts import CONTRACTS
    from adapters.onnx_model import inspect_model
    from verifier.errors import IntegrityError

    try:
        info = inspect_model(model)
    except IntegrityError as e:
        o.write_json(json_out, {"path": str(model), "integrity": "failed", "reason": str(e)})
        raise
    name = contract or info.metadata.get("sov.contract")
    payload = info.to_json() | {"contract": name, "contract_known": name in CONTRACTS,
                                "integrity": "ok"}
    console = o.human_console(json_out)
    from rich.table import Table

    t = Table(title=f"{info.file_name}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("sha256", info.sha256)
    t.add_row("size", f"{info.size_bytes:,} bytes, {info.parameters:,} parameters")
    t.add_row("contract", f"{name or '(none: give --contract)'}" + ("" if name in CONTRACTS or not name else "  (unknown)"))
    t.add_row("opset", ", ".join(f"{k} {v}" for k, v in info.opsets.items()))
    t.add_row("producer", info.producer or "-")
    t.add_row("inputs", "\n".join(x.show() for x in info.inputs))
    t.add_row("outputs", "\n".join(x.show() for x in info.outputs))
    t.add_row("operators", ", ".join(info.operators))
    t.add_row("metadata", "\n".join(f"{k} = {v if len(v) < 80 else v[:77] + '...'}" for k, v in info.metadata.items()) or "-")
    t.add_row("integrity", "ok: parses, passes onnx.checker, standard operators only, no external data outside its folder")
    console.print(t)
    o.write_json(json_out, payload)
    return 0


@app.command("list")
def list_models(json_out: o.JsonOpt = None) -> int:
    """The models that ship with sov."""
    from adapters.builtin import builtin_models

    models = builtin_models()
    from reports.terminal import table

    o.human_console(json_out).print(table("built-in models", ("name", "contract", "description"),
                                          [(m["name"], m["contract"], m["description"]) for m in models]))
    o.write_json(json_out, [{k: m[k] for k in ("name", "path", "contract")} for m in models])
    return 0


@app.command("bom")
def bom(
    model: Annotated[Path, typer.Argument(help="An .onnx file (or a built-in model name).", show_default=False)],
    contract: o.ContractOpt = None,
    db: o.DbOpt = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE",
                                        help="Where to write the BOM ('-' = stdout).")] = "-",
) -> int:
    """CycloneDX 1.6 ML-BOM (JSON) of a model: hashes, contract, metadata, and the
    datasets (workload ids) it was evaluated on according to the store.

    Exit 4 when the file fails an integrity check, 2 when it is missing."""
    from adapters.builtin import builtin_path
    from adapters.onnx_model import inspect_model
    from reports.bom import build_bom, evaluations
    from verifier import __version__
    from verifier.qec.workload import sha256_file

    path = builtin_path(str(model)) or model
    info = inspect_model(path)
    name = contract or info.metadata.get("sov.contract")
    ext = {loc: sha256_file(Path(info.path).parent / loc) for loc in info.external_data}
    payload = build_bom(info, contract=name, evals=evaluations(o.store_for(db), info.sha256),
                        sov_version=__version__, external_hashes=ext)
    o.write_json(output, payload)
    return 0
