"""Feeding a session (in this process or in the sandbox) and checking what comes back.

``infer`` is every model's one inference call (QEC and calibration alike): NaN/Inf in an
output is an integrity failure (exit 4) before anything is made of it. ``BatchedRunner``,
shared by the QEC contract runtimes (``adapters.flat``, ``adapters.grid``), feeds a
one-input session in batches and pads a last short batch to a model's fixed batch size.
"""

from __future__ import annotations

import numpy as np

from adapters.contracts import batch_size_of
from adapters.onnx_model import ModelInfo
from adapters.runtime import RuntimeOptions
from verifier.errors import IntegrityError, ResourceLimit, UsageError


def infer(session, output_names: list[str], feeds: dict[str, np.ndarray], name: str, *,
          as_is: tuple[type[BaseException], ...] = ()) -> np.ndarray:
    """The first output of one ``session.run``. A failure is exit 4 with the runtime's first
    line (exceptions of the types in ``as_is``, and a sandbox's time-out, a
    :class:`ResourceLimit`, pass unchanged), and so is NaN or Inf in the output."""
    try:
        y = session.run(output_names, feeds)[0]
    except as_is + (ResourceLimit,):
        raise
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise IntegrityError(f"{name} failed during inference: {first[:300]}") from None
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise IntegrityError(f"{name} returned NaN or Inf outputs")
    return y


class BatchedRunner:
    """Feeds a one-input session in batches (padding to a fixed batch size) and checks
    every output for NaN/Inf."""

    def __init__(self, session, info: ModelInfo, options: RuntimeOptions):
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()]
        self.fixed = batch_size_of(info.inputs[0])
        self.batch = self.fixed or options.batch_size
        self.name = info.file_name

    @property
    def transport_seconds(self) -> float:
        """Seconds spent moving data across the sandbox boundary (0 in-process)."""
        return float(getattr(self.session, "transport_s", 0.0))

    def run(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        outs = []
        for lo in range(0, n, self.batch):
            piece = x[lo:lo + self.batch]
            m = piece.shape[0]
            if self.fixed and m < self.fixed:
                pad = np.zeros((self.fixed - m,) + piece.shape[1:], dtype=piece.dtype)
                piece = np.concatenate([piece, pad])
            y = infer(self.session, self.output_names[:1], {self.input_name: piece}, self.name)
            if y.shape[0] != piece.shape[0]:
                raise UsageError(f"{self.name}: returned {y.shape[0]} rows for a batch of {piece.shape[0]}")
            outs.append(y[:m])
        return np.concatenate(outs) if outs else np.zeros((0,), np.uint8)


class RunnerTransport:
    """Compiled decoders built on a BatchedRunner report its sandbox transport time, so a
    latency measurement can count the decoder's work and not the isolation's."""

    @property
    def transport_seconds(self) -> float:
        return self.runner.transport_seconds  # type: ignore[attr-defined]
