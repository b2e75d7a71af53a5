"""Where the library meets the implementations: the CLI's one place for building decoders,
calibration models, baselines and the other objects of ``adapters`` and ``baselines`` that
the library (``verifier``) takes as arguments but never imports. Every import here is
lazy, so that ``sov --help`` stays instant."""

from __future__ import annotations

from typing import Any

# -- qec decoders ---------------------------------------------------------------------------


def decoder_from_spec(spec: str, **kwargs: Any):
    """A baseline name (``pymatching``...), a built-in model name, or a path to an ONNX
    file (``adapters.resolve.decoder_from_spec``)."""
    from adapters.resolve import decoder_from_spec as resolve

    return resolve(spec, **kwargs)



def onnx_runtime_variant(spec: str, **kwargs: Any):
    """``sov qec crosscheck``'s decoders: ``make(provider, level)`` is the ONNX model
    ``spec`` on that execution provider at that graph-optimization level (one model load
    per provider). Refuses, before any shot, a baseline and a provider this onnxruntime
    does not have (exit 2)."""
    import dataclasses

    from verifier.errors import UsageError

    loaded: dict[str, Any] = {}

    def make(provider: str, level: str):
        from adapters.onnx_decoder import OnnxDecoder
        from adapters.runtime import require_provider

        if provider not in loaded:
            dec = decoder_from_spec(spec, provider=provider, **kwargs)
            if not isinstance(dec, OnnxDecoder):
                raise UsageError(f"crosscheck compares runtimes of an ONNX model; {spec!r} is a baseline")
            require_provider(dec.options.provider, hint="; install onnxruntime-gpu for cuda")
            loaded[provider] = dec
        dec = loaded[provider]
        return dataclasses.replace(dec, options=dataclasses.replace(dec.options, graph_optimization=level))

    return make


# -- calibration ----------------------------------------------------------------------------


# -- compare, sweeps and reports ------------------------------------------------------------


def inspect_model(path: str):
    """What the models section of a comparison says about an ONNX file."""
    from adapters.onnx_model import inspect_model as inspect

    return inspect(path)


def compare_calib_model(spec: str, experiment: str | None):
    """A calibration model of ``sov compare --calib-model`` (or a calibration baseline)."""
    from verifier.calib.run import resolve_model

    return resolve_model(spec, experiment)


def write_sinter_csv(result, path) -> None:
    from adapters.sinter_interop import write_sinter_csv as write

    write(result, path)


def read_sinter_csv(path) -> dict:
    """Per-decoder LER points of a sinter CSV (a threshold baseline)."""
    from adapters.sinter_interop import read_sinter_csv as read

    return read(path)


def read_sinter_csv_epsilon(path, p: float) -> dict:
    """Per-decoder per-round points of a sinter CSV at one rate (a Λ baseline)."""
    from adapters.sinter_interop import read_sinter_csv_epsilon as read

    return read(path, p)



# -- accept, drift and evidence -------------------------------------------------------------
