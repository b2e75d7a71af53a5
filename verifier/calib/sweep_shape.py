"""How a simulated sweep departs from an experiment's documented one (:class:`SweepShape`).

Real Qibocal output is wider than the documented sweeps: any number of points and range,
emulators whose readout has no error at all (exact 0 and 1, Qibocal's zero-error trap),
signals in arbitrary units, spectroscopy lines that are Gaussian rather than Lorentzian, or
a peak where sov's default has a dip. A shape changes only how the sweep is laid out and
measured, never the truth's ranges, so one model can be scored on every shape of the same
qubits. The default shape is the documented sweep, exactly (workload ids and data unchanged).

Written as ``points=25,span=2,readout=none,units=au,line=gaussian,polarity=peak`` on the
command line (``--sweep``); every key optional.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from verifier.errors import UsageError

# arbitrary units: a scaled, offset magnitude, as a signal-mode acquisition records it
AU_OFFSET, AU_SCALE = 2.5e-3, 1.2e-3
MAX_POINTS = 2001
SPECTROSCOPIES = ("resonator_spectroscopy", "qubit_spectroscopy")


@dataclass(frozen=True)
class SweepShape:
    n_points: int | None = None  # None: the experiment's documented number of points
    span: float = 1.0  # the sweep's extent as a multiple of the documented one
    readout_error: bool = True  # False: the measured population is the true one (exact 0 and 1)
    units: str = "probability"  # "au": AU_OFFSET + AU_SCALE x the measured value
    line: str = "lorentzian"  # spectroscopies: "gaussian" (same half-width at half maximum)
    polarity: str | None = None  # spectroscopies: "peak" | "dip"; None: the experiment's own

    def __post_init__(self) -> None:
        if self.n_points is not None and not 5 <= self.n_points <= MAX_POINTS:
            raise UsageError(f"a sweep needs 5 .. {MAX_POINTS} points, got {self.n_points}")
        if not 0.05 <= self.span <= 20:
            raise UsageError(f"span must be within 0.05 .. 20 (a multiple of the documented sweep), got {self.span}")
        for key, value, allowed in (("units", self.units, ("probability", "au")),
                                    ("line", self.line, ("lorentzian", "gaussian")),
                                    ("polarity", self.polarity, (None, "peak", "dip"))):
            if value not in allowed:
                raise UsageError(f"sweep {key} must be one of {', '.join(a for a in allowed if a)}, got {value!r}")

    @property
    def is_default(self) -> bool:
        return self == SweepShape()

    def points(self, documented: int) -> int:
        return self.n_points or documented

    def spec(self) -> dict:
        """The fields that differ from the documented sweep (empty for the default)."""
        return {k: v for k, v in asdict(self).items() if v != getattr(DEFAULT, k)}

    def check_for(self, experiment: str) -> None:
        if (self.line != "lorentzian" or self.polarity is not None) and experiment not in SPECTROSCOPIES:
            raise UsageError(f"sweep line and polarity apply to the spectroscopies only, not {experiment}")
        if experiment == "readout" and not self.is_default:
            raise UsageError("readout takes single shots, not a sweep: --sweep does not apply")

    def text(self) -> str:
        names = {"n_points": "points", "readout_error": "readout"}
        vals = {"readout_error": lambda v: "none" if not v else "errors"}
        return ",".join(f"{names.get(k, k)}={vals.get(k, str)(v)}" for k, v in self.spec().items()) or "documented"

    @classmethod
    def parse(cls, text: str | None) -> "SweepShape":
        """``points=25,span=2,readout=none,units=au,line=gaussian,polarity=peak`` (any subset)."""
        if not text or text.strip() in ("", "documented", "default"):
            return DEFAULT
        fields: dict = {}
        for item in text.split(","):
            key, sep, value = (s.strip() for s in item.partition("="))
            if not sep:
                raise UsageError(f"--sweep {text!r}: expected key=value items, got {item!r}")
            try:
                if key == "points":
                    fields["n_points"] = int(value)
                elif key == "span":
                    fields["span"] = float(value)
                elif key == "readout":
                    if value not in ("none", "errors"):
                        raise UsageError(f"--sweep readout must be 'none' or 'errors', got {value!r}")
                    fields["readout_error"] = value == "errors"
                elif key in ("units", "line", "polarity"):
                    fields[key] = value
                else:
                    raise UsageError(f"--sweep: unknown key {key!r}; keys are points, span, readout, "
                                     "units, line, polarity")
            except ValueError:
                raise UsageError(f"--sweep {key}: not a number: {value!r}") from None
        return replace(DEFAULT, **fields)


DEFAULT = SweepShape()


def in_units(y: np.ndarray, units: str) -> np.ndarray:
    """A measured population (or normalized magnitude) in the shape's units."""
    return AU_OFFSET + AU_SCALE * y if units == "au" else y


def lorentzian_or_gaussian(d: np.ndarray, half_width: np.ndarray, line: str) -> np.ndarray:
    """The line's height at detuning ``d`` for half-width at half maximum ``half_width``
    (1 at resonance), Lorentzian or Gaussian."""
    r = d / half_width
    return np.exp(-np.log(2) * r * r) if line == "gaussian" else 1.0 / (1.0 + r * r)


def spectroscopy_offsets(n_documented: int, step: float, shape: SweepShape) -> np.ndarray:
    """Frequency offsets from the sweep's centre: the documented ``n_documented`` points
    ``step`` apart, or the shape's points over the documented range times its span."""
    n = shape.points(n_documented)
    if shape.n_points is None and shape.span == 1.0:
        return (np.arange(n) - n // 2) * step
    return (np.arange(n) - (n - 1) / 2) * (step * (n_documented - 1) * shape.span / (n - 1))
