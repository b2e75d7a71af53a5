"""The one place that creates onnxruntime sessions, in this process or in the sandbox's child.

Every model, whatever its contract, gets a session built the same way: only the
requested execution provider (CPU unless the user names another), never a custom
operator library, one inter-op thread, and no spin-waiting threads. Whether that session
lives here or in a sandboxed child is decided above this module (``adapters.sandbox``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    finisher: str | None = None  # a pre-decoder's global decoder, overriding its sov.finisher

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise UsageError(f"--provider must be one of {', '.join(PROVIDERS)}, got {self.provider!r}")
        if self.graph_optimization not in GRAPH_OPT:
            raise UsageError(f"graph optimization must be one of {', '.join(GRAPH_OPT)}")
        if self.batch_size < 1 or self.threads < 0:
            raise UsageError("--batch-size must be >= 1 and --threads >= 0")


def runtime_version() -> str | None:
    """onnxruntime's version as decoder fingerprints record it, without importing it.

    The GPU, OpenVINO and DirectML builds install the ``onnxruntime`` module under another
    distribution name, so the metadata lookup by module name can miss."""
    from verifier.environment import package_version

    found = package_version("onnxruntime")
    if found is not None:
        return found
    from importlib.metadata import packages_distributions, version

    dists = packages_distributions().get("onnxruntime") or []
    return version(dists[0]) if dists else None


def require_provider(provider: str, *, hint: str = "") -> None:
    """Refuse (exit 2) a provider this onnxruntime build does not have."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if PROVIDERS[provider] not in have:
        raise UsageError(f"execution provider {provider!r} is not available in this "
                         f"onnxruntime ({', '.join(have)}){hint}")


def _session_options(options: RuntimeOptions):
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
    return so


def create_session(path: str, options: RuntimeOptions, *, model_bytes: bytes | None = None):
    """An in-process ``onnxruntime.InferenceSession`` with only the requested provider.

    ``model_bytes``, when given, are the bytes the parent checked (the sandbox's child
    never reopens the file for them); a refusal by onnxruntime is exit 4."""
    import onnxruntime as ort

    so = _session_options(options)
    require_provider(options.provider)
    try:
        return ort.InferenceSession(model_bytes if model_bytes is not None else path,
                                    sess_options=so, providers=[PROVIDERS[options.provider]])
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise IntegrityError(f"onnxruntime refused {Path(path).name}: {first[:300]}") from None
