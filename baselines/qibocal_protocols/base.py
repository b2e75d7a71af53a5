"""What the per-experiment Qibocal protocol modules share."""

from __future__ import annotations

import numpy as np


def value(v) -> float:
    """Qibocal results are mostly ``[value, error]`` lists, sometimes bare floats."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return float(v[0])
    return float(v)
