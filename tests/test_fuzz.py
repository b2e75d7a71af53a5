"""Property tests (hypothesis) of every parser of user input: recorded shot data (b8, 01,
dets), .stim circuits, policy TOML, evidence files, Qibocal output folders and the CLI's
arguments. Whatever the bytes, sov answers with a UsageError/IntegrityError (one line,
exit 2/4) or a correct result -- never a traceback, never another exception type.

Examples are kept modest so the whole file runs in about a minute in CI.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.fixtures.cli import run_main
from verifier.errors import SovError

# SOV_FUZZ_SCALE=20 (and SOV_FUZZ_RANDOM=1 for fresh examples) fuzzes deeper, outside CI
SCALE = float(os.environ.get("SOV_FUZZ_SCALE", "1"))
DERANDOMIZE = os.environ.get("SOV_FUZZ_RANDOM") != "1"


def _settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None,
                    suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)


FAST = _settings(40)
FEW = _settings(15)


@pytest.fixture(scope="module")
def small_circuit(tmp_path_factory) -> Path:
    import stim

    c = stim.Circuit.generated("surface_code:rotated_memory_z", distance=3, rounds=1,
                               after_clifford_depolarization=0.01, before_measure_flip_probability=0.01)
    p = tmp_path_factory.mktemp("circ") / "c.stim"
    p.write_text(str(c))
    return p


def _fresh_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sov-fuzz-"))


# -- recorded shot data ---------------------------------------------------------------------

def _load_all(circuit: Path, dets: Path, obs: Path, fmt: str | None):
    from verifier.qec.recorded import RecordedWorkload

    w = RecordedWorkload.from_files(circuit, dets, obs, data_format=fmt)
    for b in w.blocks():
        d, o = w.sample_block(b)
        assert d.shape == (b.shots, (w.num_detectors + 7) // 8) and d.dtype == np.uint8
        assert o.shape == (b.shots, (w.num_observables + 7) // 8) and o.dtype == np.uint8
        # bits beyond the circuit's width are never set (they would count as failures)
        if w.num_detectors % 8:
            assert not np.any(d[:, -1] >> (w.num_detectors % 8))
        if w.num_observables % 8:
            assert not np.any(o[:, -1] >> (w.num_observables % 8))
    return w


@FAST
@given(dets=st.binary(max_size=400), obs=st.binary(max_size=80),
       fmt=st.sampled_from(["b8", "01", "dets", None]))
def test_random_bytes_as_shot_data(small_circuit, dets, obs, fmt):
    tmp = _fresh_dir()
    suffix = fmt or "b8"
    (tmp / f"d.{suffix}").write_bytes(dets)
    (tmp / f"o.{suffix}").write_bytes(obs)
    try:
        _load_all(small_circuit, tmp / f"d.{suffix}", tmp / f"o.{suffix}", fmt)
    except SovError:
        pass


@FAST
@given(data=st.data())
def test_wellformed_shot_data_roundtrips_through_every_format(small_circuit, data):
    """Random valid shots written by stim in each format read back bit for bit."""
    import stim

    from verifier.qec.recorded import RecordedWorkload

    c = stim.Circuit(small_circuit.read_text())
    n = data.draw(st.integers(1, 40))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    bits_d = rng.random((n, c.num_detectors)) < data.draw(st.floats(0, 1))
    bits_o = rng.random((n, c.num_observables)) < 0.5
    fmt = data.draw(st.sampled_from(["b8", "01", "dets"]))
    tmp = _fresh_dir()
    stim.write_shot_data_file(data=bits_d, path=str(tmp / f"d.{fmt}"), format=fmt, num_detectors=c.num_detectors)
    stim.write_shot_data_file(data=bits_o, path=str(tmp / f"o.{fmt}"), format=fmt, num_observables=c.num_observables)
    w = RecordedWorkload.from_files(small_circuit, tmp / f"d.{fmt}", tmp / f"o.{fmt}")
    assert w.shots == n
    d, o = w.sample_block(w.blocks()[0])
    assert np.array_equal(np.unpackbits(d, axis=1, bitorder="little")[:, :c.num_detectors], bits_d)
    assert np.array_equal(np.unpackbits(o, axis=1, bitorder="little")[:, :c.num_observables], bits_o)


@FAST
@given(lines=st.lists(st.text(alphabet="DL0123456789 shot\n-x", max_size=30), max_size=12))
def test_dets_text_lines(small_circuit, lines):
    tmp = _fresh_dir()
    text = "\n".join(lines) + "\n"
    (tmp / "d.dets").write_text(text)
    (tmp / "o.dets").write_text("".join("shot\n" for _ in lines))
    try:
        _load_all(small_circuit, tmp / "d.dets", tmp / "o.dets", None)
    except SovError:
        pass


# -- .stim circuits -------------------------------------------------------------------------

STIM_TOKENS = ["H", "CX", "M", "MR", "R", "DETECTOR", "OBSERVABLE_INCLUDE(0)", "rec[-1]", "rec[-2]",
               "rec[-99]", "0", "1", "2", "X_ERROR(0.1)", "DEPOLARIZE1(0.01)", "DEPOLARIZE2(2)",
               "REPEAT", "3", "{", "}", "TICK", "QUBIT_COORDS(0,0)", "SHIFT_COORDS(0,0,1)", "#", "\n",
               "MPP", "X0*Z1", "E(0.1)", "HERALDED_ERASE(0.1)", "1e9", "-1", "nan", "\u00e9"]


@FAST
@given(tokens=st.lists(st.sampled_from(STIM_TOKENS), max_size=40), shots=st.integers(-2, 20))
def test_random_stim_circuits(tokens, shots):
    from verifier.qec.workload import CircuitWorkload

    tmp = _fresh_dir()
    (tmp / "c.stim").write_text(" ".join(tokens))
    try:
        w = CircuitWorkload.from_file(tmp / "c.stim", shots=shots, seed=1)
    except SovError:
        return
    d, o = w.sample_block(w.blocks()[0])
    assert d.shape[0] == o.shape[0] == min(shots, 8192)


@FEW
@given(raw=st.binary(max_size=300))
def test_random_bytes_as_stim_circuit(raw):
    from verifier.qec.workload import CircuitWorkload

    tmp = _fresh_dir()
    (tmp / "c.stim").write_bytes(raw)
    try:
        CircuitWorkload.from_file(tmp / "c.stim", shots=10, seed=1)
    except SovError:
        pass


# -- policy TOML ----------------------------------------------------------------------------

POLICY_KEYS = ["policy", "name", "confidence", "decoders", "batch_size", "provider", "threads",
               "workloads", "gates", "kind", "margin", "per", "budget_us", "max_ratio_to_baseline",
               "experiment", "distance", "rounds", "basis", "noise", "p", "shots", "seed", "circuit",
               "dets", "obs", "tolerance", "ler", "latency", "calibration", "x", "z", "uniform",
               # [evidence] and [provenance] tables (trusted evidence, model signatures)
               "evidence", "require", "ed25519", "ml-dsa-65", "provenance", "require_signature",
               "signature", "public_keys", "certificate_chains", "identities"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(POLICY_KEYS))
toml_like = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                     st.dictionaries(st.sampled_from(POLICY_KEYS), inner, max_size=5)),
    max_leaves=25)


@FAST
@given(doc=st.dictionaries(st.sampled_from(POLICY_KEYS), toml_like, max_size=6))
def test_random_policy_documents(doc):
    from verifier.gates import policy as policy

    try:
        policy.parse(doc, source="fuzz.toml", base=_fresh_dir())
    except SovError:
        pass


@FAST
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_policy_files(text):
    from verifier.gates import policy as policy

    tmp = _fresh_dir()
    (tmp / "p.toml").write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        policy.load(tmp / "p.toml")
    except SovError:
        pass


# -- evidence files -------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["format", "record", "hash", "signatures", "alg",
                                                             "value", "key_id", "public_key", "signature",
                                                             "verdict", "prev", "body"]) | st.text(max_size=6),
                                            inner, max_size=5)),
    max_leaves=30)


@FAST
@given(doc=json_values)
def test_random_evidence_documents_never_verify_and_never_raise(doc):
    from verifier.evidence import record as evidence

    tmp = _fresh_dir()
    (tmp / "e.json").write_text(json.dumps(doc))
    rep = evidence.verify(evidence.load(tmp / "e.json"))
    assert not rep.ok


@FAST
@given(raw=st.binary(max_size=300))
def test_random_bytes_as_evidence(raw):
    from verifier.evidence import record as evidence

    tmp = _fresh_dir()
    (tmp / "e.json").write_bytes(raw)
    assert not evidence.verify(evidence.load(tmp / "e.json")).ok


@FEW
@given(data=st.data())
def test_mutated_sealed_evidence_fails_verification(data):
    from verifier.evidence import record as evidence
    from verifier.evidence.keys import generate

    doc = evidence.seal({"verdict": "pass", "shots": 1000, "errors": 3, "nested": {"a": [1, 2, 3]}}, _keys(generate))
    assert evidence.verify(json.loads(json.dumps(doc))).ok
    text = json.dumps(doc)
    i = data.draw(st.integers(0, len(text) - 1))
    ch = data.draw(st.characters(codec="ascii"))
    assume(text[i] != ch)
    mutated = text[:i] + ch + text[i + 1:]
    tmp = _fresh_dir()
    (tmp / "e.json").write_text(mutated)
    loaded = evidence.load(tmp / "e.json")
    rep = evidence.verify(loaded)
    if rep.ok:  # only a change that leaves the same JSON value (e.g. whitespace) may still verify
        assert loaded == json.loads(text)


_KEYS: list = []


def _keys(generate):
    if not _KEYS:
        _KEYS.extend(generate(("ed25519",)))
    return _KEYS


# -- Qibocal output folders -----------------------------------------------------------------

@FEW
@given(yml=st.one_of(st.text(max_size=120),
                     st.sampled_from(["operation: rabi_amplitude\nid: x\n", "operation: t1\n",
                                      "operation: [1, 2]\n", "operation: readout_characterization\n",
                                      ": : :\n", "id: 3\nparameters: {nshots: -1}\noperation: ramsey\n"])),
       npz=st.one_of(st.binary(max_size=200), st.just(b"PK\x03\x04"), st.just(b"\x93NUMPY")),
       results=st.one_of(st.none(), st.text(max_size=60)))
def test_random_qibocal_folders(yml, npz, results):
    pytest.importorskip("qibocal")
    from verifier.calib.replay import replay_folder
    from verifier.cli.wiring import calibration_model_from_spec, qibocal_records

    root = _fresh_dir()
    act = root / "data" / "action0"
    act.mkdir(parents=True)
    (act / "action.yml").write_text(yml)
    (act / "data.npz").write_bytes(npz)
    if results is not None:
        (act / "results.json").write_text(results)
    try:
        replay_folder(root, "sov-reference", records=qibocal_records(), resolve=calibration_model_from_spec)
    except SovError:
        pass


# -- CLI arguments --------------------------------------------------------------------------

COMMANDS = [["qec", "run"], ["qec", "latency"], ["qec", "crosscheck"], ["models", "inspect"],
            ["models", "list"], ["models", "bom"], ["history", "list"], ["history", "show"],
            ["evidence", "verify"], ["evidence", "chain"], ["calib", "experiments"], ["calib", "run"],
            ["accept"], ["watch", "list"], ["report"], ["qec"], ["models"], [],
            ["keys", "list"], ["keys", "trust"], ["keys", "untrust"], ["models", "verify"],
            ["drift", "list"], ["drift", "add"], ["drift", "calib"]]
FLAGS = ["--decoder", "--distance", "-d", "--rounds", "--basis", "--noise", "--p", "--shots", "--seed",
         "--circuit", "--dets", "--obs", "--data-format", "--contract", "--provider", "--threads",
         "--batch-size", "--max-errors", "--json", "--db", "--candidate", "--baseline", "--policy",
         "--model", "--experiment", "--latest", "--help", "--version", "--debug-not", "-q", "--margin",
         "--key", "--limit", "--output", "--require", "--signature", "--cert-chain", "--identity",
         "--name"]
VALUES = ["", "-", "--", "-1", "0", "1", "2", "3", "0.01", "nan", "inf", "-0.0", "1e999", "x", "z",
          "si1000", "uniform", "pymatching", "identity-predecoder", "qec.decoder", "cal.fit", "cuda",
          "b8", "01", "dets", "é" * 3, "a" * 300, "%s", "{}", "[1]", "1000000000000000",
          "10000000001", "ed25519", "ml-dsa-65,ed25519", "a\x00b"]


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "junk.onnx").write_bytes(b"\x08\x01junk" * 20)
    (d / "empty.stim").write_text("")
    (d / "bad.toml").write_text("[[gates]\nkind=")
    (d / "e.json").write_text("{}")
    (d / "sub").mkdir()
    return [str(d / n) for n in ("junk.onnx", "empty.stim", "bad.toml", "e.json", "sub", "missing.onnx")]


def _run_main(argv: list[str]) -> tuple[int, str]:
    r = run_main(argv)
    return r.returncode, r.stderr


@_settings(50)
@given(data=st.data())
def test_random_cli_arguments(data, cli_files, tmp_path_factory, monkeypatch):
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SOV_DB", str(cwd / "s.duckdb"))
    monkeypatch.setenv("HOME", str(cwd))
    monkeypatch.setenv("SOV_TRUST_DIR", str(cwd / "trusted"))
    cmd = data.draw(st.sampled_from(COMMANDS))
    rest = data.draw(st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES),
                                        st.sampled_from(cli_files), st.text(max_size=8)), max_size=8))
    argv = cmd + rest
    argv = [a.replace("\x00", "") for a in argv]
    assume("--debug" not in argv)  # --debug shows tracebacks on purpose
    # keep any run that happens to be valid tiny: later values win in click
    if cmd[:1] in (["qec"], ["accept"]) and len(cmd) == 2 or cmd in (["accept"], ["drift", "add"]):
        argv += ["--shots", "64"] if cmd != ["qec", "latency"] else ["--shots", "16"]
        argv += ["--workers", "1"] if cmd != ["qec", "latency"] else []
    code, err = _run_main(argv)
    assert code in (0, 1, 2, 3, 4), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines and lines[-1].startswith("sov: "), (argv, err)


@_settings(60)
@given(argv=st.lists(st.text(min_size=0, max_size=12).map(lambda s: s.replace("\x00", "")), max_size=6))
def test_fully_random_argv(argv, tmp_path_factory, monkeypatch):
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SOV_DB", str(cwd / "s.duckdb"))
    monkeypatch.setenv("HOME", str(cwd))
    assume(not argv or argv[0] not in ("demo", "compare", "watch", "drift"))
    assume("--debug" not in argv)  # --debug shows tracebacks on purpose
    code, err = _run_main(argv)
    assert code in (0, 1, 2, 3, 4), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)


@pytest.mark.parametrize("argv", [["models", "inspect", "a" * 300], ["models", "bom", "b" * 300 + ".onnx"],
                                  ["qec", "run", "--decoder", "c" * 300 + ".onnx", "-d", "3", "--p", "0.01"]])
def test_file_names_the_os_refuses_are_one_line_errors(argv, tmp_path, monkeypatch):
    """Found by the CLI fuzzer: a 300-character name made Path.exists() raise."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOV_DB", str(tmp_path / "s.duckdb"))
    code, err = _run_main(argv)
    assert code == 2 and "File name too long" in err and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1
