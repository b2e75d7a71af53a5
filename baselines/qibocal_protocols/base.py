"""What the per-experiment Qibocal protocol modules share."""

from __future__ import annotations

import numpy as np


def value(v) -> float:
    """Qibocal results are mostly ``[value, error]`` lists, sometimes bare floats."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return float(v[0])
    return float(v)


def probability_sweep(data, kind, qubit, xy: tuple[str, str], x, y, err):
    """``data`` with one qubit's excited-probability sweep registered as ``kind``."""
    data.register_qubit(kind, qubit, {xy[0]: x, xy[1]: y, "error": err})
    return data
