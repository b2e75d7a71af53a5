"""Each failure gets its own class and exit code (docs/SECURITY.md, "Classification"):
integrity failures are exit 4 wherever they surface (``sov drift add``, ``sov drift check``,
impossible external-data paths); a time limit is a resource limit (exit 2), not a verdict
on the model; PyMatching on a non-graphlike DEM and a non-DuckDB store are usage errors
(exit 2). Every one is a single line, never "internal error" or a Python class name."""

from __future__ import annotations

import shutil
import sqlite3

from adapters.reference_models import save
from tests.fixtures.cli import one_line
from tests.fixtures.onnx_models import constant_decoder
from tests.fixtures.stores import read_rows
from tests.test_hostile import W, _external_model, nan_outputs, slow_loop

WL = ["--distance", "3", "--rounds", "3", "--p", "0.01", "--shots", "300", "--workers", "1"]
ERR = "sov: error: "


def _no_class_names(text: str) -> None:
    for name in ("IntegrityError", "UsageError", "ResourceLimit", "ValueError", "internal error"):
        assert name not in text, text


def test_watching_a_nan_model_is_exit_4_and_registers_nothing(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    r = cli("drift", "add", "--decoder", nan_outputs(tmp_path), "--name", "bad", *WL, "--db", db)
    line = one_line(r, 4, prefix=ERR)
    assert "integrity" in line and "NaN" in line, line
    _no_class_names(line)
    lst = cli("drift", "list", "--db", db, "--json", str(tmp_path / "l.json"))
    assert lst.returncode == 0 and (tmp_path / "l.json").read_text().strip() == "[]"
    assert read_rows(db, "SELECT count(*) FROM drift_checks") == [(0,)]
    assert read_rows(db, "SELECT status, exit_code FROM runs") == [("integrity", 4)]
    # the name is free: a good model can be registered under it
    good = save(constant_decoder("num_detectors", 1, flip=False), tmp_path / "good.onnx")
    assert cli("drift", "add", "--decoder", good, "--name", "bad", *WL, "--db", db).returncode == 0


def test_drift_check_on_a_model_now_failing_integrity_says_so(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    model = tmp_path / "prod.onnx"
    save(constant_decoder("num_detectors", 1, flip=False), model)
    assert cli("drift", "add", "--decoder", str(model), "--name", "prod", *WL, "--db", db).returncode == 0
    shutil.copy(nan_outputs(tmp_path), model)
    r = cli("drift", "check", "--name", "prod", "--db", db, "--json", str(tmp_path / "d.json"))
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "prod: INTEGRITY FAILURE" in r.stdout and "DRIFT" not in r.stdout, r.stdout
    assert "workload: integrity failure: prod.onnx returned NaN or Inf outputs" in r.stdout, r.stdout
    _no_class_names(r.stdout + r.stderr)
    import json

    d = json.loads((tmp_path / "d.json").read_text())
    assert d["status"] == "integrity" and d["exit_code"] == 4 and d["models"][0]["status"] == "integrity"
    assert d["models"][0]["series"][0]["error_kind"] == "integrity"
    assert read_rows(db, "SELECT status, exit_code FROM runs WHERE command = 'drift check'") == [("integrity", 4)]
    assert read_rows(db, "SELECT status, in_control FROM drift_checks ORDER BY checked_at") == [
        ("baseline", True), ("integrity", False)]
    assert read_rows(db, "SELECT verdict, exit_code FROM verdicts WHERE kind = 'drift'") == [("integrity", 4)]


def test_batch_timeout_is_a_resource_limit_not_an_integrity_verdict(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    r = cli("qec", "run", "--decoder", slow_loop(tmp_path), *W, "--db", db, env={"SOV_BATCH_TIMEOUT_S": "1"})
    line = one_line(r, 2, prefix=ERR)
    for w in ("resource limit", "running a batch of 300 shots", "limit of 1 s", "SOV_BATCH_TIMEOUT_S",
              "--batch-size"):
        assert w in line, (w, line)
    _no_class_names(line)
    ((status, code, msg),) = read_rows(db, "SELECT status, exit_code, message FROM runs")
    assert (status, code) == ("error", 2) and "resource limit" in msg
    assert read_rows(db, "SELECT count(*) FROM verdicts") == [(0,)]


def test_pymatching_on_a_non_graphlike_dem_is_exit_2(cli, tmp_path):
    """A weight-3 error mechanism with no smaller errors to split it into: stim cannot
    decompose it, and PyMatching needs every error on at most two detectors."""
    circuit = tmp_path / "weight3.stim"
    circuit.write_text("R 0 1 2\nCORRELATED_ERROR(0.1) X0 X1 X2\nM 0 1 2\n"
                       "DETECTOR rec[-1]\nDETECTOR rec[-2]\nDETECTOR rec[-3]\nOBSERVABLE_INCLUDE(0) rec[-1]\n")
    r = cli("qec", "run", "--decoder", "pymatching", "--circuit", str(circuit), "--shots", "100",
            "--workers", "1", "--quiet", "--db", str(tmp_path / "s.duckdb"))
    line = one_line(r, 2, prefix=ERR)
    for w in ("graphlike", "decompose_errors", "--decoder FILE.onnx"):
        assert w in line, (w, line)
    _no_class_names(line)


def test_nul_byte_in_an_external_data_path_is_exit_4(cli, tmp_path):
    for location, words in (("weights\0.bin", "control character"), ("a" * 5000, "File name too long")):
        model = _external_model(tmp_path, location, "impossible.onnx")
        for args in (("qec", "run", "--decoder", model, *W, "--db", str(tmp_path / "s.duckdb")),
                     ("models", "inspect", model)):
            line = one_line(cli(*args), 4, prefix=ERR)
            assert "impossible external data path" in line and words in line, line
            _no_class_names(line)


def test_an_sqlite_file_as_db_is_exit_2_and_duckdb_is_never_asked(cli, tmp_path, monkeypatch):
    import duckdb

    lite = tmp_path / "old.sqlite"
    con = sqlite3.connect(lite)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    calls = []
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: calls.append(a) or real(*a, **k))
    for args in (("history", "list"), ("qec", "run", *W)):
        line = one_line(cli(*args, "--db", str(lite)), 2, prefix=ERR)
        assert "not a DuckDB file (it is an SQLite database)" in line, line
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x01" * 64)
    assert "not a DuckDB file" in one_line(cli("history", "list", "--db", str(junk)), 2, prefix=ERR)
    assert not calls, calls  # refused before DuckDB could open (or fetch an extension for) it


def test_store_connections_never_load_or_install_extensions(tmp_path):
    from verifier.store.db import CONNECT_CONFIG, Store

    assert CONNECT_CONFIG["autoload_known_extensions"] is False
    assert CONNECT_CONFIG["autoinstall_known_extensions"] is False
    st = Store(tmp_path / "s.duckdb")
    st.migrate()
    for read_only in (False, True):
        with st.connect(read_only=read_only) as con:
            got = con.execute("SELECT current_setting('autoload_known_extensions'), "
                              "current_setting('autoinstall_known_extensions')").fetchone()
        assert got == (False, False), got
