"""Decoder specs, as every command and sinter take them, to Decoders: a baseline name
(``pymatching``...), a built-in model's name, or a path to an ONNX file."""

from __future__ import annotations

import os
from pathlib import Path

from verifier.errors import UsageError


def decoder_from_spec(spec: str, *, contract: str | None = None, provider: str = "cpu",
                      threads: int | None = None, batch_size: int = 8192, workers: int = 1):
    """A baseline name (``baselines.registry``: ``pymatching``, ``tesseract``, ... with
    options as ``NAME:KEY=VALUE,...``), a built-in model name, or a path to an ONNX file."""
    from baselines.registry import BASELINES, baseline

    if spec.partition(":")[0] in BASELINES:
        if contract:
            raise UsageError(f"--contract applies to ONNX models, not to the baseline {spec!r}")
        return baseline(spec)
    from adapters.builtin import builtin_path
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.runtime import RuntimeOptions

    path = builtin_path(spec) or Path(spec)
    if not path.exists() and not spec.endswith(".onnx"):
        raise UsageError(f"unknown decoder {spec!r}: give a baseline ({', '.join(BASELINES)}), "
                         "a built-in model (sov models list) or a path to an .onnx file")
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    opts = RuntimeOptions(provider=provider, threads=threads, batch_size=batch_size)
    return OnnxDecoder.from_file(str(path), contract=contract, options=opts)
