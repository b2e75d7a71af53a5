"""Detector error models: ``--dem``, PAULI_CHANNEL circuits, noiseless circuits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import stim

from baselines.pymatching_decoder import PyMatchingDecoder
from tests.fixtures.cli import one_line
from verifier.errors import UsageError
from verifier.qec.flags import from_flags
from verifier.qec.recorded import RecordedWorkload
from verifier.qec.workload import CircuitWorkload, MemoryWorkload

ISING = Path(__file__).parent / "data" / "ising" / "circuits"


def _noisy(d: int = 3, p: float = 0.01) -> stim.Circuit:
    return stim.Circuit.generated("surface_code:rotated_memory_x", distance=d, rounds=d,
                                  after_clifford_depolarization=p, before_measure_flip_probability=p,
                                  after_reset_flip_probability=p)


@pytest.fixture
def experiment(tmp_path):
    """A published-experiment layout: a noiseless circuit, the DEM fitted to the device
    (here: the noisy circuit's), the recorded shots."""
    noisy = _noisy()
    (tmp_path / "ideal.stim").write_text(str(noisy.without_noise()))
    (tmp_path / "noisy.stim").write_text(str(noisy))
    (tmp_path / "fitted.dem").write_text(str(noisy.detector_error_model(decompose_errors=True)))
    noisy.compile_detector_sampler(seed=3).sample_write(
        3000, filepath=str(tmp_path / "d.b8"), format="b8",
        obs_out_filepath=str(tmp_path / "o.01"), obs_out_format="01")
    return tmp_path


def _errors(w) -> int:
    compiled = PyMatchingDecoder().compile_for(w)
    errors = 0
    for b in w.blocks():
        dets, obs = w.sample_block(b)
        errors += int(np.any(compiled.decode_packed(dets) != obs, axis=1).sum())
    return errors


def test_a_shipped_dem_decodes_a_noiseless_circuit_as_its_noisy_one(experiment):
    e = experiment
    shipped = RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01", dem=e / "fitted.dem")
    own = RecordedWorkload.from_files(e / "noisy.stim", e / "d.b8", e / "o.01")
    assert shipped.dem_sha256 and shipped.spec()["dem_sha256"] == shipped.dem_sha256
    assert "dem_sha256" not in own.spec()  # ids recorded before --dem existed are unchanged
    assert shipped.id != own.id
    ref = PyMatchingDecoder().compile_for(own)
    got = PyMatchingDecoder().compile_for(shipped)
    dets, _ = shipped.sample_block(shipped.blocks()[0])
    assert np.array_equal(ref.decode_packed(dets), got.decode_packed(dets))
    assert _errors(shipped) == _errors(own) > 0


def test_a_gzipped_dem_is_the_same_workload(experiment):
    e = experiment
    (e / "fitted.dem.gz").write_bytes(gzip.compress((e / "fitted.dem").read_bytes()))
    a = RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01", dem=e / "fitted.dem")
    b = RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01", dem=e / "fitted.dem.gz")
    assert a.id == b.id


def test_recorded_shots_with_a_dem_and_no_circuit(experiment):
    e = experiment
    w = from_flags(distance=None, rounds=None, basis="z", noise="uniform", p=None, shots=1, seed=0,
                   dets=e / "d.b8", obs=e / "o.01", dem=e / "fitted.dem")
    assert not w.has_circuit and w.num_detectors == _noisy().num_detectors
    assert _errors(w) == _errors(RecordedWorkload.from_files(e / "noisy.stim", e / "d.b8", e / "o.01"))
    with pytest.raises(UsageError, match="--circuit"):
        w.circuit()


def test_a_noiseless_circuit_is_sampled_from_its_dem(experiment):
    e = experiment
    w = CircuitWorkload.from_file(e / "ideal.stim", shots=20_000, seed=5, dem=e / "fitted.dem")
    noisy = CircuitWorkload.from_file(e / "noisy.stim", shots=20_000, seed=5)
    assert w.from_dem and not noisy.from_dem and w.stream_id != noisy.stream_id
    # same error model, other sampler: the error counts agree within their binomial spread
    a, b = _errors(w), _errors(noisy)
    assert abs(a - b) < 4 * np.sqrt(a + b), (a, b)


def test_refusals(experiment, tmp_path):
    e = experiment
    with pytest.raises(UsageError, match="no noise.*--dem"):
        CircuitWorkload.from_file(e / "ideal.stim", shots=10, seed=0)
    with pytest.raises(UsageError, match="no noise.*--dem"):
        RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01")
    other = tmp_path / "other.dem"
    other.write_text(str(_noisy(5).detector_error_model(decompose_errors=True)))
    with pytest.raises(UsageError, match="for another circuit"):
        RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01", dem=other)
    bad = tmp_path / "bad.dem"
    bad.write_text("this is not a dem\n")
    with pytest.raises(UsageError, match="not a valid stim detector error model"):
        RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01", dem=bad)
    with pytest.raises(UsageError, match="not found"):
        RecordedWorkload.from_files(e / "ideal.stim", e / "d.b8", e / "o.01", dem=tmp_path / "missing.dem")
    with pytest.raises(UsageError, match="another circuit"):
        from_flags(distance=5, rounds=5, basis="x", noise="uniform", p=0.001, shots=10, seed=0,
                   dem=e / "fitted.dem")


def test_pauli_channel_circuits_build_with_approximate_disjoint_errors():
    """Ising-Decoding's default 25-parameter noise (PAULI_CHANNEL_1/2): stim builds its DEM
    only with approximate_disjoint_errors=True."""
    c = stim.Circuit((ISING / "ising_d5_T5_X_25p.stim").read_text())
    with pytest.raises(ValueError):
        c.detector_error_model(decompose_errors=True)
    w = CircuitWorkload.from_file(ISING / "ising_d5_T5_X_25p.stim", shots=2000, seed=1)
    assert 0 < _errors(w) < 100


def test_cli_dem_flag(cli, experiment):
    e = experiment
    r = cli("qec", "run", "--decoder", "pymatching", "--circuit", e / "ideal.stim", "--dets", e / "d.b8",
            "--obs", e / "o.01", "--dem", e / "fitted.dem", "--workers", "1", "-q", "--json", "-",
            "--db", e / "s.duckdb")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout[r.stdout.index("{"):])
    assert out["workload"]["dem_sha256"]
    line = one_line(cli("qec", "run", "--decoder", "pymatching", "--circuit", e / "ideal.stim",
                        "--workers", "1", "--db", e / "s.duckdb"), 2)
    assert "--dem" in line
    r = cli("qec", "run", "--decoder", "pymatching", "--circuit", ISING / "ising_d5_T5_X_25p.stim",
            "--shots", "2000", "--workers", "1", "-q", "--db", e / "s.duckdb")
    assert r.returncode == 0, r.stderr
    assert MemoryWorkload(3, 3, "x", "uniform", 0.01, 10, 0).dem_sha256 is None
