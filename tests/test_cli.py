from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from adapters.reference_models import identity_predecoder_flat, save
from tests.fixtures.cli import one_line
from tests.fixtures.onnx_models import constant_decoder, nan_decoder
from tests.fixtures.stores import read_rows

W = ["--distance", "3", "--rounds", "3", "--basis", "z", "--noise", "uniform", "--p", "0.01",
     "--shots", "2000", "--seed", "1", "--workers", "1"]


def test_version_and_help_are_fast_and_light(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("sov ")
    import subprocess
    import sys

    code = ("import sys; from verifier.cli.app import main; main(['--help']); "
            "bad = [m for m in ('onnxruntime', 'qibocal', 'matplotlib', 'stim', 'pymatching', 'duckdb') if m in sys.modules]; "
            "print('HEAVY', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "HEAVY []" in out


def test_qec_run_json(cli, tmp_path):
    r = cli("qec", "run", "--decoder", "pymatching", *W, "--db", str(tmp_path / "s.duckdb"),
                "--json", str(tmp_path / "o.json"))
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "o.json").read_text())
    for k in ("decoder", "fingerprint", "model_sha256", "workload_id", "shots", "errors", "ler",
              "ler_ci", "ler_per_round", "shots_per_second", "seconds"):
        assert k in d
    assert d["shots"] == 2000 and d["model_sha256"] is None
    assert d["ler_ci"][0] <= d["ler"] <= d["ler_ci"][1]


def test_json_to_stdout_is_pure_json(run_sov, tmp_path):
    """A subprocess: the whole of file descriptor 1 must be JSON, whatever else writes to it."""
    r = run_sov("qec", "run", *W, "--db", str(tmp_path / "s.duckdb"), "--json", "-")
    assert r.returncode == 0
    assert json.loads(r.stdout)["shots"] == 2000


def test_identity_model_gives_pymatching_errors(cli, tmp_path, identity_path):
    m = identity_path
    a = cli("qec", "run", "--decoder", "pymatching", *W, "--db", str(tmp_path / "s.duckdb"), "--json", "-")
    b = cli("qec", "run", "--decoder", m, *W, "--db", str(tmp_path / "s.duckdb"), "--json", "-")
    assert a.returncode == b.returncode == 0, b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert ja["errors"] == jb["errors"] and jb["model_sha256"] and ja["workload_id"] == jb["workload_id"]


@pytest.mark.parametrize("args", [
    ["qec", "run", "--bogus"],
    ["qec", "run", "--distance", "3", "--p", "0.01", "--basis", "q"],
    ["qec", "run", "--decoder", "nosuchdecoder", "--distance", "3", "--p", "0.01"],
    ["qec", "run", "--decoder", "missing.onnx", "--distance", "3", "--p", "0.01"],
    ["qec", "run", "--distance", "3"],
    ["qec", "run", "--circuit", "nope.stim"],
    ["models", "inspect", "nope.onnx"],
    ["nosuchcommand"],
])
def test_usage_errors_exit_2_with_one_line(cli, tmp_path, args):
    one_line(cli(*args, "--db", str(tmp_path / "s.duckdb")) if args[0] == "qec" else cli(*args, cwd=tmp_path), 2)


def test_bad_models_get_their_exit_codes(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage" * 50)
    line = one_line(cli("qec", "run", "--decoder", str(tmp_path / "junk.onnx"), *W, "--db", db), 4)
    assert "junk.onnx" in line
    # NaN outputs: exit 4, recorded as an integrity failure, not a score
    line = one_line(cli("qec", "run", "--decoder", save(nan_decoder(1), tmp_path / "nan.onnx"), *W, "--db", db), 4)
    assert "NaN" in line
    assert read_rows(db, "SELECT status FROM runs ORDER BY started_at DESC LIMIT 1")[0][0] == "integrity"
    assert read_rows(db, "SELECT count(*) FROM results")[0][0] == 0
    # wrong detector count for the workload: exit 2, expected vs found
    wrong = save(constant_decoder(99, 1, flip=False), tmp_path / "wrong.onnx")
    line = one_line(cli("qec", "run", "--decoder", wrong, *W, "--db", db), 2)
    assert "expected" in line and "found" in line
    # no contract: exit 2 listing the contracts
    nocon = identity_predecoder_flat(1)
    del nocon.metadata_props[:]
    # Ising's tensor names (dets -> L_and_residual_dets) would name the contract by themselves
    nocon.graph.output[0].name = nocon.graph.node[-1].output[0] = "out"
    path = save(nocon, tmp_path / "nocontract.onnx")
    line = one_line(cli("qec", "run", "--decoder", path, *W, "--db", db), 2)
    assert "qec.predecoder.flat" in line
    # ... which --contract repairs
    assert cli("qec", "run", "--decoder", path, "--contract", "qec.predecoder.flat", *W, "--db", db).returncode == 0
    # metadata that disagrees with the workload
    md = save(identity_predecoder_flat(1, metadata={"sov.distance": "5"}), tmp_path / "d5.onnx")
    line = one_line(cli("qec", "run", "--decoder", md, *W, "--db", db), 2)
    assert "sov.distance" in line


def test_custom_domain_and_outside_external_data_are_refused(cli, tmp_path):
    node = helper.make_node("Evil", ["dets"], ["out"], domain="com.vendor.secret")
    g = helper.make_graph([node], "evil", [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["b", 24])],
                          [helper.make_tensor_value_info("out", TensorProto.UINT8, ["b", 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.vendor.secret", 1)])
    m.metadata_props.add(key="sov.contract", value="qec.decoder")
    onnx.save(m, tmp_path / "evil.onnx")
    line = one_line(cli("models", "inspect", str(tmp_path / "evil.onnx")), 4)
    assert "com.vendor.secret" in line

    (tmp_path / "sub").mkdir()
    (tmp_path / "secret.bin").write_bytes(np.zeros(16, np.float32).tobytes())
    t = helper.make_tensor("w", TensorProto.FLOAT, [16], [0.0] * 16)
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../secret.bin")
    g = helper.make_graph([helper.make_node("Identity", ["w"], ["out"])], "ext", [],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [16])], initializer=[t])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(m, tmp_path / "sub" / "ext.onnx")
    line = one_line(cli("models", "inspect", str(tmp_path / "sub" / "ext.onnx")), 4)
    assert "outside the model's folder" in line


def test_models_list_and_inspect(cli, tmp_path):
    r = cli("models", "list", "--json", "-")
    assert r.returncode == 0
    lst = json.loads(r.stdout)
    assert any(m["name"] == "identity-predecoder" and m["contract"] == "qec.predecoder.flat" for m in lst)
    r = cli("models", "inspect", lst[0]["path"], "--json", "-")
    d = json.loads(r.stdout)
    assert r.returncode == 0 and d["integrity"] == "ok" and len(d["sha256"]) == 64 and d["opset"]


def test_demo_runs_in_cwd(cli, tmp_path):
    r = cli("demo", "--shots", "3000", "--quiet", "--workers", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sov-demo.duckdb").exists()
    assert "same errors as PyMatching" in r.stdout


def test_the_console_script_guesses_when_to_start_workers_early(monkeypatch):
    from verifier.cli import launch

    monkeypatch.setattr("verifier.engine.executors.default_workers", lambda: 2)
    guess = launch.will_use_local_workers
    assert guess(["qec", "run", "--distance", "9", "--p", "0.003"])
    assert guess(["--debug", "qec", "sweep", "--workers=4"])
    assert guess(["qec", "threshold", "--workers", "1", "--workers", "3"])  # the last one counts
    assert not guess(["qec", "run", "--workers", "1"])
    assert not guess(["qec", "run", "--workers", "two"])
    assert not guess(["qec", "run", "--executor", "dask"])
    assert not guess(["qec", "run", "--help"])
    assert not guess(["qec", "latency"])
    assert not guess(["models", "list"])
    assert not guess([])
    monkeypatch.setattr("verifier.engine.executors.default_workers", lambda: 1)
    assert not guess(["qec", "run", "--distance", "9"])


def test_the_console_script_imports_nothing_heavy_before_the_cli():
    import subprocess
    import sys

    code = ("import sys; import verifier.cli.launch as l; l.will_use_local_workers(['qec', 'run']); "
            "bad = [m for m in ('typer', 'numpy', 'stim', 'duckdb', 'onnxruntime') if m in sys.modules]; "
            "print(bad)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
