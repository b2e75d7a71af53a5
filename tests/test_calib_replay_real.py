"""``sov calib replay`` on real Qibocal output (tests/data/qibocal-emulator: ``qq run`` on
qibolab's emulator, truth known) and on copies of it with each defect a real folder can
have, written here: unsupported and interrupted actions, suspicious parameters, a NaN
point, a renamed field, a sweep a model cannot take, a resonator sweep without a resonance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.calibration import peak_rabi_model, save
from tests.fixtures.cli import one_line
from tests.fixtures.stores import read_rows

pytest.importorskip("qibocal")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy on the emulator's exact zeros

EMU = Path(__file__).parent / "data" / "qibocal-emulator"


def _copy(tmp_path: Path, name: str = "A_emu") -> Path:
    """A writable copy of an emulator folder, its truth.json beside it."""
    dst = tmp_path / "emu" / name
    shutil.copytree(EMU / name, dst)
    shutil.copy(EMU / "truth.json", dst.parent / "truth.json")
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _replay(cli, tmp_path, folder, *args):
    out = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
    r = cli("calib", "replay", str(folder), *args, "--db", str(tmp_path / "s.duckdb"), "--json", str(out))
    return r, (json.loads(out.read_text()) if out.is_file() else None)


def _action(report, name):
    return next(a for a in report["actions"] if a["action"] == name)


def _rewrite(action_dir: Path, change) -> None:
    """Rewrite data.npz's per-qubit record through ``change(array) -> array``."""
    with np.load(action_dir / "data.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(action_dir / "data.npz", **{k: change(v) for k, v in arrays.items()})


def test_the_emulator_folder_lists_every_action_with_qibocals_record_and_failure(cli, tmp_path):
    r, rep = _replay(cli, tmp_path, EMU / "A_emu", "--model", "qibocal", "--bootstrap", "2")
    assert r.returncode == 0, r.stderr
    assert [a["status"] for a in rep["actions"]] == ["replayed"] * 4
    rabi = _action(rep, "rabi_amplitude")
    assert rabi["qibocal"].startswith("failed") and "Residuals are not finite" in rabi["qibocal"]
    assert rabi["qubits"][0]["candidate_failed"] is True  # qibocal as the candidate fails too
    assert rabi["qubits"][0]["signal"]["verdict"] == "signal"  # the oscillation is there; the fit failed
    ro = _action(rep, "single_shot_classification")["qubits"][0]
    assert ro["qibocal_figures"]["assignment_fidelity"] == pytest.approx(0.99005, abs=1e-4)
    assert ro["qibocal_figures"]["fidelity"] == pytest.approx(0.9801, abs=1e-3)
    assert ro["qibocal_recorded_scored_fidelity"] == pytest.approx(0.5)
    assert any("exactly on its threshold" in f for f in ro["flags"])
    t1 = _action(rep, "t1")["qubits"][0]
    assert t1["qibocal_recorded"]["t1_ns"] == pytest.approx(2534.298, abs=1e-3)
    assert t1["truth"] == {"t1_ns": 2500.0} and t1["qibocal_vs_truth"]["t1_ns"] == pytest.approx(0.01372, abs=1e-4)
    assert rep["summary"]["qibocal_failed"] == 1
    # Qibocal's failed fit is a recorded failure, not a silent zero
    rows = read_rows(tmp_path / "s.duckdb", "SELECT experiment, failures FROM cal_results WHERE source = 'replay'")
    assert dict(rows)["rabi_amplitude"] == 1 and dict(rows)["t1"] == 0
    assert "Residuals are not finite" in r.stdout and "0.990053" in r.stdout


def test_the_ramsey_folder_shows_the_corrected_frequency_and_the_interrupted_echo(cli, tmp_path):
    r, rep = _replay(cli, tmp_path, EMU / "B_emu", "--model", "sov-reference", "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    echo = _action(rep, "spin_echo")
    assert echo["status"] == "interrupted" and "without data.npz" in echo["reason"]
    q = _action(rep, "ramsey")["qubits"][0]
    f = q["qubit_frequency_hz"]
    assert f["qibocal_recorded"] == 4999995062 and f["truth"] == 5e9
    assert abs(f["candidate"] - 5e9) < 10e3  # sov's re-fit: within 10 kHz of the truth
    assert abs(q["candidate"]["t2_star_ns"] - 2000) / 2000 < 0.05
    assert "interrupted" in r.stdout and "delta_phys" in r.stdout


def test_unsupported_and_suspicious_actions_are_named_not_replaced(cli, tmp_path):
    root = _copy(tmp_path)
    data = root / "data"
    for op in ("flipping", "rabi_amplitude_signal"):
        shutil.copytree(data / "rabi_amplitude-0", data / f"{op}-0")
        (data / f"{op}-0" / "action.yml").write_text(f"id: {op}\noperation: {op}\nparameters: {{nshots: 100}}\n")
    yml = data / "t1-0" / "action.yml"
    yml.write_text(yml.read_text().replace("nshots: 1000", "nshots: 0"))
    (data / "rabi_length-0" / "results.json").unlink()
    (data / "single_shot_classification-0" / "results.json").write_text("{not json")
    r, rep = _replay(cli, tmp_path, root, "--model", "sov-reference", "--bootstrap", "2")
    assert r.returncode == 0, r.stderr
    for op in ("flipping", "rabi_amplitude_signal"):
        a = _action(rep, op)
        assert a["status"] == "unsupported" and repr(op) in a["reason"]
    t1 = _action(rep, "t1")
    assert t1["nshots"] is None and "parameters.nshots is 0" in t1["suspicious"]
    assert "stability" not in t1["qubits"][0] and t1["qubits"][0]["stability_skipped"]
    rl = _action(rep, "rabi_length")
    assert any("results.json is missing" in s for s in rl["suspicious"]) and rl["qibocal"].startswith("no record")
    ro = _action(rep, "single_shot_classification")
    assert any("results.json is corrupt" in s for s in ro["suspicious"])
    assert rep["summary"]["by_status"] == {"replayed": 4, "unsupported": 2}
    assert "suspicious: parameters.nshots is 0" in r.stdout


def test_a_nan_point_is_a_data_error_naming_the_folder_and_the_action(cli, tmp_path):
    root = _copy(tmp_path)

    def nan_at_5(a):
        a = a.copy()
        a["prob"][5] = np.nan
        return a

    _rewrite(root / "data" / "t1-0", nan_at_5)
    for model in ("sov-reference", "qibocal"):
        line = one_line(cli("calib", "replay", str(root), "--model", model, "--db", str(tmp_path / "s.duckdb")), 2)
        assert str(root) in line and "action t1" in line and "point 5 of 50 is nan" in line


def test_a_renamed_field_is_a_data_error(cli, tmp_path):
    root = _copy(tmp_path)

    def rename(a):
        return a.astype([("amp", "<f8"), ("p1", "<f8"), ("error", "<f8")])

    _rewrite(root / "data" / "rabi_amplitude-0", rename)
    line = one_line(cli("calib", "replay", str(root), "--db", str(tmp_path / "s.duckdb")), 2)
    assert "rabi_amplitude-0" in line and "action rabi_amplitude" in line and "prob missing" in line


def test_a_sweep_the_model_cannot_take_is_refused_before_any_run(cli, tmp_path):
    root = _copy(tmp_path)
    _rewrite(root / "data" / "rabi_amplitude-0", lambda a: a[:25])
    fixed = tmp_path / "fixed50.onnx"
    save(peak_rabi_model(1.0, n_points=50), fixed)  # 50 points, no resampling rule declared
    line = one_line(cli("calib", "replay", str(root), "--model", str(fixed), "--db", str(tmp_path / "s.duckdb")), 2)
    assert "action rabi_amplitude" in line and "exactly 50 points, this one has 25" in line
    assert not read_rows(tmp_path / "s.duckdb", "SELECT * FROM cal_results")


def _rabi_51(tmp_path: Path) -> Path:
    """A 51-point Rabi amplitude sweep (0 .. 1.0 inclusive) at the emulator's truth, ideal
    readout (exact zeros, as the emulator's), written with Qibocal's own Data writer."""
    from baselines.qibocal_fits import build_data

    x = np.linspace(0, 1.0, 51)
    y = np.random.default_rng(2).binomial(1000, 0.5 * (1 - np.cos(np.pi * x / 0.30001))) / 1000
    act = tmp_path / "rabi51" / "data" / "rabi_amplitude-0"
    act.mkdir(parents=True)
    build_data("rabi_amplitude", x, y, 1000, {"pulse_duration_ns": 40.0}).save(act)
    (act / "action.yml").write_text("id: rabi_amplitude\noperation: rabi_amplitude\nparameters: {nshots: 1000}\n")
    (act.parent.parent / "truth.json").write_text(json.dumps({"rabi_amplitude": {"pi_pulse_amplitude": 0.30001}}))
    return act.parent.parent


@pytest.mark.parametrize("points", [51, 25, 14])
def test_the_shipped_rabi_model_resamples_any_sweep_width(cli, tmp_path, points):
    """The shipped rabi-amplitude-mlp declares sov.resample = linear: a 51-point sweep and
    the emulator's sweep cut to 25 or 14 points are interpolated onto its 50 points."""
    if points == 51:
        root = _rabi_51(tmp_path)
    else:
        root = _copy(tmp_path)
        _rewrite(root / "data" / "rabi_amplitude-0", lambda a: a[:points])
    r, rep = _replay(cli, tmp_path, root, "--model", "rabi-amplitude-mlp", "--gate", "--bootstrap", "0")
    q = _action(rep, "rabi_amplitude")["qubits"][0]
    assert f"{points} recorded points fed as 50" in q["resampled"]
    err = abs(q["candidate"]["pi_pulse_amplitude"] - 0.30001) / 0.30001
    if points in (51, 25):  # 0 .. 0.48: the pi pulse at 62 % of the sweep's end, within its training shapes
        assert err < 0.03, q["candidate"]
    else:  # 0 .. 0.26: the pi pulse lies beyond the sweep's end, which no model can read off the sweep
        assert err > 0.1, q["candidate"]
    # Qibocal's fit fails on both (exact zeros): no baseline error, so beyond the floor it is undecided
    j = rep["gate"]["experiments"]["rabi_amplitude"]["actions"][0]["parameters"]["pi_pulse_amplitude"]
    assert j["status"] == "inconclusive" and "Qibocal failed" in j["why"] and r.returncode == 3


def _resonator_folder(tmp_path: Path, *, dip: bool) -> Path:
    """A resonator spectroscopy written with Qibocal's own Data writer: pure noise (the
    emulator models no resonator), or a Lorentzian dip."""
    from baselines.qibocal_fits import build_data

    rng = np.random.default_rng(5)
    x = 7.2e9 + (np.arange(121) - 60) * 1e5
    y = 1e-3 * (1 + 0.02 * rng.standard_normal(121))
    if dip:
        y *= 1 - 0.6 / (1 + ((x - 7.2013e9) / 0.6e6) ** 2)
    act = tmp_path / ("res_dip" if dip else "res_noise") / "data" / "resonator_spectroscopy-0"
    act.mkdir(parents=True)
    build_data("resonator_spectroscopy", x, y, 1000, {}, phase=np.zeros(121)).save(act)
    (act / "action.yml").write_text("id: resonator_spectroscopy\noperation: resonator_spectroscopy\n"
                                    "parameters: {nshots: 1000}\ntargets: [0]\n")
    return act.parent.parent


def test_a_resonator_sweep_without_a_resonance_is_no_signal_not_a_frequency(cli, tmp_path):
    noise = _resonator_folder(tmp_path, dip=False)
    r, rep = _replay(cli, tmp_path, noise, "--model", "qibocal", "--gate")
    assert r.returncode == 3, r.stderr  # nothing to judge a frequency by
    q = rep["actions"][0]["qubits"][0]
    assert q["signal"]["verdict"] == "no signal"
    assert q["confident_on_no_signal"] is True and q["qibocal_confident_on_no_signal"] is True
    assert any(f.startswith("confident on no signal") for f in q["flags"])
    assert rep["gate"]["experiments"]["resonator_spectroscopy"]["status"] == "inconclusive"
    _, rep2 = _replay(cli, tmp_path, _resonator_folder(tmp_path, dip=True), "--model", "sov-reference")
    q2 = rep2["actions"][0]["qubits"][0]
    assert q2["signal"]["verdict"] == "signal" and not q2.get("confident_on_no_signal")
    assert abs(q2["candidate"]["frequency_hz"] - 7.2013e9) < 0.2e6


def test_a_gated_replay_of_a_model_ten_times_worse_than_qibocal_fails(cli, tmp_path):
    """rabi_length on the emulator: Qibocal is 0.28 % off the truth; a peak picker scaled by
    1.03 is 3 % off (ten times worse) and fails; unscaled (0.01 % off) it passes."""
    worse, good = tmp_path / "worse.onnx", tmp_path / "good.onnx"
    save(peak_rabi_model(1.03, metadata={"sov.experiment": "rabi_length"}), worse)
    save(peak_rabi_model(1.0, metadata={"sov.experiment": "rabi_length"}), good)
    r, rep = _replay(cli, tmp_path, EMU / "A_emu", "--model", str(worse), "--gate", "--bootstrap", "0")
    assert r.returncode == 1, r.stderr
    j = rep["gate"]["experiments"]["rabi_length"]["actions"][0]["parameters"]["pi_pulse_duration_ns"]
    assert j["decided_by"] == "truth" and j["status"] == "fail"
    assert j["candidate_error"] > 10 * j["baseline_error"]
    assert [a["status"] for a in rep["actions"]].count("not served") == 3
    r2, rep2 = _replay(cli, tmp_path, EMU / "A_emu", "--model", str(good), "--gate", "--bootstrap", "0")
    assert r2.returncode == 0, r2.stderr
    r3, _ = _replay(cli, tmp_path, EMU / "A_emu", "--model", "sov-reference", "--gate", "--bootstrap", "0")
    assert r3.returncode == 0, r3.stderr


def test_without_truth_agreement_and_stability_decide(cli, tmp_path):
    root = tmp_path / "notruth" / "A_emu"
    shutil.copytree(EMU / "A_emu", root)
    worse = tmp_path / "worse.onnx"
    save(peak_rabi_model(1.03, metadata={"sov.experiment": "rabi_length"}), worse)
    r, rep = _replay(cli, tmp_path, root, "--model", str(worse), "--gate", "--bootstrap", "8")
    assert rep["truth_file"] is None
    j = rep["gate"]["experiments"]["rabi_length"]["actions"][0]["parameters"]["pi_pulse_duration_ns"]
    assert j["decided_by"] == "agreement" and j["status"] == "fail" and r.returncode == 1
    r0, _ = _replay(cli, tmp_path, root, "--model", str(worse), "--gate", "--bootstrap", "0")
    assert r0.returncode == 3  # no spreads, no truth: cannot decide


def test_truth_json_of_the_emulator_is_read_for_the_folders_platform():
    from verifier.calib.folder import load_truth

    truth, f = load_truth(EMU / "B_emu")
    assert f.endswith("truth.json")
    assert truth["ramsey"] == {"detuning_hz": 1e6, "t2_star_ns": 2000.0}
    assert truth["rabi_amplitude"]["pi_pulse_amplitude"] == pytest.approx(0.30001, abs=1e-5)
    assert truth["_folder"]["qubit_frequency_hz"] == 5e9
    assert "qubit_spectroscopy" not in truth  # the emu_det platform's run, not this folder's


def test_the_signal_test_on_simulated_sweeps_and_on_noise():
    from verifier.calib.signal import check_signal
    from verifier.calib.simulator import simulate

    for exp in ("resonator_spectroscopy", "qubit_spectroscopy", "rabi_amplitude", "rabi_length", "t1",
                "ramsey", "spin_echo"):
        d = simulate(exp, 6, seed=1)
        assert {check_signal(exp, d.x[i], d.y[i], d.nshots).verdict for i in range(6)} == {"signal"}, exp
    rng = np.random.default_rng(0)
    for exp in ("rabi_amplitude", "t1", "ramsey"):
        for _ in range(5):
            y = rng.binomial(1000, 0.3, 50) / 1000
            assert check_signal(exp, np.linspace(0, 1000, 50), y, 1000).verdict == "no signal"
    # a Rabi sweep that is not a cosine (a sawtooth) is a poor fit
    x = np.linspace(0, 1, 50)
    y = np.round(1000 * (0.05 + 0.9 * ((x * 3) % 1))) / 1000
    assert check_signal("rabi_amplitude", x, y, 1000).verdict == "poor fit"


def test_accept_gates_a_candidate_on_a_recorded_folder(cli, tmp_path):
    worse = tmp_path / "worse.onnx"
    save(peak_rabi_model(1.03, metadata={"sov.experiment": "rabi_length"}), worse)
    r = cli("accept", "--candidate", str(worse), "--baseline", "qibocal", "--replay", str(EMU / "A_emu"),
            "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "a.json"))
    assert r.returncode == 1, r.stderr
    assert json.loads((tmp_path / "a.json").read_text())["gate"]["experiments"]["rabi_length"]["status"] == "fail"
    r2 = cli("accept", "--candidate", "sov-reference", "--replay", str(EMU / "B_emu"),
             "--db", str(tmp_path / "s.duckdb"))
    assert r2.returncode == 0, r2.stderr
    assert "ramsey: pass" in r2.stdout
    one_line(cli("accept", "--candidate", "sov-reference", "--baseline", "pymatching", "--replay", str(EMU / "B_emu"),
                 "--db", str(tmp_path / "s.duckdb")), 2)


def test_a_malformed_action_is_a_data_error_and_an_orphan_data_file_is_listed(cli, tmp_path):
    root = _copy(tmp_path, "B_emu")
    orphan = root / "data" / "orphan-0"
    orphan.mkdir()
    shutil.copy(root / "data" / "ramsey-0" / "data.npz", orphan / "data.npz")
    r, rep = _replay(cli, tmp_path, root, "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    assert _action(rep, "orphan-0")["status"] == "unreadable" and "no action.yml" in _action(rep, "orphan-0")["reason"]
    (root / "data" / "spin_echo-0" / "action.yml").write_text("operation: [spin_echo\n")
    line = one_line(cli("calib", "replay", str(root), "--db", str(tmp_path / "s.duckdb")), 2)
    assert "spin_echo-0" in line and "not valid YAML" in line


# -- labelled fault scenarios (verifier.calib.faults) ---------------------------------------

@pytest.mark.parametrize("label", ["healthy", "no_signal", "under_driven", "over_driven", "wrong_frequency",
                                   "too_short", "beating", "drifting"])
def test_each_fault_scenario_gets_its_expected_verdict(label):
    from verifier.calib.faults import fault_sweep
    from verifier.calib.signal import check_signal

    for seed in range(3):
        for n in (25, 51, 101):
            for readout_error in (True, False):
                for units in ("probability", "au"):
                    if units == "au" and n < 50:
                        continue
                    f = fault_sweep(label, n_points=n, seed=seed, readout_error=readout_error, units=units)
                    assert f.label == label and f.x.size == n
                    v = check_signal(f.experiment, f.x, f.y, f.nshots).verdict
                    assert v == f.expected, (label, seed, n, readout_error, units, v)


def test_fault_scenarios_bite_where_the_signal_test_cannot_see():
    """The detuned Rabi looks like a healthy oscillation: only the truth shows that a fit of
    it is wrong. Without readout error, Qibocal's zero-error trap fires on a healthy Rabi
    sweep, as it did on the emulator."""
    from baselines.qibocal_fits import FitFailed, fit_one
    from baselines.reference_estimators import ReferenceFit
    from verifier.calib.data import single_fit
    from verifier.calib.faults import fault_sweep

    ref = ReferenceFit("rabi_amplitude")
    f = fault_sweep("wrong_frequency", n_points=50)
    est = ref.estimate_data(single_fit("rabi_amplitude", f.x, f.y, 1000, {})).estimates[0, 0]
    assert abs(est - f.truth) / f.truth > 0.3, (est, f.truth)  # the detuned drive's faster oscillation
    ok = fault_sweep("healthy", n_points=51)
    assert abs(fit_one("rabi_amplitude", ok.x, ok.y, 1000, {})[0][0] - 0.3) < 0.01
    ideal = fault_sweep("healthy", n_points=51, readout_error=False)
    assert ideal.y[0] == 0.0
    with pytest.raises(FitFailed):
        fit_one("rabi_amplitude", ideal.x, ideal.y, 1000, {})
    with pytest.raises(Exception, match="unknown fault scenario"):
        fault_sweep("nosuch")


def test_exported_fault_scenarios_replay_with_their_expected_verdicts(cli, tmp_path):
    r = cli("calib", "export", str(tmp_path / "faults"), "--scenario", "all")
    assert r.returncode == 0, r.stderr
    truth = json.loads((tmp_path / "faults" / "truth.json").read_text())
    r, rep = _replay(cli, tmp_path, tmp_path / "faults", "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    seen = {a["action"]: a["qubits"][0]["signal"]["verdict"] for a in rep["actions"]}
    assert seen == {k: v["expected_signal"] for k, v in truth.items()}
    assert all(a["qibocal"] == "no record (results.json missing)" for a in rep["actions"])
    assert _action(rep, "no_signal-0")["qubits"][0]["confident_on_no_signal"] is True
    one_line(cli("calib", "export", str(tmp_path / "f2"), "--scenario", "nosuch"), 2)


def test_one_action_folder_finds_the_truth_of_its_output_folder(cli, tmp_path):
    r, rep = _replay(cli, tmp_path, EMU / "A_emu" / "data" / "t1-0", "--bootstrap", "0", "--gate")
    assert r.returncode == 0, r.stderr
    assert [a["action"] for a in rep["actions"]] == ["t1"] and rep["actions"][0]["qubits"][0]["truth"] == {"t1_ns": 2500.0}


def test_every_qibocal_protocol_module_names_its_experiments_operation():
    from baselines.qibocal_protocols import OPERATIONS, PROTOCOLS

    assert {p.OPERATION: name for name, p in PROTOCOLS.items()} == OPERATIONS


def test_a_discriminator_at_chance_level_is_flagged(cli, tmp_path):
    from tests.fixtures.calibration import constant_discriminator

    m = tmp_path / "const.onnx"
    save(constant_discriminator(0), m)
    r, rep = _replay(cli, tmp_path, EMU / "A_emu", "--model", str(m), "--gate")
    q = _action(rep, "single_shot_classification")["qubits"][0]
    assert q["candidate_fidelity"] == pytest.approx(0.5)
    assert any("at chance level" in f for f in q["flags"])
    # Qibocal's own threshold is at chance level on these shots too: the relative gate passes it
    assert rep["gate"]["experiments"]["readout"]["status"] == "pass" and r.returncode == 0


def test_drift_signature_on_a_recorded_folder(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    m = tmp_path / "rl.onnx"
    save(peak_rabi_model(1.0, metadata={"sov.experiment": "rabi_length"}), m)
    r1 = cli("drift", "calib", "--model", str(m), "--replay", str(EMU / "A_emu"), "--db", db, "--json", "-")
    assert r1.returncode == 0, r1.stderr
    d1 = json.loads(r1.stdout)
    assert d1["previous_digest"] is None and d1["signature"]["reference_id"].startswith("folder:")
    assert d1["signature"]["values"] == [[80.0]]  # the peak of the recorded Rabi length sweep
    r2 = cli("drift", "calib", "--model", str(m), "--db", db, "--json", "-")  # the simulated set: its own series
    assert r2.returncode == 0 and json.loads(r2.stdout)["previous_digest"] is None
    save(peak_rabi_model(1.05, metadata={"sov.experiment": "rabi_length"}), m)
    r3 = cli("drift", "calib", "--model", str(m), "--replay", str(EMU / "A_emu"), "--db", db, "--json", "-")
    assert r3.returncode == 1, r3.stderr
    d3 = json.loads(r3.stdout)
    assert d3["previous_digest"] == d1["signature"]["digest"] and d3["comparison"]["drift"] is True
    r4 = cli("drift", "calib", "--model", "sov-reference", "-e", "readout", "--replay", str(EMU / "A_emu"),
             "--db", db, "--json", "-")
    assert r4.returncode == 0, r4.stderr
    one_line(cli("drift", "calib", "--model", "sov-reference", "--replay", str(EMU / "A_emu"), "--db", db), 2)


def test_a_watched_calibration_model_on_a_recorded_folder(cli, tmp_path):
    """sov drift add --model M -e E --replay DIR: the folder's sweeps are the reference data;
    an unchanged model on an unchanged folder is identical to its history, a folder whose
    data changed is said to have changed (not judged as the model drifting)."""
    root = _copy(tmp_path)
    db = str(tmp_path / "s.duckdb")
    m = tmp_path / "rl.onnx"
    save(peak_rabi_model(1.0, metadata={"sov.experiment": "rabi_length"}), m)
    r = cli("drift", "add", "--model", str(m), "-e", "rabi_length", "--replay", str(root), "--name", "rl",
            "--db", db, "--json", "-")
    assert r.returncode == 0, r.stderr
    w = json.loads(r.stdout)
    assert w["spec"]["calibration"]["folder"] == str(root.resolve())
    assert w["reference"][0]["signature"]["reference_id"].startswith("folder:")
    ok = cli("drift", "check", "--all", "--db", db, "--json", "-")
    assert ok.returncode == 0, ok.stderr
    f = root / "data" / "rabi_length-0" / "data.npz"
    d = dict(np.load(f, allow_pickle=True))
    k = next(iter(d))
    a = d[k].copy()
    a["prob"][3] += 0.01
    d[k] = a
    np.savez(f, **d)
    moved = cli("drift", "check", "--all", "--db", db)
    assert moved.returncode == 1 and "changed since it was registered" in " ".join(moved.stdout.split())
    one_line(cli("drift", "add", "--decoder", str(m), "--replay", str(root), "--name", "x", "--db", db), 2)
