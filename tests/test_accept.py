"""sov accept: paired-shot non-inferiority statistics, the CLI verdicts, policies, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from adapters.reference_models import _finish, identity_predecoder_flat, save
from verifier.errors import UsageError
from tests.fixtures.cli import sov_main
from verifier.gates.gate import (FAIL, INCONCLUSIVE, PASS, PairedCounts, combine, latency,
                                 ler_noninferiority, ratio_bounds, shots_to_decide)

W = ["--distance", "3", "--rounds", "3", "--p", "0.01", "--seed", "1", "--workers", "1", "-q"]


def flipping_predecoder():
    """``qec.predecoder.flat`` that returns ``[det0 | dets]``: PyMatching's prediction,
    flipped whenever detector 0 fires (a clearly degraded pre-decoder)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Slice", ["dets", "zero", "one", "one"], ["head"]),
             helper.make_node("Concat", ["head", "dets"], ["L_and_residual_dets"], axis=1)]
    inits = [helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
             helper.make_tensor("one", TensorProto.INT64, [1], [1])]
    graph = helper.make_graph(
        nodes, "flip_on_det0",
        [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["batch", "num_detectors"])],
        [helper.make_tensor_value_info("L_and_residual_dets", TensorProto.UINT8, ["batch", "n"])],
        initializer=inits)
    return _finish(graph, {"sov.contract": "qec.predecoder.flat"})


# -- statistics -------------------------------------------------------------------------------

def test_identical_predictions_pass_on_the_margin_alone():
    # zero discordant shots: q_lo = gamma^(1/N) must exceed 1/1.1 (gamma = 0.1 alpha), N >= 56
    assert ler_noninferiority(PairedCounts(1000, 0, 0, 56)).status == PASS
    assert ler_noninferiority(PairedCounts(1000, 0, 0, 55)).status == INCONCLUSIVE
    r = ler_noninferiority(PairedCounts(97, 0, 0, 3))
    assert r.status == INCONCLUSIVE
    # 80 % power: Binomial(n, 0.03) >= 56 with probability 0.8 near n = 2,100 shots
    assert 1900 <= r.figures["shots_to_decide"] <= 2300
    assert ler_noninferiority(PairedCounts(*(np.array([97, 0, 0, 3]) * 20))).status == PASS


@pytest.mark.parametrize("cells", [(97, 0, 0, 3), (199_100, 300, 300, 300), (5000, 30, 20, 200),
                                   (20_000, 40, 60, 30)])
def test_shots_to_decide_decides_with_80_percent_probability(cells):
    """Reruns at the planned shot count, drawn from the observed rates with other random
    numbers than the planner's, decide in about 80 % of cases; at two thirds of it, in
    clearly fewer."""
    from verifier.gates.gate import decide_rate

    c = PairedCounts(*cells)
    need = shots_to_decide(c)
    reruns = 2000
    allowance = 3.1 * (0.8 * 0.2 / reruns) ** 0.5 + 0.03  # 99.9 % binomial + the planner's own noise
    assert decide_rate(c, need, draws=reruns, seed=99) >= 0.8 - allowance
    assert decide_rate(c, int(need / 1.5), draws=reruns, seed=98) < 0.8 - allowance


def test_the_uneven_split_is_more_powerful_and_keeps_its_size(monkeypatch):
    """Against the even split of earlier releases, on paired counts with many discordant
    shots (an equally good decoder that errs on other shots than the baseline): the
    uneven split passes more often, and at the margin it still passes wrongly in at most
    alpha of the trials."""
    from verifier.gates import gate

    rng = np.random.default_rng(17)
    shots, trials = 200_000, 4000

    def pass_rate(cells, share):
        monkeypatch.setattr(gate, "Q_SHARE", share)
        draws = rng.multinomial(shots, np.array(cells) / sum(cells), size=trials)
        _, upper = gate.bound_arrays(draws[:, 1], draws[:, 2], draws[:, 3])
        return float(np.mean(upper < 1.1))

    share = gate.Q_SHARE
    equal = (shots - 900, 300, 300, 300)
    old, new = pass_rate(equal, 0.5), pass_rate(equal, share)
    assert new > old + 0.04, (old, new)
    for p11, p01 in [(300, 300), (540, 100), (60, 600)]:
        p10 = 1.1 * (p11 + p01) - p11
        size = pass_rate((shots - p11 - p01 - p10, p10, p01, p11), share)
        assert size <= 0.05 + 3.1 * (0.05 * 0.95 / trials) ** 0.5, (p11, p01, size)


def test_clearly_worse_fails_and_better_passes():
    worse = ler_noninferiority(PairedCounts(18000, 1000, 100, 900))
    assert worse.status == FAIL and worse.figures["ler_ratio_lower"] > 1.1
    better = ler_noninferiority(PairedCounts(18000, 100, 400, 900))  # fixes many, breaks few
    assert better.status == PASS and better.figures["ler_ratio_upper"] < 1.1
    assert ler_noninferiority(PairedCounts(100, 0, 0, 0)).status == INCONCLUSIVE


def test_bounds_bracket_the_point_estimate():
    for c in [PairedCounts(5000, 30, 20, 200), PairedCounts(5000, 3, 50, 10), PairedCounts(500, 40, 0, 5)]:
        rb = ratio_bounds(c)
        assert rb.lower <= rb.ratio <= rb.upper


def test_exact_test_keeps_its_level_at_the_margin():
    """At a true ratio of exactly 1.1, a wrong 'pass' must happen in at most ~5 % of trials
    (the split makes it conservative); symmetric for 'fail' at 1.1."""
    from verifier.gates.gate import _decision

    rng = np.random.default_rng(2026)
    trials = 400
    for p11, p01 in [(0.03, 0.0), (0.02, 0.01), (0.0, 0.02)]:
        pb = p11 + p01
        p10 = 1.1 * pb - p11
        cells = [1 - p11 - p10 - p01, p10, p01, p11]
        out = [_decision(PairedCounts(*rng.multinomial(4000, cells)), 0.1, 0.95) for _ in range(trials)]
        wrong_pass = out.count(PASS) / trials
        wrong_fail = out.count(FAIL) / trials
        # binomial 99.9 % allowance above the nominal 5 %
        allowance = 0.05 + 3.1 * (0.05 * 0.95 / trials) ** 0.5
        assert wrong_pass <= allowance and wrong_fail <= allowance, (p11, p01, wrong_pass, wrong_fail)


def test_paired_counts_from_packed_blocks():
    rng = np.random.default_rng(0)
    c = rng.random(9000) < 0.1
    b = rng.random(9000) < 0.1
    pk = lambda v: np.packbits(v, bitorder="little").tobytes()  # noqa: E731
    blocks = {(0, 8192): (c[:8192], b[:8192]), (1, 808): (c[8192:], b[8192:])}
    pc = PairedCounts.from_packed_blocks({k: pk(v[0]) for k, v in blocks.items()},
                                         {k: pk(v[1]) for k, v in blocks.items()}, list(blocks))
    assert pc == PairedCounts.from_failures(c, b)
    assert pc.candidate_errors == int(c.sum()) and pc.baseline_errors == int(b.sum())


def test_latency_gate_and_combine():
    ok = latency(50.0, (48.0, 52.0), budget_us=100)
    assert ok.status == PASS and ok.figures["measured_us"] == pytest.approx(50)
    per_round = latency(50.0, (45.0, 49.0 + 1), budget_us=10.5, per="round", rounds=5)
    assert per_round.status == PASS and per_round.figures["measured_us"] == pytest.approx(10)
    straddles = latency(50.0, (40.0, 60.0), budget_us=55)
    assert straddles.status == INCONCLUSIVE
    slow = latency(50.0, (48.0, 52.0), budget_us=100, ratio=5.0, ratio_ci=(4.5, 5.5), max_ratio=2)
    assert slow.status == FAIL and slow.figures["ratio_to_baseline"] == pytest.approx(5)
    assert combine([ok, slow]) == FAIL
    assert combine([ok, ler_noninferiority(PairedCounts(10, 0, 0, 0))]) == INCONCLUSIVE
    assert combine([ok, per_round]) == PASS
    # a candidate sitting exactly on the margin is never decided by more shots
    assert shots_to_decide(PairedCounts(100_000, 100, 0, 1000), 0.1) is None


# -- CLI --------------------------------------------------------------------------------------

def test_identity_predecoder_passes_against_pymatching(cli, tmp_path, identity_path):
    m = identity_path
    r = cli("accept", "--candidate", m, "--baseline", "pymatching", *W, "--shots", "20000",
            "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "a.json"),
            "--junit", str(tmp_path / "a.xml"))
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "a.json").read_text())
    assert d["verdict"] == "pass" and d["exit_code"] == 0
    (g,) = d["gates"]
    f = g["figures"]
    assert g["status"] == "pass" and f["n10"] == f["n01"] == 0 and f["shots"] == 20000
    assert f["n11"] == f["baseline"]["errors"] == f["candidate"]["errors"] > 39
    assert f["ler_ratio_upper"] < 1.1
    suite = ET.parse(tmp_path / "a.xml").getroot()
    case = suite.find("testsuite/testcase")
    assert case is not None and case.find("failure") is None and case.find("skipped") is None
    assert suite.find("testsuite").get("tests") == "1"


def test_degraded_candidate_fails(tmp_path):
    m = save(flipping_predecoder(), tmp_path / "flip.onnx")
    code = sov_main("accept", "--candidate", m, "--baseline", "pymatching", *W, "--shots", "20000",
                    "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "f.json"),
                    "--junit", str(tmp_path / "f.xml"))
    assert code == 1
    d = json.loads((tmp_path / "f.json").read_text())
    f = d["gates"][0]["figures"]
    assert d["verdict"] == "fail" and f["ler_ratio_lower"] > 1.1 and f["n10"] > f["n01"]
    case = ET.parse(tmp_path / "f.xml").getroot().find("testsuite/testcase")
    assert case.find("failure") is not None


def test_hundred_shots_are_inconclusive(tmp_path, identity_path):
    m = identity_path
    code = sov_main("accept", "--candidate", m, "--baseline", "pymatching", *W, "--shots", "100",
                    "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "i.json"),
                    "--junit", str(tmp_path / "i.xml"))
    assert code == 3
    d = json.loads((tmp_path / "i.json").read_text())
    g = d["gates"][0]
    assert d["verdict"] == "inconclusive" and g["figures"]["shots_to_decide"] > 100
    assert d["shots_to_decide"] == g["figures"]["shots_to_decide"]
    assert "shots would decide with 80% probability" in g["message"]
    case = ET.parse(tmp_path / "i.xml").getroot().find("testsuite/testcase")
    assert case.find("skipped") is not None
    from verifier.store.db import Store

    rows = Store(tmp_path / "s.duckdb").query("SELECT status, exit_code FROM runs WHERE command = 'accept'")
    assert rows == [("inconclusive", 3)]


POLICY = """
[policy]
name = "id vs pymatching"
confidence = 0.95

[decoders]
candidate = "id.onnx"
baseline = "pymatching"

[[workloads]]
name = "d3-z"
distance = 3
p = 0.01
shots = 9000
seed = 3

[[workloads]]
name = "d3-x"
distance = 3
basis = "x"
p = 0.01
shots = 9000
seed = 4

[[gates]]
kind = "ler_noninferiority"
margin = 0.10

[[gates]]
kind = "latency"
per = "round"
budget_us = 1e9
workloads = ["d3-z"]
"""


def test_policy_runs_every_workload_and_gate(tmp_path):
    save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    (tmp_path / "p.toml").write_text(POLICY)
    code = sov_main("accept", "--policy", str(tmp_path / "p.toml"), "--workers", "1", "-q",
                    "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "p.json"))
    assert code == 0
    d = json.loads((tmp_path / "p.json").read_text())
    assert [(g["name"], g["workload"], g["status"]) for g in d["gates"]] == [
        ("ler_noninferiority", "d3-z", "pass"), ("ler_noninferiority", "d3-x", "pass"),
        ("latency", "d3-z", "pass")]
    lat = d["gates"][2]["figures"]
    assert lat["per"] == "round" and lat["rounds"] == 3 and lat["measured_us"] > 0


@pytest.mark.parametrize("text, key", [
    ("[[gates]]\nkind='ler_noninferiority'\nmargin=-1\n[[workloads]]\ndistance=3\np=0.01", "gates[1].margin"),
    ("[[gates]]\nkind='latency'\n[[workloads]]\ndistance=3\np=0.01", "gates[1].budget_us"),
    ("[[gates]]\nkind='nope'\n[[workloads]]\ndistance=3\np=0.01", "gates[1].kind"),
    ("[[gates]]\nkind='ler_noninferiority'\nmargins=0.1\n[[workloads]]\ndistance=3\np=0.01", "gates[1].margins"),
    ("[[gates]]\nkind='ler_noninferiority'\n[[workloads]]\ndistance='3'\np=0.01", "workloads[1].distance"),
    ("[[gates]]\nkind='ler_noninferiority'\n[[workloads]]\ndistance=3", "workloads[1].p"),
    ("[[gates]]\nkind='ler_noninferiority'\nworkloads=['zz']\n[[workloads]]\ndistance=3\np=0.01", "gates[1].workloads"),
    ("[[gates]]\nkind='ler_noninferiority'\nconfidence=1.5\n[[workloads]]\ndistance=3\np=0.01", "gates[1].confidence"),
    ("[[gates]]\nkind='ler_noninferiority'", "workloads"),
    ("[policy]\nnam='x'\n[[gates]]\nkind='ler_noninferiority'\n[[workloads]]\ndistance=3\np=0.01", "policy.nam"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_policies_name_the_key(tmp_path, text, key):
    from verifier.gates.policy import load

    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(UsageError) as e:
        load(tmp_path / "bad.toml")
    msg = str(e.value)
    assert key in msg and "\n" not in msg and msg.startswith("bad.toml: ")


def test_example_policy_in_docs_parses():
    from pathlib import Path

    from verifier.gates.policy import load

    p = load(Path(__file__).resolve().parents[1] / "docs" / "examples" / "acceptance-policy.toml")
    assert len(p.workloads) >= 2 and {g.kind for g in p.gates} >= {"ler_noninferiority", "latency"}


def test_bad_policy_on_the_cli_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("[[gates]]\nkind='latency'\nper='hour'\nbudget_us=1\n[[workloads]]\ndistance=3\np=0.01\n")
    code = sov_main("accept", "--candidate", "pymatching", "--baseline", "pymatching",
                    "--policy", str(tmp_path / "bad.toml"), "--db", str(tmp_path / "s.duckdb"))
    assert code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "gates[1].per" in lines[0]


@pytest.mark.slow
def test_calibration_acceptance_dispatches_to_verifier_calib(tmp_path):
    """`sov accept --experiment` runs the calibration tolerance gate of verifier.calib and
    records its verdict and evidence like any other gate."""
    from tests.fixtures.calibration import peak_rabi_model
    from tests.fixtures.calibration import save as save_cal

    off = save_cal(peak_rabi_model(1.3), tmp_path / "off.onnx")
    code = sov_main("accept", "--experiment", "rabi_amplitude", "--candidate", off, "--baseline",
                    "qibocal", "--repeats", "12", "-q", "--db", str(tmp_path / "s.duckdb"),
                    "--json", str(tmp_path / "c.json"), "--junit", str(tmp_path / "c.xml"))
    assert code == 1
    d = json.loads((tmp_path / "c.json").read_text())
    (g,) = d["gates"]
    assert d["verdict"] == "fail" and g["name"] == "calibration_tolerance" and g["workload"] == "rabi_amplitude"
    assert ET.parse(tmp_path / "c.xml").getroot().find("testsuite/testcase/failure") is not None


def test_policy_resolution_is_shared_by_accept_and_drift_add(tmp_path):
    from verifier.gates.policy import resolve_policy

    flags = {"distance": 3, "p": 0.01, "shots": 100}
    with pytest.raises(UsageError, match="put a calibration gate in the policy instead"):
        resolve_policy(None, flags, experiment="rabi_amplitude")
    with pytest.raises(UsageError, match=r"^--experiment \(a calibration model\) takes no QEC workload flags or --policy$"):
        resolve_policy(None, flags, experiment="rabi_amplitude", purpose="watch")
    with pytest.raises(UsageError, match="not both"):
        resolve_policy(tmp_path / "p.toml", flags)
    with pytest.raises(UsageError, match=r"^give a reference workload \("):
        resolve_policy(None, {}, purpose="watch")
    pol = resolve_policy(None, flags, margin=0.2)
    (w,) = pol.workloads
    assert w.args["distance"] == 3 and w.args["basis"] == "z" and pol.gates[0].params["margin"] == 0.2
    cal = resolve_policy(None, {}, experiment="t1", contract="c",
                         calibration={"tolerance": None, "repeats": 4, "seed": 1, "confidence": 0.9})
    assert cal.workloads == () and cal.decoders == {"contract": "c"}
    assert cal.gates[0].params == {"experiment": "t1", "repeats": 4, "seed": 1, "confidence": 0.9}
