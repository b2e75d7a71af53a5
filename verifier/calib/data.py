"""What a calibration model sees: a sweep per repeat (``cal.fit``) or single shots of
prepared states (``cal.discriminator``). Simulated data carry their truth and context;
recorded data (a replayed Qibocal folder) have no truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class FitData:
    """What a ``cal.fit`` model sees (x, y) plus the truth and the context a Qibocal Data
    object needs (pulse durations, drive frequency, programmed detuning, ...)."""

    experiment: str
    x: np.ndarray  # [R, n] float64
    y: np.ndarray  # [R, n] float64
    nshots: int
    truth: np.ndarray | None = None  # [R, k] in contract order; None for recorded data
    context: dict[str, np.ndarray] = field(default_factory=dict)  # per-repeat values [R]

    @property
    def repeats(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True, eq=False)
class ReadoutData:
    """Single shots of prepared |0> and |1>: a training half and a test half per repeat."""

    iq_train: np.ndarray  # [R, Ntr, 2]
    state_train: np.ndarray  # [R, Ntr] prepared state
    iq_test: np.ndarray  # [R, Nte, 2]
    state_test: np.ndarray  # [R, Nte]
    nshots: int  # per prepared state
    context: dict[str, np.ndarray] = field(default_factory=dict)
    experiment: str = "readout"

    @property
    def repeats(self) -> int:
        return self.iq_train.shape[0]


def single_fit(experiment: str, x, y, nshots: int, ctx: dict[str, float]) -> FitData:
    """One recorded sweep (or a stack of resamples of it) as FitData, its context repeated."""
    x = np.atleast_2d(np.asarray(x, float))
    y = np.atleast_2d(np.asarray(y, float))
    return FitData(experiment, x, y, nshots, None, {k: np.full(x.shape[0], v) for k, v in ctx.items()})


def single_readout(iq: np.ndarray, states: np.ndarray) -> ReadoutData:
    """One recorded readout: the same shots train and test the discriminator."""
    return ReadoutData(iq[None], states[None], iq[None], states[None], int((states == 0).sum()))


def to_width(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sweeps [R, m] as a model of fixed width ``n`` that declares ``sov.resample = linear``
    takes them: per sweep, ``n`` equally spaced sweep values from its first to its last
    point, the measured values linearly interpolated between the points (sorted by sweep
    value)."""
    x2, y2 = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    if x2.shape[1] == n:
        return x2, y2
    order = np.argsort(x2, axis=1)
    xs, ys = np.take_along_axis(x2, order, 1), np.take_along_axis(y2, order, 1)
    grid = np.linspace(0.0, 1.0, n)[None, :] * (xs[:, -1:] - xs[:, :1]) + xs[:, :1]
    return grid, np.stack([np.interp(g, xr, yr) for g, xr, yr in zip(grid, xs, ys)])
