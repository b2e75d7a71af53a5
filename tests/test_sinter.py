"""sinter interoperability: CSV export that `sinter plot` reads, CSV import as a baseline,
and sov decoders (PyMatching, ONNX pre-decoder) running inside sinter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sinter
import stim

from adapters.sinter_interop import SovSinterDecoder, read_sinter_csv, task_stats, write_sinter_csv
from baselines.pymatching_decoder import PyMatchingDecoder, build_matching
from verifier.qec.grid import SweepSpec
from verifier.engine.sweep import sweep


@pytest.fixture(scope="module")
def small_sweep():
    return sweep(PyMatchingDecoder(), SweepSpec((3, 5), (0.006, 0.01), 3000, seed=5), workers=1)


def test_csv_round_trip_through_sinter(small_sweep, tmp_path):
    path = tmp_path / "s.csv"
    write_sinter_csv(small_sweep, path)
    back = sinter.read_stats_from_csv_files(str(path))
    want = {(r.workload.distance, r.workload.p): (r.stats.shots, r.stats.errors) for r in small_sweep.points}
    got = {(s.json_metadata["d"], s.json_metadata["p"]): (s.shots, s.errors) for s in back}
    assert got == want
    assert {s.decoder for s in back} == {"pymatching"}
    assert {s.strong_id for s in back} == {s.strong_id for s in task_stats(small_sweep)}
    series = read_sinter_csv(path)
    assert list(series) == ["sinter:pymatching"]
    assert {(q.distance, q.p): (q.shots, q.errors) for q in series["sinter:pymatching"]} == want


def test_sinter_plot_reads_the_export(small_sweep, tmp_path):
    path = tmp_path / "s.csv"
    write_sinter_csv(small_sweep, path)
    out = tmp_path / "plot.png"
    exe = Path(sys.executable).with_name("sinter")
    r = subprocess.run([str(exe), "plot", "--in", str(path), "--x_func", "m.p", "--group_func", "m.d",
                        "--xaxis", "[log]p", "--out", str(out)], capture_output=True, text=True,
                       timeout=120, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1000


def test_read_sinter_csv_refuses_what_it_cannot_use(tmp_path):
    from verifier.errors import UsageError

    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,sinter,file\n1,2,3,4\n")
    with pytest.raises(UsageError):
        read_sinter_csv(bad)
    nometa = tmp_path / "nometa.csv"
    nometa.write_text(sinter.CSV_HEADER + "\n" + sinter.TaskStats(strong_id="x", decoder="m", json_metadata={"q": 1},
                                                                  shots=10, errors=1).to_csv_line() + "\n")
    with pytest.raises(UsageError, match="'d'"):
        read_sinter_csv(nometa)
    with pytest.raises(UsageError):
        read_sinter_csv(tmp_path / "missing.csv")


def _circuit(d=3, p=0.006):
    return stim.Circuit.generated("surface_code:rotated_memory_z", distance=d, rounds=d,
                                  after_clifford_depolarization=p, before_round_data_depolarization=p,
                                  before_measure_flip_probability=p, after_reset_flip_probability=p)


@pytest.mark.parametrize("which", ["pymatching", "identity-onnx"])
def test_sov_decoder_as_sinter_decoder_matches_pymatching(which, identity_path):
    circuit = _circuit()
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    if which == "pymatching":
        dec = PyMatchingDecoder()
    else:
        from adapters.onnx_decoder import OnnxDecoder

        dec = OnnxDecoder.from_file(identity_path)
    compiled = SovSinterDecoder(dec).compile_decoder_for_dem(dem=dem)
    dets, _ = circuit.compile_detector_sampler(seed=3).sample(4000, separate_observables=True, bit_packed=True)
    got = compiled.decode_shots_bit_packed(bit_packed_detection_event_data=dets)
    ref = build_matching(circuit).decode_batch(dets, bit_packed_shots=True, bit_packed_predictions=True)
    assert got.dtype == np.uint8 and got.shape == (4000, 1)
    assert np.array_equal(got, ref)


def test_circuits_are_matched_back_from_the_dem():
    a, b = _circuit(3), _circuit(5)
    sd = SovSinterDecoder(PyMatchingDecoder(), circuits=[a, b])
    w = sd.workload_for(b.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True))
    assert w.circuit_text == str(b) and w.circuit().num_detectors == b.num_detectors
    w = sd.workload_for(_circuit(3, 0.001).detector_error_model(decompose_errors=True))
    assert w.circuit_text is None and w.num_detectors == a.num_detectors  # falls back to the DEM


def test_sinter_collect_runs_an_onnx_model(identity_path):
    """sinter's own worker processes unpickle the adapter and run the ONNX model; the logical
    error rate agrees with sov's own replay of the same circuit within the binomial spread."""
    from adapters.onnx_decoder import OnnxDecoder

    onnx = OnnxDecoder.from_file(identity_path)
    circuit = _circuit(3, 0.01)
    stats = sinter.collect(num_workers=2, tasks=[sinter.Task(circuit=circuit, json_metadata={"d": 3, "p": 0.01})],
                           decoders=["vendor"], custom_decoders={"vendor": SovSinterDecoder(onnx)},
                           max_shots=6000, max_errors=10_000)
    assert len(stats) == 1 and stats[0].shots >= 6000
    ler = stats[0].errors / stats[0].shots
    from verifier.engine.replay import replay
    from verifier.qec.workload import MemoryWorkload

    ref = replay(PyMatchingDecoder(), MemoryWorkload(3, 3, "z", "uniform", 0.01, 20_000, 1))
    n1, n2 = stats[0].shots, ref.stats.shots
    pooled = (stats[0].errors + ref.stats.errors) / (n1 + n2)
    z = (ler - ref.stats.ler) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert abs(z) < 4.0, (ler, ref.stats.ler)


def test_sinter_csv_as_a_lambda_baseline(tmp_path):
    from adapters.sinter_interop import read_sinter_csv_epsilon
    from verifier.stats.suppression import fit_lambda

    rows = [sinter.TaskStats(strong_id=f"{d}-{p}", decoder="theirs", json_metadata={"d": d, "p": p, "r": d},
                             shots=100_000, errors=e)
            for d, e in ((3, 600), (5, 250), (7, 80)) for p in (0.003, 0.004)]
    path = tmp_path / "b.csv"
    path.write_text(sinter.CSV_HEADER + "\n" + "\n".join(s.to_csv_line() for s in rows) + "\n")
    series = read_sinter_csv_epsilon(path, 0.003)
    pts = series["sinter:theirs"]
    assert [(q.distance, q.rounds, q.errors) for q in pts] == [(3, 3, 600), (5, 5, 250), (7, 7, 80)]
    fit = fit_lambda(pts, bootstrap=200)
    assert fit.lam_ci[0] < fit.lam < fit.lam_ci[1]
    assert read_sinter_csv_epsilon(path, 0.005) == {}


def test_grid_predecoder_inside_sinter_needs_and_uses_the_circuit(tmp_path):
    """The grid contract reads the circuit's geometry: with the tasks' circuits given, an
    all-negative grid model (the identity) reproduces PyMatching; with the DEM alone it is
    refused with a clear usage error."""
    from tests.fixtures.onnx_models import constant_grid_model
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.reference_models import save
    from verifier.errors import UsageError

    grid = OnnxDecoder.from_file(save(constant_grid_model(-1.0), tmp_path / "grid.onnx"))
    circuit = _circuit(3, 0.008)
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    compiled = SovSinterDecoder(grid, circuits=[_circuit(5), circuit]).compile_decoder_for_dem(dem=dem)
    dets, _ = circuit.compile_detector_sampler(seed=9).sample(2000, separate_observables=True, bit_packed=True)
    got = compiled.decode_shots_bit_packed(bit_packed_detection_event_data=dets)
    ref = build_matching(circuit).decode_batch(dets, bit_packed_shots=True, bit_packed_predictions=True)
    assert np.array_equal(got, ref)
    with pytest.raises(UsageError):
        SovSinterDecoder(grid).compile_decoder_for_dem(dem=dem)
