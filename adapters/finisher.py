"""The pre-decoders' finisher: the global decoder run on the residual a model returns
(PyMatching unless the model's ``sov.finisher`` or ``--finisher`` names another open
baseline), and what it means when the residual cannot be matched."""

from __future__ import annotations

import numpy as np

from verifier.errors import IntegrityError, UsageError

DEFAULT_FINISHER = "pymatching"


def finisher_name(metadata: dict, flag: str | None) -> str:
    """The finisher a pre-decoder runs with: the flag, else its ``sov.finisher``, else PyMatching;
    it must be one of the open baselines (``baselines.registry``)."""
    from baselines.registry import BASELINES

    name = flag or metadata.get("sov.finisher") or DEFAULT_FINISHER
    if name.partition(":")[0] not in BASELINES:
        raise UsageError(f"finisher {name!r} is not an open baseline: give one of {', '.join(BASELINES)}")
    return name


def compile_finisher(name: str | None, workload):
    """The compiled finisher for ``workload``: it decodes unpacked residuals (``decode_bits``)."""
    from baselines.registry import baseline

    dec = baseline(name or DEFAULT_FINISHER)
    dec.check(workload)
    return dec.compile_for(workload)


def finisher_fingerprint(name: str | None) -> dict:
    """What a finisher adds to a pre-decoder's fingerprint; PyMatching's entry is the one
    every earlier release recorded, so their results stay reusable."""
    from verifier.environment import package_version

    if (name or DEFAULT_FINISHER) == DEFAULT_FINISHER:
        return {"pymatching": package_version("pymatching"), "dem": "decompose_errors=True"}
    from baselines.registry import baseline

    return {"name": name, "spec": baseline(name).fingerprint_spec()}


def match_residual(matching, residual: np.ndarray, events: np.ndarray | None, model: str) -> np.ndarray:
    """PyMatching (a ``CompiledMatching``) on the unpacked residual ``[n, D]``. A residual it
    cannot match holds events that no set of the detector error model's mechanisms
    explains. When the shot's own ``events`` do match, the model's output broke the
    syndrome: an integrity failure of the model (exit 4), not of sov. When they do not
    either, the shots do not fit the detector error model (exit 2), whatever the model did."""
    try:
        return matching.decode_bits(residual)
    except ValueError:
        pass
    model_bad = data_bad = 0
    for k in range(residual.shape[0]):
        if _unmatchable(matching, residual[k]):
            if events is not None and _unmatchable(matching, events[k]):
                data_bad += 1
            else:
                model_bad += 1
    if model_bad:
        raise IntegrityError(f"{model}: PyMatching cannot match the residual of {model_bad} of "
                             f"{residual.shape[0]} shots (the model's output leaves detection events "
                             "no error mechanism of the detector error model explains)")
    raise UsageError(f"the detection events of {data_bad} of {residual.shape[0]} shots cannot be "
                     "matched with the workload's detector error model (events on detectors no "
                     "error mechanism flips): the shots do not come from this circuit or DEM")


def _unmatchable(matching, row: np.ndarray) -> bool:
    try:
        matching.decode_bits(row[None, :])
    except ValueError:
        return True
    return False
