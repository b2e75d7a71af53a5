"""Decoder specs, as every command and sinter take them, to Decoders: a baseline name
(``pymatching``...), a built-in model's name, a path to an ONNX file, a model family
(a pattern, glob, directory or comma-separated list of ONNX files: ``adapters.family``), or
``predictions:FILE`` (predictions made elsewhere, ``adapters.predictions``)."""

from __future__ import annotations

import os
from pathlib import Path

from verifier.errors import UsageError


def decoder_from_spec(spec: str, *, contract: str | None = None, provider: str = "cpu",
                      threads: int | None = None, batch_size: int = 8192, workers: int = 1,
                      families: bool = False):
    """A baseline name (``baselines.registry``: ``pymatching``, ``tesseract``, ... with
    options as ``NAME:KEY=VALUE,...``), a built-in model name, a path to an ONNX file,
    ``predictions:FILE`` / ``predictions:FMT:FILE``, or, with ``families`` (the commands
    that run a grid of distances), a model family."""
    if spec.startswith("predictions:"):
        from adapters.predictions import PredictionsDecoder

        if contract:
            raise UsageError("--contract applies to ONNX models, not to a predictions file")
        return PredictionsDecoder.from_spec(spec)
    from baselines.registry import BASELINES, baseline

    if spec.partition(":")[0] in BASELINES:
        if contract:
            raise UsageError(f"--contract applies to ONNX models, not to the baseline {spec!r}")
        return baseline(spec)
    from adapters.builtin import builtin_path
    from adapters.onnx_decoder import OnnxDecoder

    path = builtin_path(spec) or Path(spec)
    if builtin_path(spec) is None and _is_family(spec, families):
        if not families:
            raise UsageError(f"--decoder {spec} names a model family (one file per distance); this command "
                             "takes one file: families go to sov qec sweep, threshold, lambda and compare")
        return _family(spec, contract, _options(provider, threads, batch_size, workers))
    if not path.exists() and not spec.endswith(".onnx"):
        raise UsageError(f"unknown decoder {spec!r}: give a baseline ({', '.join(BASELINES)}), "
                         "a built-in model (sov models list), a path to an .onnx file or predictions:FILE")
    return OnnxDecoder.from_file(str(path), contract=contract,
                                 options=_options(provider, threads, batch_size, workers))


def _options(provider: str, threads: int | None, batch_size: int, workers: int):
    from adapters.runtime import RuntimeOptions

    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    return RuntimeOptions(provider=provider, threads=threads, batch_size=batch_size)


# -- model families (adapters.family) -------------------------------------------------------

def _is_family(spec: str, families: bool) -> bool:
    """Where families are not taken, only a pattern is told so (a directory or a list
    keeps the refusal it always had)."""
    from adapters.family import is_family_spec, is_pattern

    return is_family_spec(spec) if families else is_pattern(spec)


def _family(spec: str, contract: str | None, opts):
    """A model family: each member loads as a single file would (file and contract checks)."""
    from adapters.family import ModelFamily
    from adapters.onnx_decoder import OnnxDecoder

    return ModelFamily.load(spec, lambda path: OnnxDecoder.from_file(path, contract=contract, options=opts))
