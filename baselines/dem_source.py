"""The DEM the non-matching baselines (Tesseract, BP+OSD, Chromobius) decode against.

It is the workload's own (``QecWorkload.detector_error_model``: the ``--dem`` file or the
circuit's DEM as sov builds it for every decoder), so all baselines of a comparison decode
against one model. Only when that cannot be built because an error does not split into
graphlike pieces (a qLDPC or color-code circuit) do these decoders, which need no
decomposition, take the circuit's DEM without it: same mechanisms, same probabilities, no
``^`` suggestions."""

from __future__ import annotations

from verifier.errors import UsageError, first_line
from verifier.qec.dem import circuit_dem


def decoding_dem(workload):
    try:
        return workload.detector_error_model()
    except ValueError as e:
        if "decompos" not in str(e) or not workload.has_circuit or workload.dem_path is not None:
            raise UsageError(f"cannot build the detector error model: {first_line(e)}") from None
    try:
        return circuit_dem(workload.circuit(), decompose=False)
    except ValueError as e:
        raise UsageError(f"cannot build the circuit's detector error model: {first_line(e)}") from None

