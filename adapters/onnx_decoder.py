"""ONNX models as sov Decoders (contracts ``qec.decoder``, ``qec.predecoder.*``).

The parent process checks the file (``adapters.onnx_model``) and the contract against the
workload before any shot. Each worker then opens one onnxruntime session per workload
with only the standard CPU execution provider unless the user names another; no custom
operator library is ever registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from adapters.contracts import QEC_CONTRACTS, batch_size_of, check_metadata, check_qec_io, resolve_contract
from adapters.onnx_model import ModelInfo, inspect_model
from verifier.qec.decoder import pack_bits, unpack_bits
from verifier.errors import IntegrityError, UsageError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider", "openvino": "OpenVINOExecutionProvider",
             "rocm": "ROCMExecutionProvider", "dml": "DmlExecutionProvider"}
GRAPH_OPT = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class RuntimeOptions:
    provider: str = "cpu"
    threads: int = 1  # intra-op threads per session (0 = onnxruntime's default)
    batch_size: int = 8192  # shots per inference call when the batch dimension is symbolic
    graph_optimization: str = "all"

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise UsageError(f"--provider must be one of {', '.join(PROVIDERS)}, got {self.provider!r}")
        if self.graph_optimization not in GRAPH_OPT:
            raise UsageError(f"graph optimization must be one of {', '.join(GRAPH_OPT)}")
        if self.batch_size < 1 or self.threads < 0:
            raise UsageError("--batch-size must be >= 1 and --threads >= 0")


def open_session(path: str, options: RuntimeOptions, *, sandbox: bool | None = None,
                 model_bytes: bytes | None = None):
    """An onnxruntime session with only the requested provider; refusals are exit 4.

    By default the session lives in a child process with time and memory limits
    (``adapters.sandbox.SandboxedSession``, same interface); ``SOV_SANDBOX=0`` runs it
    in this process, for trusted models only (the sandbox's child calls this with
    ``sandbox=False``; the parent then never imports onnxruntime)."""
    from adapters.sandbox import SandboxedSession, sandbox_enabled

    if sandbox if sandbox is not None else sandbox_enabled():
        return SandboxedSession(path, options)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = options.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[options.graph_optimization]
    so.log_severity_level = 3
    # sov's workers alternate inference with matching: intra-op threads that spin-wait for
    # the next batch would take the matcher's core
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    provider = PROVIDERS[options.provider]
    if provider not in ort.get_available_providers():
        raise UsageError(f"execution provider {options.provider!r} is not available in this "
                         f"onnxruntime ({', '.join(ort.get_available_providers())})")
    try:
        return ort.InferenceSession(model_bytes if model_bytes is not None else path,
                                    sess_options=so, providers=[provider])
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise IntegrityError(f"onnxruntime refused {Path(path).name}: {first[:300]}") from None


class BatchedRunner:
    """Feeds a one-input session in batches (padding to a fixed batch size) and checks
    every output for NaN/Inf."""

    def __init__(self, session, info: ModelInfo, options: RuntimeOptions):
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()]
        self.fixed = batch_size_of(info.inputs[0])
        self.batch = self.fixed or options.batch_size
        self.name = info.file_name

    @property
    def transport_seconds(self) -> float:
        """Seconds spent moving data across the sandbox boundary (0 in-process)."""
        return float(getattr(self.session, "transport_s", 0.0))

    def run(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        outs = []
        for lo in range(0, n, self.batch):
            piece = x[lo:lo + self.batch]
            m = piece.shape[0]
            if self.fixed and m < self.fixed:
                pad = np.zeros((self.fixed - m,) + piece.shape[1:], dtype=piece.dtype)
                piece = np.concatenate([piece, pad])
            try:
                y = self.session.run(self.output_names[:1], {self.input_name: piece})[0]
            except Exception as e:
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise IntegrityError(f"{self.name} failed during inference: {first[:300]}") from None
            y = np.asarray(y)
            if y.dtype.kind == "f" and not np.isfinite(y).all():
                raise IntegrityError(f"{self.name} returned NaN or Inf outputs")
            if y.shape[0] != piece.shape[0]:
                raise UsageError(f"{self.name}: returned {y.shape[0]} rows for a batch of {piece.shape[0]}")
            outs.append(y[:m])
        return np.concatenate(outs) if outs else np.zeros((0,), np.uint8)


def _binary(y: np.ndarray, name: str) -> np.ndarray:
    """0/1 from a uint8/bool output, or from float logits (flip iff > 0)."""
    if y.dtype.kind == "f":
        return (y > 0).astype(np.uint8)
    if y.dtype == np.bool_:
        return y.astype(np.uint8)
    if y.size and y.max() > 1:
        raise IntegrityError(f"{name} returned values other than 0 and 1")
    return y.astype(np.uint8, copy=False)


class RunnerTransport:
    """Compiled decoders built on a BatchedRunner report its sandbox transport time, so a
    latency measurement can count the decoder's work and not the isolation's."""

    @property
    def transport_seconds(self) -> float:
        return self.runner.transport_seconds  # type: ignore[attr-defined]


@dataclass
class CompiledFullDecoder(RunnerTransport):
    runner: BatchedRunner
    num_detectors: int
    num_observables: int
    input_dtype: str

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        x = unpack_bits(dets, self.num_detectors)
        if self.input_dtype == "bool":
            x = x.astype(bool)
        y = _binary(self.runner.run(x), self.runner.name)
        if y.ndim != 2 or y.shape[1] != self.num_observables:
            raise UsageError(f"{self.runner.name}: output shape {list(y.shape)}, expected "
                             f"[batch, {self.num_observables}]")
        return pack_bits(y)


@dataclass
class CompiledFlatPredecoder(RunnerTransport):
    runner: BatchedRunner
    matching: Any  # baselines.pymatching_decoder.CompiledMatching
    num_detectors: int
    num_observables: int

    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        x = unpack_bits(dets, self.num_detectors)
        y = _binary(self.runner.run(x), self.runner.name)
        D, O = self.num_detectors, self.num_observables
        if y.ndim != 2 or y.shape[1] != O + D:
            raise UsageError(f"{self.runner.name}: output shape {list(y.shape)}, expected [batch, {O + D}]")
        pre_l, residual = y[:, :O], np.ascontiguousarray(y[:, O:])
        return pack_bits(pre_l ^ self.matching.decode_bits(residual))


# contract -> (static check, compile) ; the grid contract registers itself from adapters.grid
CompileFn = Callable[["OnnxDecoder", ModelInfo, Any, Any], Any]
QEC_RUNTIMES: dict[str, tuple[Callable[[ModelInfo, str, Any], None], CompileFn]] = {}


def _compile_full(dec: "OnnxDecoder", info: ModelInfo, session, workload):
    return CompiledFullDecoder(BatchedRunner(session, info, dec.options), workload.num_detectors,
                               workload.num_observables, info.inputs[0].dtype)


def _compile_flat(dec: "OnnxDecoder", info: ModelInfo, session, workload):
    from baselines.pymatching_decoder import PyMatchingDecoder

    return CompiledFlatPredecoder(BatchedRunner(session, info, dec.options),
                                  PyMatchingDecoder().compile_for(workload),
                                  workload.num_detectors, workload.num_observables)


QEC_RUNTIMES["qec.decoder"] = (check_qec_io, _compile_full)
QEC_RUNTIMES["qec.predecoder.flat"] = (check_qec_io, _compile_flat)


def _runtime(contract: str):
    if contract not in QEC_RUNTIMES and contract == "qec.predecoder.grid":
        import adapters.grid  # noqa: F401  (registers itself)
    try:
        return QEC_RUNTIMES[contract]
    except KeyError:
        raise UsageError(f"contract {contract!r} is not a QEC decoder contract") from None


@dataclass(frozen=True)
class OnnxDecoder:
    """An ONNX model file under one of the QEC contracts."""

    path: str
    sha256: str
    contract: str
    name: str
    options: RuntimeOptions = field(default_factory=RuntimeOptions)

    @classmethod
    def from_file(cls, path: str, *, contract: str | None = None,
                  options: RuntimeOptions | None = None) -> "OnnxDecoder":
        info = inspect_model(path)
        name = resolve_contract(info, contract, family=QEC_CONTRACTS)
        return cls(info.path, info.sha256, name, info.file_name, options or RuntimeOptions())

    @property
    def model_sha256(self) -> str:
        return self.sha256

    @property
    def info(self) -> ModelInfo:
        return inspect_model(self.path)

    def model_record(self) -> dict[str, Any]:
        """The row for the store's ``models`` table."""
        return self.info.store_record(self.contract)

    def fingerprint_spec(self) -> dict[str, Any]:
        from baselines.pymatching_decoder import package_version

        spec = {"decoder": "onnx", "contract": self.contract, "model_sha256": self.sha256,
                "onnxruntime": package_version("onnxruntime"), "provider": self.options.provider,
                "graph_optimization": self.options.graph_optimization}
        if self.contract.startswith("qec.predecoder"):
            spec["finisher"] = {"pymatching": package_version("pymatching"), "dem": "decompose_errors=True"}
        return spec

    def check(self, workload) -> None:
        info = self.info
        if info.sha256 != self.sha256:
            raise IntegrityError(f"{self.name} changed on disk since it was loaded (sha256 mismatch)")
        check_metadata(info, workload)
        static_check, _ = _runtime(self.contract)
        static_check(info, self.contract, workload)

    def compile_for(self, workload):
        info = self.info
        if info.sha256 != self.sha256:
            raise IntegrityError(f"{self.name} changed on disk since it was loaded (sha256 mismatch)")
        _, compile_fn = _runtime(self.contract)
        return compile_fn(self, info, open_session(self.path, self.options), workload)
