"""The calibration gate's tolerance: how much worse than the baseline a candidate's median
error may be.

Errors of calibration fits span orders of magnitude between experiments (a Rabi amplitude
fit is off by ~0.1 %, a spin-echo T2 by ~3 %), so a fixed allowance in percentage points is
either meaningless for one or impossible for another. The default is relative: the
candidate's median error may be at most ``factor`` times the baseline's, plus a small
absolute ``floor`` so that two excellent fits are not told apart on noise. An absolute
allowance (the candidate's median may exceed the baseline's by ``t``) is the same rule
with ``factor = 1``.

Written forms (``--tolerance``, a policy's ``tolerance``): ``1.5x`` (relative, default
floor), ``1.5x+0.001`` (relative with its floor), ``0.05`` (absolute: 5 percentage points).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from verifier.errors import UsageError

DEFAULT_FACTOR = 1.5
DEFAULT_FLOOR = 0.0005  # 0.05 percentage points of normalized error
_RELATIVE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*x\s*(?:\+\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?))?\s*$", re.I)


@dataclass(frozen=True)
class Tolerance:
    factor: float  # candidate median <= factor * baseline median + floor
    floor: float

    @classmethod
    def parse(cls, value: "str | float | int | Tolerance | None") -> "Tolerance":
        if value is None:
            return cls(DEFAULT_FACTOR, DEFAULT_FLOOR)
        if isinstance(value, Tolerance):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls._checked(1.0, float(value))
        text = str(value)
        m = _RELATIVE.match(text)
        if m:
            return cls._checked(float(m.group(1)), float(m.group(2)) if m.group(2) else DEFAULT_FLOOR)
        try:
            return cls._checked(1.0, float(text))
        except ValueError:
            raise UsageError(f"--tolerance must be a factor such as 1.5x (or 1.5x+0.001) or an "
                             f"absolute allowance such as 0.05, got {text!r}") from None

    @classmethod
    def _checked(cls, factor: float, floor: float) -> "Tolerance":
        if not (math.isfinite(factor) and 1.0 <= factor < 1e6) or not (math.isfinite(floor) and 0.0 <= floor < 1e6):
            raise UsageError(f"--tolerance: the factor must be at least 1 and the allowance at least 0, "
                             f"got factor {factor:g}, allowance {floor:g}")
        return cls(factor, floor)

    @property
    def relative(self) -> bool:
        return self.factor != 1.0

    def describe(self) -> str:
        if self.relative:
            return f"{self.factor:g}x the baseline's median error + {self.floor:.2%}"
        return f"the baseline's median error + {self.floor:.2%}"

    def to_json(self) -> dict:
        return {"factor": self.factor, "floor": self.floor, "text": self.text}

    @property
    def text(self) -> str:
        return f"{self.factor:g}x+{self.floor:g}" if self.relative else f"{self.floor:g}"
