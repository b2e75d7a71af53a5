"""sov's surface-code thresholds of the open baselines against references measured without
sov (benchmarks/reference_thresholds.py: stim's generated circuits decoded by each raw
library in a plain loop, crossings fitted curve by curve and bootstrapped; the files are
tests/data/reference_thresholds/surface_<decoder>.json). The references are checked
against published circuit-level thresholds where one can be stated (docs/threshold.md,
"Reference thresholds"); sov's threshold (the library function `sov qec threshold` uses)
on fewer shots must overlap them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

REF_DIR = Path(__file__).parent / "data" / "reference_thresholds"
# No decoder can beat the optimal threshold of the surface code under circuit-level
# depolarizing noise, about 1.4 % (statistical-mechanics mapping with the Y correlations
# kept); under 0.4 % a circuit-noise threshold of the rotated surface code would be wrong.
SANE = (0.004, 0.014)


@dataclass(frozen=True)
class SovCheck:
    """What sov runs for one reference: fewer shots and rates than the reference (each
    decoder within about 20 s on two free cores), at the distances whose crossing it is
    compared with. ``on``: "fit" compares sov's threshold (the finite-size-scaling fit and
    its interval), "crossing" sov's pairwise crossing of the two distances and its interval."""

    distances: tuple[int, ...]
    ps: tuple[float, ...]
    shots: int
    max_width: float  # sov's interval must say something (absolute, in p)
    on: str = "fit"


# Tesseract and BP+OSD are 100-1000x slower than matching near threshold: they are checked
# at d = 3, 5 only (against the references' d3/d5 crossing), on five and four rates. At the
# few thousand shots a test affords, sov's five-parameter scaling fit on two curves that
# close is not stable (its interval runs from ~0 to ~2 % in some resamples of the
# reference's own rates), so these two are checked on sov's pairwise crossing; the fit,
# where it concludes, must still overlap the reference.
CHECKS = {
    "pymatching": SovCheck((5, 7), (0.006, 0.0065, 0.007, 0.0075, 0.008, 0.0085), 40_000, 0.0015),
    "pymatching-correlated": SovCheck((5, 7), (0.0075, 0.008, 0.0085, 0.009, 0.0095, 0.010), 30_000, 0.0015),
    "tesseract": SovCheck((3, 5), (0.007, 0.008, 0.009, 0.010, 0.011), 3000, 0.004, on="crossing"),
    "bposd": SovCheck((3, 5), (0.0065, 0.0075, 0.0085, 0.0095), 1200, 0.004, on="crossing"),
}


def reference(name: str) -> dict:
    return json.loads((REF_DIR / f"surface_{name}.json").read_text())


def pair(ref: dict, distances) -> dict:
    return next(r for r in ref["crossings"] if r["distances"] == list(distances))


@pytest.mark.parametrize("name", CHECKS)
def test_reference_file_holds_its_counts_and_a_sane_crossing(name):
    """Each reference is complete (every grid point, its seed and count) and its own
    analysis is consistent: every crossing lies inside its interval, inside the grid, and
    in the sane range; the sov spelling names the same decoder settings."""
    ref = reference(name)
    assert ref["decoder"] == name and ref["library_version"] and ref["method"]
    pts = {(x["distance"], x["p"]): x for x in ref["points"]}
    assert set(pts) == {(d, p) for d in ref["distances"] for p in ref["ps"]}
    assert len({x["seed"] for x in ref["points"]}) == len(pts)  # independent shots per point
    for x in ref["points"]:
        assert x["shots"] == ref["shots_per_point"][str(x["distance"])] and 0 < x["errors"] < x["shots"]
    for row in ref["crossings"]:
        lo, hi = row["ci"]
        assert row["crossing"] is not None, row
        assert lo < row["crossing"] < hi and row["rates"][0] <= row["crossing"] <= row["rates"][1], row
        assert SANE[0] < row["crossing"] < SANE[1], row
    top = pair(ref, ref["distances"][-2:])
    assert (ref["threshold"], ref["threshold_ci"]) == (top["crossing"], top["ci"])
    from baselines.registry import baseline

    assert baseline(ref["sov_spec"]).fingerprint_spec()["decoder"] == name.split("-")[0]


def test_sov_decodes_the_circuits_the_references_sampled():
    """The reference's family is sov's `--code surface --noise uniform`, exactly."""
    import stim

    from verifier.qec.grid import SweepSpec

    w = SweepSpec((5,), (0.007,), 1000).workloads()[0]
    raw = stim.Circuit.generated("surface_code:rotated_memory_z", distance=5, rounds=5,
                                 after_clifford_depolarization=0.007, before_round_data_depolarization=0.007,
                                 before_measure_flip_probability=0.007, after_reset_flip_probability=0.007)
    assert w.circuit() == raw


def test_references_agree_with_published_circuit_level_thresholds():
    """PyMatching on this family: about 0.7 % (0.6-0.85 %; the belief-matching paper's
    0.82 % is a different circuit-noise model at larger distances). Correlated matching uses
    the Y correlations plain matching drops, and Tesseract searches for the most likely
    error over the whole DEM: both cross higher than PyMatching, at the same pair of
    distances, beyond both intervals; all below the optimal ~1.4 %."""
    pm = reference("pymatching")
    lo, hi = pm["threshold_ci"]
    assert lo <= 0.0085 and hi >= 0.006 and hi - lo < 0.0005, pm["threshold_ci"]
    for better in ("pymatching-correlated", "tesseract"):
        ref = reference(better)
        for row in ref["crossings"]:
            base = pair(pm, row["distances"])
            assert row["ci"][0] > base["ci"][1], (better, row["distances"], row["ci"], base["ci"])
    for name in CHECKS:
        assert reference(name)["threshold_ci"][1] < SANE[1], name


@pytest.mark.parametrize("name", CHECKS)
def test_sov_fit_on_the_reference_counts_overlaps_the_reference(name):
    """The two analyses on the same counts: sov's finite-size-scaling fit (its rule: without
    the smallest of three distances) against the curve-by-curve crossing of the reference."""
    from verifier.stats.threshold import LerPoint, fit_threshold

    ref = reference(name)
    fit = fit_threshold([LerPoint(x["distance"], x["p"], x["shots"], x["errors"]) for x in ref["points"]],
                        bootstrap=100, seed=1)
    assert fit.status == "ok", fit.message
    row = pair(ref, fit.fit_distances)
    (lo, hi), (rlo, rhi) = fit.threshold_ci, row["ci"]
    assert lo <= rhi and rlo <= hi, (name, fit.threshold, fit.threshold_ci, row["crossing"], row["ci"])


@pytest.mark.slow
@pytest.mark.parametrize("name", CHECKS)
def test_sov_threshold_overlaps_the_reference(name):
    """sov's threshold of the same decoder on the same family (its own shots, seeds and
    finite-size-scaling fit) overlaps the reference crossing of the same distances."""
    from baselines.registry import baseline
    from verifier.engine.sweep import sweep
    from verifier.qec.grid import SweepSpec
    from verifier.stats.threshold import fit_threshold, points_from_results

    check, ref = CHECKS[name], reference(name)
    res = sweep(baseline(ref["sov_spec"]), SweepSpec(check.distances, check.ps, check.shots, seed=19), workers=2)
    fit = fit_threshold(points_from_results(res.points), bootstrap=100, seed=1)
    assert list(fit.fit_distances) == list(check.distances)
    row = pair(ref, check.distances)
    rlo, rhi = row["ci"]
    lo, hi = fit.threshold_ci
    est = fit.threshold
    if check.on == "crossing":
        sov_pair = next(c for c in fit.crossings if c["distances"] == list(check.distances))
        if fit.status == "ok":  # the fit, where it concludes, must not contradict the reference
            assert lo <= rhi and rlo <= hi, (name, "fit", fit.threshold, fit.threshold_ci, row["ci"])
        est, (lo, hi) = sov_pair["crossing"], sov_pair["crossing_ci"]
    else:
        assert fit.status == "ok", fit.message
    print(f"{name}: sov {check.on} {est:.4%} [{lo:.4%}, {hi:.4%}] (d{list(check.distances)}; fit {fit.status} "
          f"{fit.threshold}, {fit.threshold_ci}); reference {row['crossing']:.4%} [{rlo:.4%}, {rhi:.4%}]")
    assert lo <= est <= hi and SANE[0] < est < SANE[1], (name, est, (lo, hi))
    assert hi - lo < check.max_width, (name, est, (lo, hi))
    assert lo <= rhi and rlo <= hi, (name, est, (lo, hi), row["crossing"], row["ci"])
