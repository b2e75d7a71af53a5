"""The single-fault probe (``verifier.qec.probe``): every error mechanism of the workload's
DEM decoded alone, next to PyMatching, on real decoders (PyMatching, NVIDIA Ising's own ONNX
export, ONNX controls) and real stim circuits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import stim

from adapters.reference_models import save
from adapters.resolve import decoder_from_spec
from baselines.pymatching_decoder import PyMatchingDecoder
from tests.fixtures.onnx_models import constant_decoder
from verifier.cli.wiring import fault_prober, model_pins_circuit
from verifier.qec.probe import (WEIGHT2_SAMPLES, FaultProber, ambiguous_mechanisms, mechanisms,
                                probe_syndromes, sample_pairs, workload_dem)
from verifier.qec.workload import CircuitWorkload, MemoryWorkload

ISING = Path(__file__).parent / "data" / "ising"
NOOP = ISING / "noop" / "predecoder_memory_d5_T5_X.onnx"
ISING_CIRCUIT = ISING / "circuits" / "ising_d5_T5_X_simple.stim"
FLAT = "qec.predecoder.flat"


def _prober(**kw) -> tuple[FaultProber, list[str]]:
    lines: list[str] = []
    return FaultProber(PyMatchingDecoder(), warn=lines.append, pins_circuit=model_pins_circuit, **kw), lines


@pytest.mark.parametrize("distance,basis", [(3, "z"), (3, "x"), (5, "z"), (5, "x")])
def test_pymatching_corrects_every_single_fault_of_a_surface_code(distance, basis):
    wl = MemoryWorkload(distance, distance, basis, "uniform", 0.003, 100, 0)
    probe, lines = _prober()
    fp = probe(PyMatchingDecoder(), wl)
    n = sum(1 for i in workload_dem(wl).flattened() if i.type == "error")
    assert fp.weight1_total == n > 100
    assert fp.weight1_ambiguous == 0 and fp.weight1_failed == fp.baseline_weight1_failed == 0
    assert fp.empty_syndrome_ok and fp.distance == distance
    assert fp.weight2_sampled == (WEIGHT2_SAMPLES if distance >= 5 else 0)
    assert fp.weight2_failed == fp.baseline_weight2_failed  # its own column
    assert lines == []


def test_ising_noop_export_on_its_own_circuit_fails_no_single_fault():
    wl = CircuitWorkload.from_file(ISING_CIRCUIT, shots=100, seed=0)
    probe, lines = _prober(weight2_samples=0)
    fp = probe(decoder_from_spec(str(NOOP), contract=FLAT), wl)
    assert fp.weight1_total > 1000 and fp.distance == 5  # the DEM's graphlike distance
    assert fp.weight1_failed == fp.baseline_weight1_failed == 0
    assert fp.empty_syndrome_ok and lines == []


def test_the_probe_runs_once_per_decoder_and_stream():
    wl = MemoryWorkload(3, 3, "z", "uniform", 0.003, 100, 0)
    probe, _ = _prober()
    first = probe(PyMatchingDecoder(), wl)
    again = probe(PyMatchingDecoder(), MemoryWorkload(3, 3, "z", "uniform", 0.003, 5000, 0))  # same stream
    assert again is first


def test_a_decoder_that_always_flips_fails_the_empty_syndrome(tmp_path):
    wl = MemoryWorkload(3, 3, "z", "uniform", 0.003, 100, 0)
    dec = decoder_from_spec(save(constant_decoder(wl.num_detectors, 1, flip=True), tmp_path / "ones.onnx"))
    probe, lines = _prober()
    fp = probe(dec, wl)
    _, obs = mechanisms(workload_dem(wl), wl.num_detectors, 1)
    assert not fp.empty_syndrome_ok
    assert fp.weight1_failed == int((obs[:, 0] == 0).sum()) > 0  # right only where the fault flips L0
    assert len(lines) == 1 and "empty syndrome" in lines[0] and "ones.onnx" in lines[0]


def test_a_model_that_names_its_circuit_is_called_broken_not_misplaced(tmp_path):
    wl = MemoryWorkload(3, 3, "z", "uniform", 0.003, 100, 0)
    md = {"sov.circuit_sha256": wl.circuit_text_sha256}
    dec = decoder_from_spec(save(constant_decoder(wl.num_detectors, 1, flip=False, metadata=md),
                                 tmp_path / "zeros.onnx"))
    dec.check(wl)
    probe, lines = _prober()
    fp = probe(dec, wl)
    _, obs = mechanisms(workload_dem(wl), wl.num_detectors, 1)
    assert fp.empty_syndrome_ok and fp.weight1_failed == fp.weight1_failed_baseline_ok == int(obs[:, 0].sum())
    assert len(lines) == 1 and "names this circuit" in lines[0] and "--circuit" not in lines[0]
    probe(dec, wl)
    assert len(lines) == 1  # one warning per decoder


def test_identical_symptoms_with_another_effect_are_undecidable_not_failures():
    dem = stim.DetectorErrorModel("""
        error(0.1) D0 D1
        error(0.1) D0 D1 L0
        error(0.1) L0
        error(0.1) D1 D2
        error(0.1) D2
    """)
    dets, obs = mechanisms(dem, 3, 1)
    assert ambiguous_mechanisms(dets, obs).tolist() == [True, True, True, False, False]
    syn = probe_syndromes(dem, 3, 1, distance=1)
    assert syn.weight1 == 5 and syn.weight2 == 0 and syn.dets.shape == (6, 1)


def test_decomposed_errors_are_one_fault_with_the_whole_symptom():
    dem = stim.DetectorErrorModel("error(0.1) D0 D1 ^ D1 D2 L0\nerror(0.1) D3")
    dets, obs = mechanisms(dem, 4, 1)
    assert np.unpackbits(dets, axis=1, count=4, bitorder="little").tolist() == [[1, 0, 1, 0], [0, 0, 0, 1]]
    assert obs[:, 0].tolist() == [1, 0]


def test_the_weight2_sample_is_reproducible_and_distinct():
    wl = MemoryWorkload(5, 5, "z", "uniform", 0.003, 100, 0)
    a = probe_syndromes(workload_dem(wl), wl.num_detectors, 1, distance=5)
    b = probe_syndromes(workload_dem(MemoryWorkload(5, 5, "z", "uniform", 0.003, 999, 7)), wl.num_detectors, 1,
                        distance=5)
    assert a.seed == b.seed and np.array_equal(a.dets, b.dets) and a.weight2 == WEIGHT2_SAMPLES
    pairs = sample_pairs(np.arange(50), 10_000, 1)
    assert len(pairs) == 50 * 49 // 2 and (pairs[:, 0] != pairs[:, 1]).all()
    assert len({tuple(sorted(p)) for p in pairs.tolist()}) == len(pairs)


def test_qec_run_reports_the_probe_and_warns_on_the_wrong_circuit(cli, tmp_path):
    out = tmp_path / "run.json"
    r = cli("qec", "run", "--decoder", str(NOOP), "--contract", FLAT, "--distance", "5", "--rounds", "5",
            "--basis", "x", "--p", "0.003", "--shots", "100", "--workers", "1", "--db", str(tmp_path / "s.duckdb"),
            "--json", str(out))
    assert r.returncode == 0, r.stderr
    fp = json.loads(out.read_text())["fault_probe"]
    assert fp["weight1_failed"] > 0 == fp["baseline_weight1_failed"]
    assert fp["weight2_sampled"] == WEIGHT2_SAMPLES and fp["weight2_failed"] > fp["baseline_weight2_failed"]
    warnings = [line for line in r.stderr.splitlines() if "fault probe" in line]
    assert len(warnings) == 1 and "another circuit or detector order" in warnings[0]
    assert "--circuit FILE.stim" in warnings[0]
    assert "fault probe:" in r.stdout and f"{fp['weight1_failed']:,} of {fp['weight1_total']:,}" in r.stdout


def test_qec_run_of_an_open_baseline_skips_the_probe(cli, tmp_path):
    """PyMatching is built from the workload's own DEM: no wrong circuit to guard against,
    and the probe would cost a sizeable share of a fast replay. The JSON says so."""
    out = tmp_path / "run.json"
    r = cli("qec", "run", "--distance", "3", "--p", "0.003", "--shots", "100", "--workers", "1",
            "--db", str(tmp_path / "s.duckdb"), "--json", str(out))
    assert r.returncode == 0, r.stderr
    fp = json.loads(out.read_text())["fault_probe"]
    assert "open baseline" in fp["skipped"]
    assert "warning" not in r.stderr and "fault probe" not in r.stdout


def test_accept_and_compare_probe_models_only(cli, tmp_path):
    ones = save(constant_decoder(24, 1, flip=True), tmp_path / "ones.onnx")  # d=3, 3 rounds: 24 detectors
    acc = tmp_path / "accept.json"
    r = cli("accept", "--candidate", ones, "--baseline", "pymatching", "--distance", "3", "--p", "0.003",
            "--shots", "200", "--workers", "1", "--db", str(tmp_path / "a.duckdb"), "--json", str(acc))
    assert r.returncode in (1, 3), r.stderr
    wl = json.loads(acc.read_text())["workloads"][0]
    assert wl["candidate"]["fault_probe"]["empty_syndrome_ok"] is False and "fault_probe" not in wl["baseline"]
    assert sum("empty syndrome" in line for line in r.stderr.splitlines()) == 1
    cmp = tmp_path / "compare.json"
    r = cli("compare", "--decoder", ones, "--distances", "3", "--p", "0.003", "--shots", "200",
            "--latency-shots", "0", "--workers", "1", "--db", str(tmp_path / "c.duckdb"), "--json", str(cmp))
    payload = json.loads(cmp.read_text())
    probes = {row["decoder"]: row["fault_probe"] for row in payload["results"]}
    base = payload["baseline"]
    assert probes[base] is None
    assert [p["empty_syndrome_ok"] for k, p in probes.items() if k != base] == [False]
    assert sum("empty syndrome" in line for line in r.stderr.splitlines()) == 1
    assert "fault probe ones.onnx:" in r.stdout


def test_wiring_builds_the_pymatching_prober():
    probe = fault_prober(warn=lambda _line: None)
    assert probe.baseline.name == "pymatching"


def test_a_circuit_without_a_matching_baseline_is_probed_without_its_column(tmp_path):
    circuit = tmp_path / "weight3.stim"  # one weight-3 mechanism stim cannot decompose
    circuit.write_text("R 0 1 2\nCORRELATED_ERROR(0.1) X0 X1 X2\nM 0 1 2\n"
                       "DETECTOR rec[-1]\nDETECTOR rec[-2]\nDETECTOR rec[-3]\nOBSERVABLE_INCLUDE(0) rec[-1]\n")
    wl = CircuitWorkload.from_file(circuit, shots=100, seed=0)
    zeros = decoder_from_spec(save(constant_decoder(3, 1, flip=False), tmp_path / "zeros.onnx"))
    probe, lines = _prober()
    fp = probe(zeros, wl)
    assert (fp.weight1_total, fp.weight1_failed, fp.baseline_weight1_failed) == (1, 1, None)
    assert fp.weight1_failed_baseline_ok is None and lines == []
    assert probe(PyMatchingDecoder(), wl) is None  # its replay says why it cannot decode


def test_a_resource_limit_in_the_probe_leaves_the_verdict_to_the_replay(tmp_path, monkeypatch):
    from tests.test_hostile import slow_loop

    monkeypatch.setenv("SOV_BATCH_TIMEOUT_S", "1")
    wl = MemoryWorkload(3, 3, "z", "uniform", 0.01, 100, 0)
    probe, lines = _prober()
    skipped = probe(decoder_from_spec(slow_loop(tmp_path)), wl)
    assert "resource limit" in skipped.to_json()["skipped"] and lines == []
