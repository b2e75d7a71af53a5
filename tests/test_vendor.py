"""NVIDIA Ising-Decoding's real exports and test bundles (tests/data/ising, see its README),
replayed as a new user would: no --contract, no --obs, no converter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines.pymatching_decoder import PyMatchingDecoder
from tests.fixtures.cli import one_line
from verifier.errors import UsageError
from verifier.qec.flags import from_flags
from verifier.qec.recorded import RecordedWorkload

ISING = Path(__file__).parent / "data" / "ising"
SIMPLE = ISING / "circuits" / "ising_d5_T5_X_simple.stim"
NOOP = ISING / "noop"
SPARSE = ISING / "sparse"
FLAGS = dict(distance=None, rounds=None, basis="z", noise="uniform", p=None, shots=1, seed=0)


def _errors(w, decoder=None) -> int:
    compiled = (decoder or PyMatchingDecoder()).compile_for(w)
    total = 0
    for b in w.blocks():
        dets, obs = w.sample_block(b)
        total += int(np.any(compiled.decode_packed(dets) != obs, axis=1).sum())
    return total


def _ising_predictions(path: Path) -> np.ndarray:
    raw = np.fromfile(path, dtype="<i4")
    rows, cols = raw[:2]
    return raw[2:].reshape(rows, cols)


def test_a_dets_file_with_its_observables_appended_needs_no_obs():
    w = from_flags(**FLAGS, circuit=SIMPLE, dets=NOOP / "data_X" / "samples_X.dets")
    assert w.shots == 10_000 and w.obs_path is None and "observables appended" in w.describe()
    assert _errors(w) == 36  # Ising's own PyMatching count on these shots
    # the same shots as the bundle's binary files, bit for bit
    b = from_flags(**FLAGS, dataset=NOOP / "data_X", circuit=SIMPLE, say=lambda s: None)
    for blk in w.blocks()[:2]:
        for x, y in zip(w.sample_block(blk), b.sample_block(blk)):
            assert np.array_equal(x, y)


def test_a_dataset_says_which_files_it_used_and_which_dem():
    said = []
    w = from_flags(**FLAGS, dataset=NOOP / "data_X", circuit=SIMPLE, say=said.append)
    assert len(said) == 1 and "Ising test bundle" in said[0] and "detectors.bin" in said[0]
    assert "the circuit's DEM" in said[0] and w.dem_path is None and w.rounds == 5
    alone = from_flags(**FLAGS, dataset=NOOP / "data_X", say=said.append)
    assert not alone.has_circuit and alone.dem_path == str((NOOP / "data_X").resolve())
    # Ising's exported matching graph: its priors differ from the circuit's, one shot of
    # 10,000 is matched otherwise (37 errors where the circuit's DEM and Ising give 36)
    assert _errors(alone) == 37 and _errors(w) == 36


def test_the_noop_export_equals_pymatching_shot_for_shot_without_a_contract_flag():
    from adapters.onnx_decoder import OnnxDecoder

    model = OnnxDecoder.from_file(str(NOOP / "predecoder_memory_d5_T5_X.onnx"))
    assert model.contract == "qec.predecoder.flat"  # recognized from Ising's tensor names
    w = RecordedWorkload.from_files(SIMPLE, NOOP / "data_X" / "samples_X.dets", None, shots=2000)
    model.check(w)
    dets, _ = w.sample_block(w.blocks()[0])
    got = np.unpackbits(model.compile_for(w).decode_packed(dets), axis=1, count=1, bitorder="little")
    assert np.array_equal(got[:, 0], _ising_predictions(NOOP / "data_X" / "pymatching_predictions.bin")[:2000, 0])


@pytest.mark.slow
def test_cli_sparse_model_gives_isings_pipeline_errors(cli, tmp_path):
    r = cli("qec", "run", "--decoder", SPARSE / "predecoder_memory_d5_T5_X.onnx", "--circuit", SIMPLE,
            "--dataset", SPARSE / "data_X", "--workers", "1", "--db", tmp_path / "s.duckdb", "--json", "-", "-q")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["shots"] == 2000 and d["errors"] == 26  # Ising's pipeline: pre_L XOR PyMatching(residual)
    assert "Ising test bundle" in r.stderr


def test_pauli_channel_circuit_runs_with_pymatching(cli, tmp_path):
    r = cli("qec", "run", "--decoder", "pymatching", "--circuit", ISING / "circuits" / "ising_d5_T5_X_25p.stim",
            "--shots", "2000", "--workers", "1", "--db", tmp_path / "s.duckdb", "-q")
    assert r.returncode == 0, r.stderr


def test_refusals(cli, tmp_path):
    db = ["--workers", "1", "--db", str(tmp_path / "s.duckdb")]
    line = one_line(cli("qec", "run", "--decoder", "pymatching", "--dataset", tmp_path / "missing", *db), 2)
    assert "not found" in line
    (tmp_path / "empty").mkdir()
    line = one_line(cli("qec", "run", "--decoder", "pymatching", "--dataset", tmp_path / "empty", *db), 2)
    assert str(tmp_path / "empty") in line
    no_obs = tmp_path / "d.dets"
    no_obs.write_text("shot D0\nshot\n")
    line = one_line(cli("qec", "run", "--decoder", "pymatching", "--circuit", SIMPLE, "--dets", no_obs, *db), 2)
    assert "--obs" in line
    line = one_line(cli("qec", "run", "--decoder", "pymatching", "--dataset", NOOP / "data_X",
                        "--dets", no_obs, *db), 2)
    assert "not both" in line
    with pytest.raises(UsageError, match="--dem"):
        from_flags(**FLAGS, dataset=NOOP / "data_X", dem=tmp_path / "x.dem")


def test_a_flat_residual_pymatching_cannot_match_is_the_models_integrity_failure(cli, tmp_path):
    """Events on Ising's final detectors, which no error mechanism flips, cannot come from
    the shots: a model that returns them broke the syndrome (exit 4, one line)."""
    from adapters.reference_models import save
    from tests.fixtures.onnx_models import constant_decoder

    ones = save(constant_decoder(120, 121, flip=True, metadata={"sov.contract": "qec.predecoder.flat"}),
                tmp_path / "ones.onnx")
    line = one_line(cli("qec", "run", "--decoder", ones, "--circuit", SIMPLE, "--dets",
                        NOOP / "data_X" / "samples_X.dets", "--workers", "1", "--db", tmp_path / "s.duckdb"), 4)
    assert "ones.onnx" in line and "cannot match the residual" in line
