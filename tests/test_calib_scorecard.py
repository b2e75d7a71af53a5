"""The calibration scorecard: the median's distribution-free interval (coverage measured),
and a small scorecard of the shipped models on the wider simulator and the fault scenarios."""

from __future__ import annotations

import numpy as np
import pytest

import verifier.calib.experiments  # noqa: F401  (metrics is imported through the registry)
from verifier.calib.metrics import median_interval


@pytest.mark.parametrize("n", [9, 40, 100])
def test_the_median_interval_covers_at_least_95_percent(n):
    rng = np.random.default_rng(n)
    trials = 3000
    v = rng.lognormal(size=(trials, n))  # median exactly 1
    cover = 0
    for row in v:
        _, lo, hi = median_interval(row)
        cover += lo <= 1.0 <= hi
    assert 0.95 <= cover / trials <= 0.99, cover / trials


def test_failures_count_as_infinitely_wrong():
    m, lo, hi = median_interval(np.array([0.1, np.nan, np.nan, np.nan, 0.2]))
    assert m == np.inf and hi == np.inf and lo == 0.1


def test_the_shipped_fit_models_take_every_shape_and_units():
    """Retrained on many sweep shapes and standardized within the sweep: the shipped MLPs
    read 25- and 101-point sweeps, stretched ranges, exact populations and arbitrary units
    as well as the documented sweep (the previous ones were 60-75 % off in arbitrary units
    and the T1 model refused any width but 50)."""
    from adapters.training.calib_scorecard import _models, shape_cells
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "adapters" / "models"
    for exp, limit in (("rabi_amplitude", 0.01), ("t1", 0.03)):
        models = _models(exp, root)
        mlp = {k: v for k, v in models.items() if k.endswith("mlp")}
        cells = shape_cells(exp, mlp, repeats=24, seed=11)
        assert len(cells) >= 8
        for c in cells:
            assert c.refused is None and c.failures == 0, c
            assert c.median < limit, c


def test_the_scorecard_writes_every_case(tmp_path):
    from adapters.training.calib_scorecard import main

    out = tmp_path / "sc.md"
    assert main(["--repeats", "6", "--seeds", "2", "--out", str(out), "--json", str(tmp_path / "sc.json")]) == 0
    text = out.read_text()
    for case in ("documented", "units=au", "scenario no_signal", "scenario too_short", "t1-mlp", "qibocal"):
        assert case in text
