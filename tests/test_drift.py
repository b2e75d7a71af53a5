"""Watched models and drift checks: a swapped model file is caught, a stable one is not;
control-limit statistics; schedules."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from adapters.reference_models import identity_predecoder_flat, save
from tests.fixtures.onnx_models import constant_decoder
from verifier.stats.drift import holm, latency_p_value, ler_p_value
from verifier.workflows.drift_schedule import parse_every, schedule
from verifier.errors import UsageError
from tests.fixtures.cli import sov_main

WL = ["--distance", "3", "--rounds", "3", "--p", "0.01", "--shots", "4000", "--workers", "1"]


def test_swapped_model_is_caught_and_stable_one_is_not(tmp_path):
    model = tmp_path / "in-service.onnx"
    save(identity_predecoder_flat(1), model)
    db = str(tmp_path / "s.duckdb")
    assert sov_main("drift", "add", str(model), "--name", "prod", *WL, "--seed", "1", "--db", db) == 0
    assert sov_main("drift", "list", "--db", db, "--json", str(tmp_path / "l.json")) == 0
    assert [w["name"] for w in json.loads((tmp_path / "l.json").read_text())] == ["prod"]
    # same file, fresh seed: in control
    assert sov_main("drift", "check", "--name", "prod", "--seed", "2", "--db", db,
                    "--json", str(tmp_path / "ok.json")) == 0
    ok = json.loads((tmp_path / "ok.json").read_text())
    (s,) = ok["models"][0]["series"]
    assert ok["status"] == "ok" and s["history_shots"] == 4000 and s["ler_p"] > 0.01
    # swap the file for another model with the same contract
    save(constant_decoder("num_detectors", 1, flip=False), tmp_path / "other.onnx")
    shutil.copy(tmp_path / "other.onnx", model)
    assert sov_main("drift", "check", "--all", "--seed", "3", "--db", db,
                    "--json", str(tmp_path / "drift.json")) == 1
    d = json.loads((tmp_path / "drift.json").read_text())
    m = d["models"][0]
    assert d["status"] == "drift" and m["hash_changed"] and m["sha256_now"] != m["sha256_expected"]
    assert any("file changed" in f for f in m["findings"])
    assert any("LER shift" in f for f in m["findings"])  # the constant decoder is far worse
    # the drifted check is not used as history; evidence was chained for each check
    from verifier.evidence.record import verify_chain
    from verifier.store.db import Store

    st = Store(db)
    assert st.query("SELECT status, in_control FROM drift_checks ORDER BY checked_at") == [
        ("baseline", True), ("ok", True), ("drift", False)]
    assert verify_chain(st).ok
    assert st.query("SELECT verdict FROM verdicts WHERE kind = 'drift' ORDER BY recorded_at") == [("ok",), ("drift",)]
    # a missing file is drift too
    model.unlink()
    assert sov_main("drift", "check", "--name", "prod", "--db", db, "--json", str(tmp_path / "m.json")) == 1
    assert any("file missing" in f for f in json.loads((tmp_path / "m.json").read_text())["models"][0]["findings"])
    assert sov_main("drift", "remove", "prod", "--db", db) == 0
    assert sov_main("drift", "check", "--name", "prod", "--db", db) == 2


def test_watch_is_a_hidden_alias_of_drift_add_list_remove(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    save(identity_predecoder_flat(1), model)
    db = str(tmp_path / "s.duckdb")
    assert sov_main("--help") == 0
    top = capsys.readouterr().out
    assert "drift" in top and "watch" not in top
    assert sov_main("drift", "--help") == 0
    group = capsys.readouterr().out
    assert all(c in group for c in ("add", "list", "remove", "check", "schedule"))
    assert sov_main("watch", "add", str(model), "--name", "m1", *WL, "--no-run", "--db", db) == 0
    assert capsys.readouterr().out.startswith("watching m1: ")
    assert sov_main("watch", "list", "--db", db, "--json", str(tmp_path / "w.json")) == 0
    assert sov_main("drift", "list", "--db", db, "--json", str(tmp_path / "d.json")) == 0
    assert json.loads((tmp_path / "w.json").read_text()) == json.loads((tmp_path / "d.json").read_text())
    assert sov_main("drift", "add", str(model), "--name", "m1", *WL, "--no-run", "--db", db) == 2
    assert "sov drift remove m1 first" in capsys.readouterr().err
    assert sov_main("watch", "remove", "m1", "--db", db) == 0
    assert sov_main("drift", "list", "--db", db, "--json", str(tmp_path / "e.json")) == 0
    assert json.loads((tmp_path / "e.json").read_text()) == []


def test_schedule_prints_systemd_and_cron(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    save(identity_predecoder_flat(1), model)
    db = str(tmp_path / "s.duckdb")
    assert sov_main("watch", "add", str(model), "--name", "m1", *WL, "--no-run", "--db", db) == 0
    capsys.readouterr()
    assert sov_main("drift", "schedule", "--name", "m1", "--every", "1d", "--format", "cron", "--db", db) == 0
    cron = capsys.readouterr().out
    line = [ln for ln in cron.splitlines() if ln and not ln.startswith("#")][0]
    assert line.split()[:5] == ["17", "3", "*", "*", "*"] and "drift check --name m1" in line and db in line
    assert sov_main("drift", "schedule", "--name", "m1", "--every", "6h", "--format", "systemd", "--db", db) == 0
    unit = capsys.readouterr().out
    assert "[Timer]" in unit and "OnUnitActiveSec=21600s" in unit and "ExecStart=" in unit
    assert sov_main("drift", "schedule", "--name", "nope", "--db", db) == 2
    assert sov_main("drift", "schedule", "--name", "m1", "--every", "7m", "--format", "cron", "--db", db) == 2


def test_schedule_text_and_interval_parsing():
    assert parse_every("15m") == (15, "m") and parse_every("1w") == (1, "w")
    for bad in ("", "d", "0d", "1y", "-1h", "1.5h"):
        with pytest.raises(UsageError):
            parse_every(bad)
    assert schedule("x", "30m", "cron", sov_exe="sov", db="/d", workdir="/w").splitlines()[1].startswith("*/30 * * * *")


def test_ler_test_has_its_level_and_power():
    rng = np.random.default_rng(7)
    p = 0.03
    false = sum(ler_p_value(rng.binomial(4000, p), 4000, rng.binomial(20000, p), 20000) <= 0.01
                for _ in range(300))
    assert false / 300 <= 0.01 + 3 * (0.01 * 0.99 / 300) ** 0.5
    assert ler_p_value(240, 4000, 600, 20000) < 1e-6  # 6 % vs 3 %
    assert ler_p_value(0, 100, 0, 1000) == 1.0


def test_latency_needs_history_and_flags_a_big_shift():
    assert latency_p_value(10.0, [10.0, 11.0]) is None
    hist = [10.0, 10.5, 9.8, 10.2]
    assert latency_p_value(10.1, hist) > 0.5
    assert latency_p_value(40.0, hist) < 1e-3


def test_holm_step_down():
    adj, rej = holm([0.01, 0.04, 0.03, 0.5], 0.05)
    assert adj == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert rej == [True, False, False, False]
    assert holm([], 0.05) == ([], [])


@pytest.mark.slow
def test_watched_calibration_model_output_shift_is_drift(tmp_path):
    from tests.fixtures.calibration import peak_rabi_model
    from tests.fixtures.calibration import save as save_cal

    model = tmp_path / "rabi.onnx"
    save_cal(peak_rabi_model(1.0), model)
    db = str(tmp_path / "s.duckdb")
    assert sov_main("watch", "add", str(model), "--name", "rabi", "--experiment", "rabi_amplitude", "--db", db) == 0
    assert sov_main("drift", "check", "--name", "rabi", "--db", db) == 0
    save_cal(peak_rabi_model(1.3), model)
    assert sov_main("drift", "check", "--name", "rabi", "--db", db, "--json", str(tmp_path / "d.json")) == 1
    findings = json.loads((tmp_path / "d.json").read_text())["models"][0]["findings"]
    assert any("file changed" in f for f in findings)
    assert any("calibration output shift" in f and "pi_pulse_amplitude" in f for f in findings)
