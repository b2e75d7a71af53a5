"""Bounded inputs: the maxima of shots, distance and rounds (every path that builds a
workload), recorded shot files checked against their circuit, output paths checked before
the run, and a JUnit file on an integrity failure."""

from __future__ import annotations

import time
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from adapters.reference_models import save
from tests.fixtures.cli import one_line
from tests.fixtures.onnx_models import nan_decoder
from tests.fixtures.stores import read_rows
from verifier.errors import UsageError
from verifier.qec import limits

SMALL = ["--distance", "3", "--p", "0.005", "--shots", "500", "--workers", "1"]


def _refused_fast(cli, *args, where=None) -> str:
    """Exit 2 with one line, within a second (nothing was sampled or allocated)."""
    t0 = time.monotonic()
    r = cli(*args, cwd=where)
    took = time.monotonic() - t0
    line = one_line(r, 2, prefix="sov: error:")
    assert took < 1.0, (took, line)
    return line


# -- maxima -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shots", ["1e30", "1e15", "1000000000000000", str(limits.MAX_SHOTS + 1)])
def test_huge_shots_on_the_command_line(cli, tmp_path, shots):
    line = _refused_fast(cli, "qec", "run", "--distance", "3", "--p", "0.001", "--shots", shots,
                         "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert "--shots" in line
    assert not (tmp_path / "s.duckdb").exists()


def test_shots_at_the_maximum_pass_the_check():
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(3, 3, "z", "uniform", 0.001, limits.MAX_SHOTS, 0)
    assert w.shots == limits.MAX_SHOTS  # the block list is built lazily, not here


@pytest.mark.parametrize("value", ["1e30", "1_000_000_000_000_000"])
def test_huge_shots_in_a_policy(cli, tmp_path, value):
    (tmp_path / "p.toml").write_text(f"[[workloads]]\ndistance = 3\np = 0.001\nshots = {value}\n"
                                     "[[gates]]\nkind = \"ler_noninferiority\"\n")
    line = _refused_fast(cli, "accept", "--candidate", "pymatching", "--baseline", "pymatching",
                         "--policy", str(tmp_path / "p.toml"), "--db", str(tmp_path / "s.duckdb"))
    assert "workloads[1].shots" in line
    assert not (tmp_path / "s.duckdb").exists()


@pytest.mark.parametrize("flags, names", [
    (["--distance", str(limits.MAX_DISTANCE + 2), "--p", "0.001"], "--distance"),
    (["--distance", "3", "--rounds", str(limits.MAX_ROUNDS + 1), "--p", "0.001"], "--rounds"),
])
def test_distance_and_rounds_over_the_maxima(cli, tmp_path, flags, names):
    line = _refused_fast(cli, "qec", "run", *flags, "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert names in line and "maximum" in line


def test_grids_and_policy_bounds(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    assert "--distances" in _refused_fast(cli, "qec", "sweep", "--distances", "3,99", "--p", "0.001,0.002",
                                          "--workers", "1", "--db", db)
    assert "--shots" in _refused_fast(cli, "compare", "--decoder", "pymatching-correlated", "--distances", "3",
                                      "--p", "0.001", "--shots", "100000000000000", "--db", db)
    (tmp_path / "c.toml").write_text("[compare]\ndistances = [3]\np = [0.001]\nshots = 1e30\n")
    assert "--shots" in _refused_fast(cli, "compare", "--decoder", "pymatching-correlated",
                                      "--policy", str(tmp_path / "c.toml"), "--db", db)
    (tmp_path / "r.toml").write_text("[[workloads]]\ndistance = 3\np = 0.001\nrounds = 5000\n"
                                     "[[gates]]\nkind = \"ler_noninferiority\"\n")
    assert "workloads[1].rounds" in _refused_fast(cli, "accept", "--candidate", "pymatching", "--baseline",
                                                  "pymatching", "--policy", str(tmp_path / "r.toml"), "--db", db)
    assert not Path(db).exists()
    # calibration: checked before anything is simulated (inside the recorded run)
    cal_db = str(tmp_path / "cal.duckdb")
    assert "--repeats" in _refused_fast(cli, "calib", "run", "-e", "t1", "--repeats", "1000000000", "--db", cal_db)
    assert "--shots" in _refused_fast(cli, "calib", "run", "-e", "readout", "--shots", "100000000", "--db", cal_db)


# -- recorded shots against their circuit --------------------------------------------------------

@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A d=3 circuit at p=0.005 and 2,000 of its shots written by stim (b8 and dets), and
    2,000 shots of the same code at p=0.01 (its noise is not the circuit's)."""
    import stim

    from verifier.qec.noise import uniform_kwargs

    tmp = tmp_path_factory.mktemp("rec")

    def circuit(p):
        return stim.Circuit.generated("surface_code:rotated_memory_z", distance=3, rounds=3, **uniform_kwargs(p))

    c = circuit(0.005)
    (tmp / "c.stim").write_text(str(c))
    for name, src in (("genuine", c), ("hot", circuit(0.01))):
        dets, obs = src.compile_detector_sampler(seed=7).sample(2000, separate_observables=True)
        for fmt in ("b8", "dets"):
            stim.write_shot_data_file(data=dets, path=str(tmp / f"{name}_d.{fmt}"), format=fmt,
                                      num_detectors=c.num_detectors)
            stim.write_shot_data_file(data=obs, path=str(tmp / f"{name}_o.{fmt}"), format=fmt,
                                      num_observables=c.num_observables)
    (tmp / "random.b8").write_bytes(np.random.default_rng(3).integers(0, 256, (tmp / "genuine_d.b8").stat().st_size,
                                                                      dtype=np.uint8).tobytes())
    return tmp


@pytest.mark.parametrize("fmt", ["b8", "dets"])
def test_genuine_stim_shots_are_accepted_without_a_warning(recorded, fmt):
    from verifier.qec.recorded import RecordedWorkload

    warned = []
    w = RecordedWorkload.from_files(recorded / "c.stim", recorded / f"genuine_d.{fmt}", recorded / f"genuine_o.{fmt}",
                                    warn=warned.append)
    assert w.shots == 2000 and warned == []


def test_observables_given_as_detection_events_are_refused(cli, recorded, tmp_path):
    line = _refused_fast(cli, "qec", "run", "--circuit", str(recorded / "c.stim"), "--dets",
                         str(recorded / "genuine_o.dets"), "--obs", str(recorded / "genuine_o.dets"),
                         "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert "does not look like detection events" in line and "--obs given as --dets" in line


def test_random_bytes_of_the_right_length_are_refused(cli, recorded, tmp_path):
    line = _refused_fast(cli, "qec", "run", "--circuit", str(recorded / "c.stim"), "--dets",
                         str(recorded / "random.b8"), "--obs", str(recorded / "genuine_o.b8"),
                         "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert "does not look like detection events" in line


def test_data_at_another_noise_level_is_warned_about(recorded):
    from verifier.qec.recorded import RecordedWorkload

    warned = []
    RecordedWorkload.from_files(recorded / "c.stim", recorded / "hot_d.b8", recorded / "hot_o.b8",
                                warn=warned.append)
    assert len(warned) == 1 and "sov: warning:" in warned[0] and "\n" not in warned[0]


def test_plausibility_reads_one_block_only(recorded, monkeypatch):
    from verifier.qec import plausibility, recorded as workload

    seen = []
    real = workload.read_records
    monkeypatch.setattr(workload, "read_records", lambda *a: seen.append(a[4]) or real(*a))
    monkeypatch.setattr(plausibility, "SAMPLE_SHOTS", 300)
    monkeypatch.setattr(workload, "SAMPLE_SHOTS", 300)
    workload.RecordedWorkload.from_files(recorded / "c.stim", recorded / "genuine_d.b8", recorded / "genuine_o.b8")
    assert seen == [300]


def test_verdict_thresholds():
    from verifier.qec.plausibility import Plausibility

    assert Plausibility(4096, 24, 1.0, 1.01, 0.5).verdict == "ok"
    assert Plausibility(4096, 24, 1.0, 2.0, 40).verdict == "warn"
    assert Plausibility(4096, 24, 1.0, 0.05, -90).verdict == "refuse"
    assert Plausibility(50, 24, 1.0, 0.05, -90).verdict != "refuse"  # too few shots to refuse
    assert Plausibility(4096, 24, 6.0, 12.0, 300).verdict == "refuse"  # coin flips: density 0.5


# -- output paths before the run ---------------------------------------------------------------------

@pytest.mark.parametrize("flag, target", [
    ("--junit", "missing/j.xml"), ("--evidence", "afile/e.json"), ("--json", "."),
])
def test_unwritable_accept_outputs_stop_before_any_shot(cli, tmp_path, flag, target):
    (tmp_path / "afile").write_text("x")
    db = tmp_path / "s.duckdb"
    line = _refused_fast(cli, "accept", "--candidate", "pymatching", "--baseline", "pymatching", *SMALL,
                         flag, str(tmp_path / target), "--db", str(db))
    assert f"cannot write {flag}" in line
    assert not db.exists() or read_rows(db, "SELECT count(*) FROM results")[0][0] == 0


def test_unwritable_outputs_of_other_commands(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    assert "--json" in _refused_fast(cli, "qec", "run", *SMALL, "--json", str(tmp_path / "no/o.json"), "--db", db)
    assert "--plot" in _refused_fast(cli, "qec", "threshold", "--distances", "3,5", "--p", "0.004,0.006,0.008",
                                     "--plot", str(tmp_path / "no/t.svg"), "--workers", "1", "--db", db)
    assert "--html" in _refused_fast(cli, "compare", "--decoder", "pymatching-correlated", "--distances", "3",
                                     "--p", "0.001", "--html", str(tmp_path), "--db", db)
    assert not Path(db).exists()


@pytest.mark.parametrize("command", [["models", "inspect", "grid-cnn-uniform"], ["models", "list"],
                                     ["models", "bom", "grid-cnn-uniform"], ["keys", "list"],
                                     ["keys", "generate", "--out", "keys"], ["evidence", "chain"]])
def test_unwritable_json_of_commands_that_record_nothing(cli, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli(*command, "--json", str(tmp_path / "no" / "o.json"))
    assert "--json" in one_line(r, 2)
    assert not (tmp_path / "keys").exists()


def test_check_outputs_accepts_new_files_stdout_and_devices(tmp_path):
    from verifier.cli.options import check_outputs

    check_outputs(json_out="-", junit=tmp_path / "new.xml", evidence_out=None, html="/dev/null")
    with pytest.raises(UsageError, match="--markdown"):
        check_outputs(markdown=tmp_path / "no" / "r.md")


# -- JUnit on an integrity failure --------------------------------------------------------------------

def test_integrity_failure_writes_junit(cli, tmp_path):
    bad = save(nan_decoder(1), tmp_path / "nan.onnx")
    junit = tmp_path / "j.xml"
    r = cli("accept", "--candidate", bad, "--baseline", "pymatching", *SMALL, "--junit", str(junit),
            "--db", str(tmp_path / "s.duckdb"))
    line = one_line(r, 4)
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert root.get("errors") == str(len(cases)) == "1"
    err = cases[0].find("error")
    assert err is not None and err.get("type") == "IntegrityError"
    assert err.get("message") and err.get("message") in line
    assert root.find(".//property[@name='verdict']").get("value") == "integrity"


def test_integrity_junit_lists_every_gate_of_the_policy():
    from reports.junit import junit_xml
    from verifier.gates import policy
    from verifier.workflows.accept import integrity_gates

    pol = policy.parse({"workloads": [{"name": "a", "distance": 3, "p": 0.001}, {"name": "b", "distance": 5, "p": 0.001}],
                        "gates": [{"kind": "ler_noninferiority"},
                                  {"kind": "latency", "budget_us": 10, "workloads": ["b"]},
                                  {"kind": "calibration", "experiment": "t1"}]})
    rows = integrity_gates(pol, "NaN in the model's output")
    assert [(g["name"], g["workload"]) for g in rows] == [("ler_noninferiority", "a"), ("ler_noninferiority", "b"),
                                                          ("latency", "b"), ("calibration", "t1")]
    root = ET.fromstring(junit_xml(rows, verdict="integrity").split("\n", 1)[1])
    assert root.get("errors") == "4" and root.get("failures") == "0"
    assert all(tc.find("error").get("message") == "NaN in the model's output" for tc in root.iter("testcase"))
