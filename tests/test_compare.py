"""sov compare: the library (paired tests on the same shots, payload) and the CLI."""

from __future__ import annotations

import json
import re

import pytest

from tests.fixtures.cli import run_main
from tests.fixtures.compare_models import write_pair
from tests.fixtures.onnx_models import nan_decoder
from adapters.reference_models import save

DONE_WHEN = ["--distances", "3,5", "--p", "0.002,0.004", "--noise", "uniform", "--shots", "5000"]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """The issue's done-when command, run once for the module (the CLI's main(), in process)."""
    tmp = tmp_path_factory.mktemp("cmp")
    a, b = write_pair(tmp)
    db = tmp / "s.duckdb"
    r = run_main(["compare", "--decoder", "pymatching", "--decoder", a, "--decoder", b, *DONE_WHEN,
                  "--html", str(tmp / "r.html"), "--markdown", str(tmp / "r.md"), "--json", str(tmp / "r.json"),
                  "--db", str(db), "--workers", "1", "--latency-shots", "300"])
    return tmp, r, db


def test_done_when_writes_all_three(done):
    tmp, r, _ = done
    assert r.returncode == 0, r.stderr
    html = (tmp / "r.html").read_text()
    md = (tmp / "r.md").read_text()
    payload = json.loads((tmp / "r.json").read_text())
    from adapters.onnx_model import inspect_model

    for name in ("a.onnx", "b.onnx"):
        sha = inspect_model(tmp / name).sha256
        assert sha[:12] in html and sha[:12] in md and name in html
        assert sha in html  # the full hash, in the model section
    assert html.count("<svg") - html.count('aria-hidden="true"') >= 2  # charts, not legend swatches
    assert "pymatching" in html and "sov qec run --decoder pymatching --distance 5" in html
    assert len(payload["results"]) == 3 * 4 and len(payload["workloads"]) == 4
    assert "Decoder comparison" in r.stdout  # the rich table


def test_paired_tests_use_the_same_shots(done):
    tmp, _, _ = done
    pl = json.loads((tmp / "r.json").read_text())
    by = {d["label"]: d["key"] for d in pl["decoders"]}
    res = {(r["decoder"], r["workload_id"]): r for r in pl["results"]}
    base = pl["baseline"]
    assert base == by["pymatching"]
    for pr in pl["paired"]:
        assert pr["available"] and pr["shots"] == 5000
        cand, b = res[(pr["decoder"], pr["workload_id"])], res[(base, pr["workload_id"])]
        # the discordant counts add up to each decoder's own failures on these shots
        assert pr["both_fail"] + pr["only_candidate_fails"] == cand["errors"]
        assert pr["both_fail"] + pr["only_baseline_fails"] == b["errors"]
        if pr["decoder"] == by["a.onnx"]:  # identity pre-decoder = PyMatching, shot for shot
            assert pr["verdict"] == "identical" and pr["p_value"] == 1.0
    summ = {s["label"]: s for s in pl["summary"]}
    assert summ["a.onnx"]["ratio_to_baseline"] == pytest.approx(1.0)
    # dropping two detection events must hurt: worse on every workload, the worst one decides
    assert summ["b.onnx"]["verdict"] == summ["b.onnx"]["paired"]["verdict"] == "worse"
    assert summ["b.onnx"]["paired"]["p_value"] < 1e-6  # Holm-adjusted, at the deciding workload
    assert len(summ["b.onnx"]["paired"]["significantly_worse"]) == 4
    # identical predictions; a workload with under 56 failures cannot show non-inferiority yet
    assert summ["a.onnx"]["verdict"] in ("non-inferior", "inconclusive") and summ["a.onnx"]["paired"]["identical"]
    # the baseline is the reference, not ranked; candidates ranked by verdict
    assert summ["pymatching"]["rank"] is None and summ["pymatching"]["verdict"] == "reference"
    assert summ["a.onnx"]["rank"] == 1 and summ["b.onnx"]["rank"] == 2
    assert summ["b.onnx"]["ratio_to_baseline"] > 1.5
    for r in pl["results"]:
        lo, hi = r["ler_ci"]
        assert lo <= r["ler"] <= hi
        lat = r["latency"]
        assert lat["shots"] == 300 and 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"]


def test_environment_models_and_commands(done):
    tmp, _, _ = done
    pl = json.loads((tmp / "r.json").read_text())
    env = pl["environment"]
    for pkg in ("sov-verifier", "onnxruntime", "stim", "pymatching", "qibocal"):
        assert pkg in env["packages"]
    assert env["packages"]["stim"] and env["cpu"]
    models = [d["model"] for d in pl["decoders"] if d["model"]]
    assert {m["file_name"] for m in models} == {"a.onnx", "b.onnx"}
    for m in models:
        assert m["contract"] == "qec.predecoder.flat" and "Concat" in m["operators"] and m["size_bytes"] > 0
    for w in pl["workloads"]:
        assert f"--distance {w['distance']}" in w["command"] and f"--p {w['p']:g}" in w["command"]
    assert pl["command"].startswith("sov compare --decoder pymatching")


def test_rerun_reuses_the_store(done, cli):
    tmp, _, db = done
    from verifier.store.db import Store

    blocks = Store(db).query("SELECT count(*) FROM blocks")[0][0]
    r = cli("compare", "--decoder", "pymatching", "--decoder", str(tmp / "a.onnx"), *DONE_WHEN,
                "--db", str(db), "--workers", "1", "--latency-shots", "0", "--json", "-")
    assert r.returncode == 0, r.stderr
    pl = json.loads(r.stdout)
    assert all(x["reused_shots"] == 5000 for x in pl["results"])
    assert Store(db).query("SELECT count(*) FROM blocks")[0][0] == blocks


def test_compare_and_qec_sweep_share_blocks(done, cli):
    """One grid, one seed rule: `sov qec sweep` with compare's flags replays nothing."""
    _, _, db = done
    r = cli("qec", "sweep", *DONE_WHEN, "--db", str(db), "--workers", "1", "--json", "-")
    assert r.returncode == 0, r.stderr
    pl = json.loads(r.stdout)
    assert pl["ran_shots"] == 0 and pl["reused_shots"] == 4 * 5000


def test_compare_grid_seeds_every_point():
    """Each point samples with its own seed (point_seed), so the fits' points are independent."""
    from verifier.qec.grid import SweepSpec, point_seed
    from verifier.workflows.compare import compare_plan

    plan = compare_plan(["identity-predecoder"], distances="5,3", p="0.004,0.002", shots=100, seed=7)
    ws = plan.sweep.workloads()
    assert [(w.distance, w.p) for w in ws] == [(3, 0.002), (3, 0.004), (5, 0.002), (5, 0.004)]
    assert [w.seed for w in ws] == [point_seed(7, w.distance, w.rounds, w.p) for w in ws]
    assert len({w.seed for w in ws}) == 4
    assert [w.stream_id for w in ws] == [w.stream_id for w in SweepSpec((3, 5), (0.002, 0.004), 100, 7).workloads()]
    assert plan.specs == ["pymatching", "identity-predecoder"]


def test_mcnemar_exact():
    from verifier.workflows.compare import mcnemar_exact

    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 10) == pytest.approx(2 * 0.5**10)
    assert mcnemar_exact(3, 9) == pytest.approx(mcnemar_exact(9, 3))
    assert mcnemar_exact(50, 50) == pytest.approx(1.0)


def test_integrity_failure_is_reported_not_scored(tmp_path, cli):
    bad = save(nan_decoder(1), tmp_path / "nan.onnx")
    r = cli("compare", "--decoder", bad, "--distances", "3", "--p", "0.003", "--shots", "500",
                "--db", str(tmp_path / "s.duckdb"), "--workers", "1", "--latency-shots", "0",
                "--html", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 4, r.stderr
    pl = json.loads((tmp_path / "r.json").read_text())
    d = next(d for d in pl["decoders"] if d["label"] == "nan.onnx")
    assert d["integrity_failure"] and "nan" in d["integrity_failure"].lower()
    assert not [x for x in pl["results"] if x["decoder"] == d["key"]]
    assert "integrity failure" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("args, needle", [
    (["--decoder", "pymatching", "--p", "0.002"], "--distances"),
    (["--decoder", "nosuch.onnx", "--distances", "3", "--p", "0.002"], "nosuch.onnx"),
    (["--decoder", "identity-predecoder", "--distances", "3,x", "--p", "0.002"], "--distances"),
    (["--decoder", "identity-predecoder", "--distances", "3", "--p", "0.7"], "--p"),
    (["--decoder", "pymatching", "--distances", "3", "--p", "0.002"], "at least one --decoder"),
    (["--calib-model", "m.onnx", "--decoder", "identity-predecoder", "--distances", "3", "--p", "0.002"], ""),
])
def test_usage_errors_are_one_line(args, needle, cli, tmp_path):
    r = cli("compare", *args, "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr and needle in lines[0]


def test_policy_file_supplies_the_sweep(tmp_path, cli):
    pol = tmp_path / "p.toml"
    pol.write_text('[compare]\ndecoders = ["identity-predecoder"]\ndistances = [3]\np = [0.003]\nshots = 400\n')
    r = cli("compare", "--policy", str(pol), "--db", str(tmp_path / "s.duckdb"), "--workers", "1",
                "--latency-shots", "0", "--json", "-")
    assert r.returncode == 0, r.stderr
    pl = json.loads(r.stdout)
    assert pl["sweep"]["shots"] == 400 and [d["label"] for d in pl["decoders"]] == ["pymatching", "identity-predecoder.onnx"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[compare]\nshotz = 4\n")
    r = cli("compare", "--policy", str(bad), "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "shotz" in r.stderr


def test_policy_table_takes_every_grid_flag_and_flags_win(tmp_path):
    """`[compare]` reads each workload flag of `sov compare` under its name (code included);
    a flag given on the command line wins; a value of the wrong kind is one line, exit 2."""
    import inspect

    from verifier.errors import UsageError
    from verifier.workflows.compare.request import POLICY_KEYS, compare_plan

    grid_flags = {"distances", "p", "code", "noise", "basis", "shots", "seed", "rounds"}
    assert grid_flags <= set(inspect.signature(compare_plan).parameters) and grid_flags <= POLICY_KEYS
    pol = tmp_path / "p.toml"
    pol.write_text('[compare]\ndecoders = ["a.onnx"]\ndistances = [3, 5]\np = [0.003]\ncode = "color"\n'
                   'noise = "si1000"\nbasis = "x"\nshots = 1e3\nseed = 4\nrounds = 6\n')
    sweep = compare_plan([], policy=pol).sweep
    assert (sweep.code, sweep.noise, sweep.basis, sweep.shots, sweep.seed, sweep.rounds) == \
        ("color", "si1000", "x", 1000, 4, 6)
    assert all("color_code" in w.spec()["code"] for w in sweep.workloads())  # the workloads are color codes
    flags = compare_plan([], policy=pol, code="repetition", noise="uniform", basis="z", shots=500, seed=1,
                         rounds=3, distances="3", p="0.01").sweep
    assert (flags.code, flags.noise, flags.basis, flags.shots, flags.seed, flags.rounds, flags.distances,
            flags.ps) == ("repetition", "uniform", "z", 500, 1, 3, (3,), (0.01,))
    for bad, needle in (('code = 3', "[compare] code"), ('rounds = "six"', "[compare] rounds"),
                        ('code = "torus"', "torus")):
        pol.write_text(f'[compare]\ndistances = [3]\np = [0.003]\n{bad}\n')
        with pytest.raises(UsageError, match=re.escape(needle)):
            compare_plan(["a.onnx"], policy=pol)


@pytest.mark.slow
def test_calibration_models_next_to_qibocal(tmp_path, cli):
    """--calib-model: the model, Qibocal and sov-reference on the same simulated qubits."""
    r = cli("compare", "--calib-model", "rabi-amplitude-mlp", "--experiment", "rabi_amplitude",
                "--db", str(tmp_path / "s.duckdb"), "--html", str(tmp_path / "c.html"), "--json", "-")
    assert r.returncode == 0, r.stderr
    cal = json.loads(r.stdout)["calibration"]
    assert [m["spec"] for m in cal["models"]] == ["qibocal", "sov-reference", "rabi-amplitude-mlp"]
    assert cal["models"][2]["model_sha256"]
    for d in cal["distributions"]:
        assert len(d["values"]) + d["failures"] == cal["workload"]["repeats"]
    # Qibocal's fits recover the truth (docs/calibration.md scorecard: rabi_amplitude median relative error 0.14 %, p95 0.5 %)
    q = next(x for x in cal["rows"] if x["model"] == "qibocal")
    assert q["rel_error_median"] < 0.01 and q["failures"] == 0
    html = (tmp_path / "c.html").read_text()
    assert "error distribution" in html and cal["models"][2]["model_sha256"] in html
    from test_report import assert_offline

    assert_offline(html)


@pytest.mark.slow
def test_verdicts_with_evidence_hashes_appear(done, cli):
    """A gate verdict recorded by `sov accept` for a compared model shows up with its hash."""
    tmp, _, db = done
    acc = cli("accept", "--candidate", str(tmp / "b.onnx"), "--baseline", "pymatching", "-d", "3",
                  "--p", "0.004", "--shots", "5000", "--db", str(db), "--workers", "1")
    assert acc.returncode in (0, 1, 3), acc.stderr
    r = cli("compare", "--decoder", "pymatching", "--decoder", str(tmp / "b.onnx"), "--distances", "3",
                "--p", "0.004", "--shots", "5000", "--db", str(db), "--workers", "1", "--latency-shots", "0",
                "--json", "-", "--markdown", str(tmp / "v.md"))
    assert r.returncode == 0, r.stderr
    pl = json.loads(r.stdout)
    sha = next(d["model_sha256"] for d in pl["decoders"] if d["label"] == "b.onnx")
    vs = [v for v in pl["verdicts"] if sha in v["matches"]]
    assert vs and vs[0]["kind"] == "accept" and re.fullmatch(r"[0-9a-f]{64}", vs[0]["evidence_hash"])
    assert vs[0]["evidence_hash"][:16] in (tmp / "v.md").read_text()


def _row(wid, only_cand, only_base, both, shots=200_000):
    from verifier.gates.gate import PairedCounts, bound_arrays, ler_noninferiority
    from verifier.workflows.compare.paired import mcnemar_exact

    c = PairedCounts(shots - both - only_cand - only_base, only_cand, only_base, both)
    lo, hi = bound_arrays(only_cand, only_base, both, 0.975)
    return {"workload_id": wid, "available": True, "shots": shots, "both_fail": both,
            "only_candidate_fails": only_cand, "only_baseline_fails": only_base,
            "p_value": mcnemar_exact(only_cand, only_base), "ratio": c.candidate_errors / c.baseline_errors,
            "ratio_ci": [float(lo), float(hi)], "noninferiority": ler_noninferiority(c).status}


def test_a_regression_on_one_workload_decides_the_verdict():
    """Slightly better at high p (many errors), 1.35x worse at d=7 low p: a pooled test would
    call it better; the per-workload verdict is worse, naming that workload."""
    from verifier.workflows.compare.paired import candidate_verdict

    rows = [_row("hi3", 2600, 3000, 20000), _row("hi5", 2400, 2800, 15000), _row("lo7", 180, 40, 360)]
    labels = {"hi3": "d=3 p=0.008", "hi5": "d=5 p=0.008", "lo7": "d=7 p=0.002"}
    v = candidate_verdict(rows, labels)
    assert v["verdict"] == "worse" and v["deciding"]["label"] == "d=7 p=0.002"
    assert v["significantly_worse"] == ["d=7 p=0.002"] and len(v["significantly_better"]) == 2
    assert 1.3 < v["deciding"]["ratio"] < 1.4 and v["deciding"]["ratio_ci"][0] > 1.1
    # pooled, the same counts read as better
    from verifier.workflows.compare.paired import paired_verdict

    assert paired_verdict(sum(r["only_candidate_fails"] for r in rows),
                          sum(r["only_baseline_fails"] for r in rows)) == "better"
    good = candidate_verdict([_row("a", 300, 360, 900), _row("b", 100, 160, 400)], {"a": "A", "b": "B"})
    assert good["verdict"] in ("better", "non-inferior")
    unsure = candidate_verdict([_row("a", 30, 30, 10, shots=5000)], {"a": "A"})
    assert unsure["verdict"] == "inconclusive"
