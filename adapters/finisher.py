"""The pre-decoders' finisher: PyMatching on the residual a model returns, and what it
means when the residual cannot be matched."""

from __future__ import annotations

import numpy as np

from verifier.errors import IntegrityError, UsageError


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
