"""The color-code threshold with Chromobius through sov's own threshold machinery lands on
the independent reference measured with raw stim + chromobius
(benchmarks/reference_color_threshold.py, tests/data/reference_thresholds/color_chromobius.json)."""

from __future__ import annotations

import json
from pathlib import Path

REFERENCE = Path(__file__).parent / "data" / "reference_thresholds" / "color_chromobius.json"


def test_reference_file_says_how_it_was_measured():
    ref = json.loads(REFERENCE.read_text())
    assert {"method", "versions", "shots_per_point", "seed", "date", "pairs", "failures"} <= set(ref)
    lo, hi = ref["threshold_ci95"]
    assert lo < ref["threshold"] < hi
    assert all(pr["ci95"][0] < pr["crossing"] < pr["ci95"][1] for pr in ref["pairs"])
    assert {"chromobius", "stim"} <= set(ref["versions"])


def test_sov_color_threshold_overlaps_the_reference(cli, tmp_path):
    """A small grid (4 p values, 6,000 shots a point, d = 3, 5, 7): sov's 95 % interval must
    overlap the reference's, and its estimate must lie in the range where color-code
    thresholds under circuit noise sit (0.2 - 0.6 %)."""
    ref = json.loads(REFERENCE.read_text())
    r = cli("qec", "threshold", "--code", "color", "--decoder", "chromobius", "--distances", "3,5,7",
            "--p", "0.003,0.0035,0.004,0.0045", "--shots", "6000", "--seed", "3", "--workers", "1",
            "--bootstrap", "100", "--db", str(tmp_path / "t.duckdb"), "--json", "-")
    assert r.returncode in (0, 3), r.stderr
    out = json.loads(r.stdout)
    assert out["threshold"] is not None, out.get("fit")
    lo, hi = out["threshold_ci"]
    rlo, rhi = ref["threshold_ci95"]
    assert lo <= rhi and hi >= rlo, ((lo, hi), (rlo, rhi))
    assert 0.002 < out["threshold"] < 0.006, out["threshold"]
