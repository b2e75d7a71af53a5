"""What a comparison report states besides its figures: the environment, each model's
details, the grid as the payload records it, and the commands that regenerate each figure."""

from __future__ import annotations

import shlex
from typing import Any, Callable, Sequence

from verifier.environment import machine, package_versions
from verifier.qec.decoder import Decoder
from verifier.qec.grid import SweepSpec
from verifier.qec.workload import MemoryWorkload

LATENCY_SHOTS = 2000
ENV_PACKAGES = ("sov-verifier", "onnxruntime", "onnx", "stim", "pymatching", "qibocal", "numpy",
                "scipy", "duckdb")

# path of an ONNX file -> its inspection (adapters.onnx_model.inspect_model, passed in by the CLI)
ModelInspector = Callable[[str], Any]


def environment() -> dict[str, Any]:
    """Versions (without importing the heavy packages) and the machine."""
    return {**machine(), "packages": package_versions(ENV_PACKAGES)}


def model_details(decoder: Decoder, inspect: ModelInspector | None) -> dict[str, Any] | None:
    """File name, sha256, contract, metadata, size and operators of an ONNX decoder."""
    path = getattr(decoder, "path", None)
    if not decoder.model_sha256 or not path or inspect is None:
        return None
    info = inspect(path)
    return {"file_name": info.file_name, "path": info.path, "sha256": info.sha256,
            "contract": getattr(decoder, "contract", None) or info.metadata.get("sov.contract"),
            "metadata": dict(info.metadata), "size_bytes": info.size_bytes, "opset": info.opset,
            "ir_version": info.ir_version, "producer": info.producer, "operators": list(info.operators),
            "parameters": info.parameters, "inputs": [t.show() for t in info.inputs],
            "outputs": [t.show() for t in info.outputs]}


def sweep_json(sweep: SweepSpec) -> dict[str, Any]:
    """The grid as the compare payload has always recorded it (sorted lists, ``ps``,
    ``rounds`` None for rounds = distance)."""
    return {"distances": sorted(sweep.distances), "ps": sorted(float(p) for p in sweep.ps),
            "noise": sweep.noise, "basis": sweep.basis, "shots": sweep.shots, "seed": sweep.seed,
            "rounds": sweep.rounds}


def regenerate_command(workload: MemoryWorkload, decoder_spec: str = "pymatching") -> str:
    args = ["sov", "qec", "run", "--decoder", decoder_spec, "--distance", str(workload.distance),
            "--rounds", str(workload.rounds), "--basis", workload.basis, "--noise", workload.noise,
            "--p", f"{workload.p:g}", "--shots", str(workload.shots), "--seed", str(workload.seed)]
    return shlex.join(args)


def compare_command(specs: Sequence[str], sweep: SweepSpec) -> str:
    args = ["sov", "compare"]
    for s in specs:
        args += ["--decoder", s]
    args += ["--distances", ",".join(str(d) for d in sorted(sweep.distances)),
             "--p", ",".join(f"{p:g}" for p in sorted(sweep.ps)), "--noise", sweep.noise,
             "--basis", sweep.basis, "--shots", str(sweep.shots), "--seed", str(sweep.seed)]
    if sweep.rounds:
        args += ["--rounds", str(sweep.rounds)]
    return shlex.join(args)
