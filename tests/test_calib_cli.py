"""``sov calib`` and ``sov accept --experiment`` through the real console entry point."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.calibration import nan_fit_model, peak_rabi_model, save
from tests.fixtures.cli import one_line
from tests.fixtures.stores import read_rows


def test_accept_rejects_a_model_30_percent_off_exit_1(cli, tmp_path):
    off = save(peak_rabi_model(1.3), tmp_path / "off30.onnx")
    r = cli("accept", "--candidate", off, "--baseline", "qibocal", "--experiment", "rabi_amplitude",
                "--repeats", "16", "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "a.json"))
    assert r.returncode == 1, r.stderr
    d = json.loads((tmp_path / "a.json").read_text())
    assert d["verdict"] == "fail"
    gate = next(g for g in d["gates"] if g["name"] == "calibration_tolerance")
    assert gate["status"] == "fail" and gate["figures"]["tolerance"] == {"factor": 1.5, "floor": 0.0005,
                                                                          "text": "1.5x+0.0005"}
    assert gate["figures"]["parameters"]["pi_pulse_amplitude"]["candidate_median_error"] > 0.2


def test_accept_rejects_a_model_many_times_worse_than_qibocal(cli, tmp_path):
    """Peak picking is off by ~4 % where Qibocal's fit is off by ~0.15 %: the default relative
    tolerance rejects it (exit 1); 5 percentage points absolute, the tolerance of earlier
    releases, does not."""
    peak = save(peak_rabi_model(1.0), tmp_path / "peak.onnx")
    args = ("accept", "--candidate", peak, "--baseline", "qibocal", "--experiment", "rabi_amplitude",
            "--repeats", "20", "--db", str(tmp_path / "s.duckdb"), "--json", "-", "-q")
    r = cli(*args)
    assert r.returncode == 1, r.stderr
    par = json.loads(r.stdout)["gates"][0]["figures"]["parameters"]["pi_pulse_amplitude"]
    assert par["candidate_median_error"] > 10 * par["baseline_median_error"]
    assert cli(*args, "--tolerance", "0.05").returncode != 1
    line = one_line(cli(*args, "--tolerance", "lots"), 2)
    assert "1.5x" in line


def test_calib_run_discriminators_json(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    r = cli("calib", "run", "--model", "readout-linear", "--repeats", "4", "--db", db, "--json", "-")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["experiment"] == "readout" and d["workload"]["repeats"] == 4
    assert d["figures"]["assignment_fidelity"]["assignment_fidelity_median"] > 0.9
    assert read_rows(db, "SELECT count(*) FROM cal_results")[0][0] == 1
    assert read_rows(db, "SELECT count(*) FROM runs WHERE command = 'calib run' AND status = 'ok'")[0][0] == 1


def test_calib_nan_model_is_exit_4_and_recorded(cli, tmp_path):
    m = save(nan_fit_model(), tmp_path / "nan.onnx")
    db = str(tmp_path / "s.duckdb")
    line = one_line(cli("calib", "run", "--model", m, "--repeats", "3", "--db", db), 4)
    assert "NaN" in line
    status = read_rows(db, "SELECT status FROM runs")[0][0]
    assert status == "integrity"


@pytest.mark.parametrize("args, needle", [
    (["calib", "run", "--model", "qibocal", "--experiment", "nosuch"], "unknown experiment"),
    (["calib", "run", "--model", "missing.onnx", "--experiment", "t1"], "not found"),
    (["calib", "run", "--model", "qibocal"], "needs --experiment"),
    (["calib", "run", "--model", "readout-linear", "--experiment", "t1"], "serves experiment 'readout'"),
    (["calib", "replay", "no/such/folder"], "no such folder"),
])
def test_calib_usage_errors_are_one_line(args, needle, cli, tmp_path):
    line = one_line(cli(*args, "--db", str(tmp_path / "s.duckdb")), 2)
    assert needle in line


def test_replay_of_a_folder_without_qibocal_actions_is_a_usage_error(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    line = one_line(cli("calib", "replay", str(tmp_path / "empty"), "--model", "rabi-amplitude-mlp",
                                   "--db", str(tmp_path / "s.duckdb")), 2)
    assert "no Qibocal action" in line


def test_calib_experiments_lists_all_eight(cli):
    r = cli("calib", "experiments", "--json", "-")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [e["name"] for e in d] == ["resonator_spectroscopy", "qubit_spectroscopy", "rabi_amplitude",
                                      "rabi_length", "t1", "ramsey", "spin_echo", "readout"]
    assert [p["name"] for p in d[5]["params"]] == ["detuning_hz", "t2_star_ns"]


def test_calib_drift_flags_a_changed_model(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    m = tmp_path / "rabi.onnx"
    save(peak_rabi_model(1.0), m)
    r1 = cli("calib", "drift", "--model", str(m), "--db", db, "--json", "-")
    assert r1.returncode == 0, r1.stderr
    assert json.loads(r1.stdout)["previous_digest"] is None
    save(peak_rabi_model(1.05), m)  # a new version behind the same name
    r3 = cli("calib", "drift", "--model", str(m), "--db", db, "--json", "-")
    assert r3.returncode == 1, r3.stderr
    assert json.loads(r3.stdout)["comparison"]["drift"] is True


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the dummy's random numbers make scipy complain
def test_real_qibocal_output_from_the_dummy_platform_replays(tmp_path):
    """The real acquisition path: Qibocal protocols on qibolab's dummy platform (random
    numbers: plumbing only) write an output folder; ``sov calib replay`` reads it, re-fits
    it with Qibocal and reproduces the recorded results.json exactly."""
    from baselines.qibocal_folders import acquire_dummy

    out = acquire_dummy(tmp_path / "qibocal-out")
    assert (tmp_path / "qibocal-out" / "data" / "rabi_amplitude-0" / "data.npz").is_file()
    from verifier.cli.app import main  # in process: shares the qibocal import with other tests

    code = main(["calib", "replay", out, "--model", "sov-reference", "--resamples", "2",
                 "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "r.json")])
    assert code == 0
    d = json.loads((tmp_path / "r.json").read_text())
    exps = {a["experiment"]: a for a in d["actions"]}
    assert set(exps) == {"rabi_amplitude", "t1", "readout"}
    rabi = exps["rabi_amplitude"]["qubits"][0]
    assert rabi["qibocal_refit_vs_recorded"]["pi_pulse_amplitude"] == 0.0
    assert "candidate_vs_qibocal" in rabi and rabi["stability"]["pi_pulse_amplitude"]["qibocal_failures"] >= 0
    ro = exps["readout"]["qubits"][0]
    assert 0 <= ro["label_agreement"] <= 1 and ro["qibocal_refit"] == ro["qibocal_recorded"]
