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


# -- calibration ----------------------------------------------------------------------------


# -- compare, sweeps and reports ------------------------------------------------------------


# -- accept, drift and evidence -------------------------------------------------------------
