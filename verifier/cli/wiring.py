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


def decoder_or_family(spec: str, **kwargs: Any):
    """:func:`decoder_from_spec`, or a model family: one ONNX file per (distance, rounds,
    basis), named by a pattern, a glob, a directory or a comma-separated list
    (``adapters.family``; docs/cli.md, "Model families"). For the commands that run a grid
    of distances: ``qec sweep | threshold | lambda`` and ``compare``."""
    return decoder_from_spec(spec, families=True, **kwargs)


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

def calibration_model_from_spec(spec: Any, experiment: str | None, *, contract: str | None = None,
                                options: Any = None):
    """A calibration model from a name: ``qibocal``, ``sov-reference``, a built-in model
    name, an ONNX file (``cal.fit`` / ``cal.discriminator``) or an OpenAI-compatible
    endpoint (``openai:http://HOST:PORT/v1#MODEL``). Objects pass through. This is the
    ``resolve`` argument of ``verifier.calib`` (run, accept, replay, drift, compare)."""
    from pathlib import Path

    from verifier.calib.experiments import experiment as get_experiment
    from verifier.calib.run import BASELINE_NAMES
    from verifier.errors import UsageError

    if not isinstance(spec, (str, Path)):
        return spec
    spec = str(spec)
    if spec in BASELINE_NAMES:
        if experiment is None:
            raise UsageError(f"the baseline {spec!r} needs --experiment")
        exp = get_experiment(experiment)
        if contract:
            raise UsageError(f"--contract applies to ONNX models, not to the baseline {spec!r}")
        if spec == "qibocal":
            from baselines.qibocal_fits import QibocalFit, QibocalReadout

            return QibocalReadout() if exp.kind == "readout" else QibocalFit(exp.name)
        from baselines.reference_estimators import ReferenceFit, ReferenceReadout

        return ReferenceReadout() if exp.kind == "readout" else ReferenceFit(exp.name)
    if spec.startswith("openai:"):
        from adapters.openai_calibration import EndpointCalibrationModel

        return EndpointCalibrationModel.from_spec(spec, experiment)
    from adapters.builtin import builtin_path
    from adapters.onnx_calibration import OnnxCalibrationModel

    path = builtin_path(spec) or Path(spec)
    if not path.exists() and not spec.endswith(".onnx"):
        raise UsageError(f"unknown calibration model {spec!r}: give qibocal, sov-reference, a built-in "
                         "model (sov models list) or a path to an .onnx file")
    return OnnxCalibrationModel.from_file(str(path), contract=contract, experiment=experiment,
                                          options=options)


def reference_fits():
    """sov-reference's fit of each experiment (``baselines.reference.ESTIMATORS``): the fits
    ``sov calib ask`` draws and its reference answerer uses."""
    from baselines.reference import ESTIMATORS

    return ESTIMATORS


def question_answerer(spec: str):
    """The answerer of ``sov calib ask``: an OpenAI-compatible endpoint
    (``openai:http://HOST:PORT/v1#MODEL``) or ``sov-reference`` (sov's own pipeline)."""
    from verifier.errors import UsageError

    if spec.startswith("openai:"):
        from adapters.vlm_questions import EndpointAnswerer

        return EndpointAnswerer.from_spec(spec)
    if spec == "sov-reference":
        from verifier.calib.question_scores import ReferenceAnswerer

        return ReferenceAnswerer(reference_fits())
    raise UsageError(f"sov calib ask asks a plot-reading model: give --model openai:http://HOST:PORT/v1#MODEL "
                     f"(or sov-reference), not {spec!r}")


def qibocal_records():
    """Qibocal's loaders and fits of recorded output folders, for ``sov calib replay``."""
    from baselines.qibocal_folders import QibocalRecords

    return QibocalRecords()


def calibration_folder_signature(model: Any, folder: Any, experiment: str | None) -> dict:
    """A calibration model's drift signature on a recorded Qibocal folder's sweeps."""
    from verifier.calib.replay_drift import folder_signature

    return folder_signature(model, folder, records=qibocal_records(), experiment=experiment,
                            resolve=calibration_model_from_spec)


def export_for_replay(folder: Any, experiments: Any = None, *, repeats: int = 1, seed: int = 0,
                      scenarios: Any = None, shape: Any = None) -> str:
    """Simulated experiments written as a Qibocal output folder (Qibocal's own writers)."""
    from baselines.qibocal_folders import export_for_replay as export

    return export(folder, experiments, repeats=repeats, seed=seed, scenarios=scenarios, shape=shape)


# -- compare, sweeps and reports ------------------------------------------------------------


def inspect_model(path: str):
    """What the models section of a comparison says about an ONNX file."""
    from adapters.onnx_model import inspect_model as inspect

    return inspect(path)


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

    return accept_calibration(candidate, baseline, resolve=calibration_model_from_spec, **kwargs)


def model_provenance(candidate: str, provenance: Any) -> dict | None:
    """``sov accept``'s check of the candidate's model-signing signature under a policy's
    ``[provenance]`` table (``adapters.provenance.check_candidate``); model-signing is
    imported only when a policy has one."""
    from adapters.provenance import check_candidate

    return check_candidate(candidate, provenance)


def calibration_signature(path: str, experiment: str, folder: str | None = None) -> dict:
    """What a watched calibration model returns on the fixed reference data set (or on a
    recorded Qibocal folder's sweeps)."""
    if folder is not None:
        return calibration_folder_signature(path, folder, experiment)
    from verifier.calib.accept import drift_signature

    return drift_signature(path, experiment, resolve=calibration_model_from_spec)


def load_calibration_model(path: str, experiment: str, contract: str | None):
    """A calibration model, loaded only to refuse one that cannot load (``sov drift add``)."""
    return calibration_model_from_spec(path, experiment, contract=contract)


# -- the single-fault probe -----------------------------------------------------------------

def fault_prober(*, warn=None):
    """The wrong-circuit guard of ``qec run``, ``accept`` and ``compare``
    (``verifier.qec.probe.FaultProber``): PyMatching is the baseline column; ``warn(line)``
    gets the one warning line per suspect decoder (default: stderr)."""
    import sys

    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.qec.probe import FaultProber

    return FaultProber(PyMatchingDecoder(), warn=warn or (lambda line: sys.stderr.write(line + "\n")),
                       pins_circuit=model_pins_circuit)


def model_pins_circuit(decoder) -> bool:
    """Whether an ONNX decoder's metadata names its circuit (``sov.circuit_sha256``, which
    ``Decoder.check`` has already matched against the workload)."""
    info = getattr(decoder, "verified_info", None)
    if not callable(info):
        return False
    return "sov.circuit_sha256" in (info().metadata or {})
