"""What a comparison report states besides its figures: the environment, each model's
details, the grid as the payload records it, the commands that regenerate each figure,
and the latency figures reduced from the per-shot timings."""

from __future__ import annotations

import shlex
from typing import Any, Callable, Sequence

import numpy as np

from verifier.environment import machine, package_versions
from verifier.qec.decoder import Decoder
from verifier.qec.grid import SweepSpec
from verifier.qec.workload import MemoryWorkload, QecWorkload

LATENCY_SHOTS = 2000
# tail probabilities at which the latency survival curve is kept (for the plot)
TAIL_PROBS = tuple(float(x) for x in np.concatenate([np.linspace(0.99, 0.02, 50),
                                                     np.geomspace(0.019, 0.0005, 30)]))
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


def latency(decoder: Decoder, workload: QecWorkload, shots: int) -> dict[str, Any]:
    """Per-round latency quantiles and survival curve of ``shots`` shots decoded one at a
    time with the harness of ``sov qec latency`` (``verifier.workflows.latency``).

    Latency per round = time to decode one shot (all its rounds) / rounds: what a
    real-time decoder would have to keep up with."""
    if shots <= 0:
        return {"shots": 0}
    from verifier.workflows.latency import measure_shot_latency

    seconds = measure_shot_latency(decoder, workload, shots=shots, warmup=20)
    return latency_figures(seconds, workload.rounds)


def latency_figures(seconds: Sequence[float], rounds: int | None) -> dict[str, Any]:
    rounds = max(1, int(rounds or 1))
    us = np.sort(np.asarray(seconds, dtype=float)) * 1e6 / rounds
    if us.size == 0:
        return {"shots": 0}
    q = lambda x: float(np.quantile(us, x))  # noqa: E731
    return {"shots": int(us.size), "rounds": rounds, "unit": "us_per_round",
            "mean": float(us.mean()), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
            "max": float(us[-1]),
            "tail": [[p, float(np.quantile(us, 1.0 - p))] for p in TAIL_PROBS if p * us.size >= 1]}
