"""Λ in Google's convention: the per-distance fit over several round counts (A free), the
coverage of its intervals on synthetic binomial counts of a known (A, ε) model, the
physics of PyMatching at p = 0.003, the CLI's conventions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from verifier.stats.epsilon import GOOGLE, SINGLE, EpsilonPoint, estimate_epsilon, infer_convention
from verifier.stats.suppression import fit_lambda

LAM, EPS3 = 2.9, 2.0e-3
AMPLITUDE = {3: 0.97, 5: 0.985, 7: 0.995}  # A != 1: what the single-round-count convention misreads


def _eps(d: int) -> float:
    return EPS3 / LAM ** ((d - 3) / 2)


def _google_counts(rng, shots: int, factors=(1, 3, 9)) -> list[EpsilonPoint]:
    pts = []
    for d in (3, 5, 7):
        for f in factors:
            n = f * d
            p = 0.5 * (1.0 - AMPLITUDE[d] * (1.0 - 2.0 * _eps(d)) ** n)
            pts.append(EpsilonPoint(d, n, shots, int(rng.binomial(shots, p))))
    return pts


def test_google_fit_recovers_a_and_epsilon_exactly_on_noiseless_counts():
    shots = 10**9
    pts = [EpsilonPoint(5, n, shots, round(shots * 0.5 * (1 - 0.98 * (1 - 2 * 7e-4) ** n))) for n in (5, 15, 45)]
    e = estimate_epsilon(pts, GOOGLE)
    assert e.epsilon == pytest.approx(7e-4, rel=1e-4) and e.amplitude == pytest.approx(0.98, rel=1e-5)
    lo, hi = e.ci()
    assert lo < 7e-4 < hi and e.chi2 < 1e-3


def test_interval_coverage_on_synthetic_binomial_counts():
    """1000 simulated experiments (d = 3, 5, 7 at n = d, 3d, 9d, 30 000 shots each) from a
    known model with A != 1. The 95 % intervals of ε_d (3000 in all) and of Λ (1000) must
    cover the truth at a rate inside the stated bands, about 3 binomial standard deviations
    either side of 0.95: [0.935, 0.965] for ε and [0.93, 0.97] for Λ."""
    rng = np.random.default_rng(1)
    eps_hits = lam_hits = 0
    reps = 1000
    for _ in range(reps):
        fit = fit_lambda(_google_counts(rng, 30_000), bootstrap=400, seed=int(rng.integers(1 << 31)))
        assert fit.convention == GOOGLE and fit.status == "ok"
        for e in fit.estimates:
            lo, hi = e.ci()
            eps_hits += lo <= _eps(e.distance) <= hi
        lo, hi = fit.lam_ci
        lam_hits += lo <= LAM <= hi
    assert 0.935 <= eps_hits / (3 * reps) <= 0.965, eps_hits
    assert 0.93 <= lam_hits / reps <= 0.97, lam_hits


def test_single_round_count_misreads_a_model_with_boundaries():
    """The same counts at n = d alone with A = 1 put A's deficit into ε: with A < 1 growing
    towards 1 with d, ε_3 is read high and Λ high, far outside the google interval."""
    rng = np.random.default_rng(3)
    pts = _google_counts(rng, 10**6)
    google = fit_lambda(pts, bootstrap=200)
    single = fit_lambda([q for q in pts if q.rounds == q.distance], bootstrap=200)
    assert single.convention == SINGLE and google.convention == GOOGLE
    assert google.lam_ci[0] <= LAM <= google.lam_ci[1]
    assert single.lam_ci[0] > google.lam_ci[1]


def test_conventions_and_degenerate_inputs():
    a = [EpsilonPoint(3, 3, 1000, 5), EpsilonPoint(3, 9, 1000, 14)]
    assert infer_convention(a + [EpsilonPoint(5, 5, 1000, 2), EpsilonPoint(5, 15, 1000, 6)]) == GOOGLE
    with pytest.raises(ValueError):
        infer_convention(a + [EpsilonPoint(5, 5, 1000, 2)])  # a mix
    with pytest.raises(ValueError):
        fit_lambda(a + [EpsilonPoint(5, 5, 1000, 2)], convention=SINGLE)
    zero = fit_lambda(a + [EpsilonPoint(5, 5, 1000, 0), EpsilonPoint(5, 15, 1000, 0)])
    assert zero.status == "no_errors" and zero.lam is None
    j = zero.to_json()
    assert j["convention"] == GOOGLE and [e["distance"] for e in j["epsilon"]] == [3, 5]
    assert j["epsilon"][0]["rounds"] == [3, 9] and len(j["epsilon"][0]["points"]) == 2
    high = fit_lambda([EpsilonPoint(3, 3, 100, 60), EpsilonPoint(3, 9, 100, 70),
                       EpsilonPoint(5, 5, 100, 10), EpsilonPoint(5, 15, 100, 20)])
    assert high.status == "above_threshold"


@pytest.mark.slow
def test_pymatching_lambda_in_googles_convention():
    """PyMatching, uniform noise, p = 0.003, d = 3, 5, 7 at n = d, 3d, 9d: Λ in Google's
    convention is 2.93 ± 0.05 (an independent fit of the same model over the same round
    counts); rounds = d alone reads 3.34. At 40 000 shots per experiment the 95 % interval
    must cover 2.93 and exclude 3.34, and the point estimate lie in [2.75, 3.10]."""
    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.engine.sweep import sweep
    from verifier.qec.grid import SweepSpec
    from verifier.stats.suppression import points_from_results

    spec = SweepSpec((3, 5, 7), (0.003,), 40_000, seed=0, rounds_factors=(1, 3, 9))
    res = sweep(PyMatchingDecoder(), spec, workers=2)
    assert sorted({r.workload.rounds for r in res.points if r.workload.distance == 7}) == [7, 21, 63]
    fit = fit_lambda(points_from_results(res.points), seed=1)
    assert fit.status == "ok" and fit.convention == GOOGLE
    lo, hi = fit.lam_ci
    assert lo <= 2.93 <= hi and hi < 3.34, (fit.lam, fit.lam_ci)
    assert 2.75 <= fit.lam <= 3.10
    assert [e.distance for e in fit.estimates] == [3, 5, 7]
    assert all(abs(e.amplitude - 1.0) < 0.02 for e in fit.estimates)


def test_cli_lambda_conventions(cli, tmp_path):
    db = str(tmp_path / "l.duckdb")
    args = ["qec", "lambda", "--distances", "3,5", "--p", "0.004", "--shots", "4000", "--workers", "1",
            "--bootstrap", "100", "--db", db, "--json", "-"]
    r = cli(*args, "--rounds-factors", "1,2,4")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["convention"] == "google" and out["rounds_factors"] == [1, 2, 4]
    assert out["sweep"]["rounds_factors"] == [1, 2, 4]
    assert [e["rounds"] for e in out["epsilon"]] == [[3, 6, 12], [5, 10, 20]]
    assert all(e["A"] > 0 and len(e["epsilon_ci"]) == 2 for e in out["epsilon"])
    r = cli(*args, "--convention", "single-round-count")
    assert r.returncode == 0, r.stderr
    single = json.loads(r.stdout)
    assert single["convention"] == "single-round-count" and single["rounds_factors"] is None
    assert [e["rounds"] for e in single["epsilon"]] == [3, 5]
    assert single["ran_shots"] == 0  # the rounds = d experiments are the google grid's first ones


@pytest.mark.parametrize("args, needle", [
    (["--rounds", "5"], "--rounds fixes one round count"),
    (["--rounds-factors", "3"], "two distinct factors"),
    (["--convention", "single-round-count", "--rounds-factors", "1,3"], "--rounds-factors goes with"),
    (["--convention", "sycamore"], "--convention must be one of"),
])
def test_cli_lambda_bad_convention_flags(cli, tmp_path, args, needle):
    r = cli("qec", "lambda", "--p", "0.003", "--db", str(tmp_path / "x.duckdb"), *args)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_sinter_baseline_with_several_round_counts_is_fitted_in_googles_convention(cli, tmp_path):
    """A sinter CSV with rows at several round counts per distance (metadata ``r``) is a
    google-convention baseline; the command's own sinter export round-trips as one."""
    import sinter

    from adapters.sinter_interop import read_sinter_csv_epsilon

    rng = np.random.default_rng(4)
    rows = [sinter.TaskStats(strong_id=f"{q.distance}-{q.rounds}", decoder="theirs",
                             json_metadata={"d": q.distance, "r": q.rounds, "p": 0.003},
                             shots=q.shots, errors=q.errors) for q in _google_counts(rng, 200_000)]
    path = tmp_path / "b.csv"
    path.write_text(sinter.CSV_HEADER + "\n" + "\n".join(s.to_csv_line() for s in rows) + "\n")
    pts = read_sinter_csv_epsilon(path, 0.003)["sinter:theirs"]
    fit = fit_lambda(pts, bootstrap=200)
    assert fit.convention == GOOGLE and fit.lam_ci[0] <= LAM <= fit.lam_ci[1]
    mine = tmp_path / "mine.csv"
    r = cli("qec", "lambda", "--distances", "3,5,7", "--p", "0.003", "--shots", "4000", "--workers", "1",
            "--bootstrap", "50", "--db", str(tmp_path / "l.duckdb"), "--json", "-", "--sinter-csv", str(mine),
            "--baseline-csv", str(path), "--rounds-factors", "1,3")
    assert r.returncode in (0, 3), r.stderr
    out = json.loads(r.stdout)
    assert out["baselines"]["sinter:theirs"]["convention"] == GOOGLE
    assert [e["rounds"] for e in out["baselines"]["sinter:theirs"]["epsilon"]] == [[3, 9, 27], [5, 15, 45], [7, 21, 63]]
    again = read_sinter_csv_epsilon(mine, 0.003)
    (label, back), = again.items()
    assert sorted((q.distance, q.rounds) for q in back) == [(3, 3), (3, 9), (5, 5), (5, 15), (7, 7), (7, 21)]
    assert infer_convention(back) == GOOGLE
