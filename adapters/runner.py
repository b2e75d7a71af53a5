"""Feeding a session (in this process or in the sandbox) and checking what comes back.

``infer`` is every model's one inference call (QEC and calibration alike): NaN/Inf in an
output is an integrity failure (exit 4) before anything is made of it. ``BatchedRunner``,
shared by the QEC contract runtimes (``adapters.flat``, ``adapters.grid``), feeds a
one-input session in batches and pads a last short batch to a model's fixed batch size.
A slow model's calls are cut to about :data:`CALL_SECONDS` each (from the rate of its
earlier calls; the first call is at most :data:`FIRST_ROWS` shots), and every call's shots
are reported (``verifier.engine.progress.decoded``): a block that takes minutes moves its
progress bar every few seconds instead of once. A QEC model decodes each shot (row) on its
own and sov feeds "at most --batch-size rows" per call (docs/contracts.md), so how a
block is cut into calls changes no prediction.
"""

from __future__ import annotations

import time

import numpy as np

from adapters.contracts import batch_size_of
from adapters.onnx_model import ModelInfo
from adapters.runtime import RuntimeOptions
from verifier.engine.progress import decoded
from verifier.errors import IntegrityError, ResourceLimit, UsageError

CALL_SECONDS = 2.0  # a slow model's calls are cut to about this long
FIRST_ROWS = 1024  # shots of a runner's first call, before its rate is known


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
        self.rows_per_s: float | None = None  # measured on the calls so far

    @property
    def transport_seconds(self) -> float:
        """Seconds spent moving data across the sandbox boundary (0 in-process)."""
        return float(getattr(self.session, "transport_s", 0.0))

    def rows_per_call(self) -> int:
        """The configured batch, or fewer shots for a model slower than that per
        :data:`CALL_SECONDS` (a power of two, so the cut stays put as the rate wobbles)."""
        if self.fixed:
            return self.fixed
        if self.rows_per_s is None:
            return min(self.batch, FIRST_ROWS)
        fit = self.rows_per_s * CALL_SECONDS
        if fit >= self.batch:
            return self.batch
        return max(1, min(self.batch, 1 << max(0, int(fit).bit_length() - 1)))

    def run(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        outs = []
        lo = 0
        while lo < n:
            piece = x[lo:lo + self.rows_per_call()]
            m = piece.shape[0]
            lo += m
            if self.fixed and m < self.fixed:
                pad = np.zeros((self.fixed - m,) + piece.shape[1:], dtype=piece.dtype)
                piece = np.concatenate([piece, pad])
            t0 = time.perf_counter()
            y = infer(self.session, self.output_names[:1], {self.input_name: piece}, self.name)
            self.rows_per_s = piece.shape[0] / max(time.perf_counter() - t0, 1e-9)
            if y.shape[0] != piece.shape[0]:
                raise UsageError(f"{self.name}: returned {y.shape[0]} rows for a batch of {piece.shape[0]}")
            outs.append(y[:m])
            decoded(m)
        return np.concatenate(outs) if outs else np.zeros((0,), np.uint8)


class RunnerTransport:
    """Compiled decoders built on a BatchedRunner report its sandbox transport time, so a
    latency measurement can count the decoder's work and not the isolation's."""

    @property
    def transport_seconds(self) -> float:
        return self.runner.transport_seconds  # type: ignore[attr-defined]
