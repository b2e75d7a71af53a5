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


def drift_decoder_factory(workers: int, threads: int | None = None):
    """(path, stored decoder options) -> Decoder, for drift checks of watched models."""
    def make(path: str, opts: dict):
        return decoder_from_spec(path, contract=opts.get("contract"), provider=opts.get("provider", "cpu"),
                                 threads=threads, batch_size=opts.get("batch_size", 8192), workers=workers)
    return make


def calibration_acceptance(candidate: str, baseline: str, **kwargs: Any):
    """The calibration gate of ``sov accept`` (``verifier.calib.accept.accept_calibration``),
    imported only when a policy has one."""
    from verifier.calib.accept import accept_calibration

    return accept_calibration(candidate, baseline, **kwargs)


def calibration_signature(path: str, experiment: str) -> dict:
    """What a watched calibration model returns on the fixed reference data set."""
    from verifier.calib.accept import drift_signature

    return drift_signature(path, experiment)


def load_calibration_model(path: str, experiment: str, contract: str | None):
    """A calibration model, loaded only to refuse one that cannot load (``sov drift add``)."""
    from verifier.calib.run import resolve_model

    return resolve_model(path, experiment, contract=contract)
