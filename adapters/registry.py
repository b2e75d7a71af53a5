"""Which code implements each QEC contract: declared here, in one place.

A contract runtime is a static check (run before any shot, exit 2 on a mismatch) and a
compile step (an open session -> a compiled decoder). The calibration contracts
(``cal.fit``, ``cal.discriminator``) have one implementation,
``adapters.onnx_calibration.OnnxCalibrationModel``, which dispatches on the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from adapters import flat, grid, weights
from adapters.contracts import check_qec_io
from adapters.onnx_model import ModelInfo
from adapters.runtime import RuntimeOptions
from verifier.errors import UsageError


@dataclass(frozen=True)
class QecRuntime:
    check: Callable[[ModelInfo, str, Any], None]  # (info, contract, workload)
    compile: Callable[[ModelInfo, Any, RuntimeOptions, Any], Any]  # (info, session, options, workload)


QEC_RUNTIMES: dict[str, QecRuntime] = {
    "qec.decoder": QecRuntime(check_qec_io, flat.compile_full),
    "qec.predecoder.flat": QecRuntime(check_qec_io, flat.compile_flat),
    "qec.predecoder.grid": QecRuntime(grid.check_grid, grid.compile_grid),
    "qec.predecoder.weights": QecRuntime(weights.check_weights, weights.compile_weights),
}


def qec_runtime(contract: str) -> QecRuntime:
    try:
        return QEC_RUNTIMES[contract]
    except KeyError:
        raise UsageError(f"contract {contract!r} is not a QEC decoder contract") from None
