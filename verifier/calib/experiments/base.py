"""What every experiment module declares (:class:`Experiment`, :class:`Param`) and the
pieces of the simulated readout chain the experiments share.

Units are Qibocal's: frequencies in Hz, times in ns, amplitudes in arbitrary units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from verifier.calib.data import FitData
from verifier.calib.sweep_shape import DEFAULT, SweepShape, in_units


@dataclass(frozen=True)
class Param:
    name: str
    unit: str
    # "truth": relative error = |est - truth| / |truth|.  "linewidth": for absolute
    # frequencies, whose error relative to ~6 GHz says nothing, the normalized error is
    # |est - truth| / line half-width (rel_error is still reported as well).
    scale: str = "truth"
    question: str = ""  # how a plot-reading model is asked for it


@dataclass(frozen=True)
class Experiment:
    name: str
    params: tuple[Param, ...]
    x_unit: str
    y_meaning: str
    n_points: int
    sweep: str  # human description of the sweep
    truth_ranges: tuple[tuple[str, str], ...]  # (quantity, documented range)
    qibocal_operation: str
    kind: str = "fit"  # fit | readout
    plot: str = ""  # what a plot of the sweep shows, for plot-reading models
    default_shots: int = 1000
    default_repeats: int = 40
    # the feature the signal test looks for (verifier.calib.line_shapes); None: not tested
    line_shape: Any = field(default=None, repr=False, compare=False)
    # simulate(u [R, 8] uniforms for truth and prior, noise generator, shots, SweepShape) -> data
    simulate: Callable[..., Any] | None = field(
        default=None, repr=False, compare=False)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind,
                "params": [{"name": p.name, "unit": p.unit, "scale": p.scale} for p in self.params],
                "x_unit": self.x_unit, "y": self.y_meaning, "n_points": self.n_points,
                "sweep": self.sweep, "truth_ranges": dict(self.truth_ranges),
                "qibocal_operation": self.qibocal_operation}


READOUT_ERRORS = (("P(1|0) readout error", "1 % .. 5 %"), ("P(0|1) readout error", "2 % .. 8 %"))


def span(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return lo + (hi - lo) * u


def measured(p: np.ndarray, u: np.ndarray, noise: np.random.Generator, n_shots: int,
             shape: SweepShape = DEFAULT) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The measured excited fraction of ``n_shots`` binomial shots of the true population
    ``p`` [R, n] through the readout errors P(1|0), P(0|1) drawn from ``u`` [R, 2] (zero
    when the shape has no readout error), in the shape's units; with those errors as context."""
    e0 = span(u[:, 0], 0.01, 0.05)
    e1 = span(u[:, 1], 0.02, 0.08)
    if not shape.readout_error:
        e0, e1 = np.zeros_like(e0), np.zeros_like(e1)
    pm = np.clip(e0[:, None] + (1 - e0 - e1)[:, None] * p, 0.0, 1.0)
    y = in_units(noise.binomial(n_shots, pm) / n_shots, shape.units)
    return y, {"readout_p10": e0, "readout_p01": e1}


def grid(start: float, documented_end, n_documented: int, shape: SweepShape) -> np.ndarray:
    """A sweep from ``start`` to the documented end (scalar or [R]) stretched by the shape's
    span, in the shape's number of points: [R, n] (or [1, n] for a scalar end)."""
    extent = np.atleast_1d((np.asarray(documented_end, float) - start) * shape.span)
    return start + np.linspace(0, 1, shape.points(n_documented))[None, :] * extent[:, None]


def fit_data(name: str, x, y, n_shots: int, truth, ctx: dict[str, np.ndarray]) -> FitData:
    return FitData(name, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                   n_shots, np.asarray(truth, dtype=np.float64), ctx)
