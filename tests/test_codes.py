"""``--code surface|color|repetition``: the families of generated memories, their ids,
distances and the color code's annotations (verifier.qec.codes, verifier.qec.color_code)."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.registry import baseline
from verifier.errors import UsageError
from verifier.qec.color_code import layout, memory_circuit
from verifier.qec.grid import SweepSpec
from verifier.qec.workload import Block, MemoryWorkload
from verifier.workflows.sweep import check_lambda_grid, check_threshold_grid


def test_surface_ids_are_unchanged_and_the_other_families_differ():
    plain = MemoryWorkload(5, 5, "z", "uniform", 0.003, 1000, 7)
    assert plain.code == "surface" and plain.id == MemoryWorkload(5, 5, "z", "uniform", 0.003, 1000, 7, code="surface").id
    assert set(plain.spec()) == {"kind", "code", "distance", "rounds", "noise", "p", "shots", "seed"}
    assert plain.spec()["code"] == "surface_code:rotated_memory_z"
    ids = {MemoryWorkload(5, 5, "z", "uniform", 0.003, 1000, 7, code=c).id for c in ("surface", "color", "repetition")}
    assert len(ids) == 3


@pytest.mark.parametrize("d", [3, 5, 7])
@pytest.mark.parametrize("basis", ["z", "x"])
def test_color_code_circuit_is_deterministic_and_annotated(d, basis):
    clean = memory_circuit(d, d, basis)
    dem = clean.detector_error_model()  # raises on a non-deterministic detector or observable
    assert dem.num_observables == 1 and clean.num_detectors > 0
    lay = layout(d)
    assert len(lay.data) == (3 * d * d + 1) // 4 and len(lay.logical) == d  # the [[n, 1, d]] 6.6.6 code
    assert len(lay.partners) == len(lay.plaquettes)  # two ancillas per plaquette
    assert clean.num_qubits == len(lay.data) + 2 * len(lay.plaquettes)
    coords = memory_circuit(d, d, basis, 0.001).get_detector_coordinates()
    assert all(len(c) == 4 and c[3] in (0, 1, 2, 3, 4, 5) for c in coords.values())
    # one basis of detectors in the first round (the memory's own), both after
    first = {c[3] >= 3 for c in coords.values() if c[2] == 0}
    assert first == {basis == "z"}


@pytest.mark.parametrize("d,explore", [(3, 4), (5, 3), (7, 2)])
@pytest.mark.parametrize("basis", ["z", "x"])
def test_color_code_circuit_distance_is_the_code_distance(d, explore, basis):
    """The shortest undetectable logical error of the noisy circuit has d faults: hooks do
    not shorten it (docs/baselines.md). stim's search explores states of at most
    ``explore`` detection events, the most that runs in seconds here; with a bare ancilla
    per plaquette (sov's earlier circuit) a search of this kind found (d + 1) / 2."""
    errs = memory_circuit(d, d, basis, 0.001).search_for_undetectable_logical_errors(
        dont_explore_detection_event_sets_with_size_above=explore, dont_explore_edges_with_degree_above=9999,
        dont_explore_edges_increasing_symptom_degree=False, canonicalize_circuit_errors=True)
    assert len(errs) == d


@pytest.mark.parametrize("d", [3, 5, 7])
@pytest.mark.parametrize("basis,noise", [("z", "uniform"), ("x", "uniform"), ("z", "si1000"), ("x", "si1000")])
def test_chromobius_decomposes_every_error_of_the_color_code(d, basis, noise):
    """Many CX orders that keep the distance make errors Chromobius refuses ("failed to
    decompose"); the chosen one must compile at every distance, basis and noise model."""
    import chromobius

    circuit = MemoryWorkload(d, d, basis, noise, 0.002, 10, 0, code="color").circuit()
    chromobius.compile_decoder_for_dem(circuit.detector_error_model())


def test_chromobius_decodes_the_color_code_below_threshold():
    """At p = 0.001 the logical error rate falls with the distance (d = 3 -> 5), and
    Tesseract on the same shots does at least as well (it is near-optimal; Chromobius is
    not)."""
    lers = []
    for d in (3, 5):
        w = MemoryWorkload(d, d, "z", "uniform", 0.001, 20000, 11, code="color")
        dec = baseline("chromobius")
        dec.check(w)
        comp = dec.compile_for(w)
        errs = 0
        for b in w.blocks():
            dets, obs = w.sample_block(b)
            errs += int(np.any(comp.decode_packed(dets) != obs, axis=1).sum())
        lers.append(errs / w.shots)
    assert lers[1] < lers[0] / 2, lers
    w = MemoryWorkload(3, 3, "z", "uniform", 0.001, 3000, 11, code="color")
    dets, obs = w.sample_block(Block(0, 0, 3000))
    chromo = int(np.any(baseline("chromobius").compile_for(w).decode_packed(dets) != obs, axis=1).sum())
    tess = int(np.any(baseline("tesseract:det-beam=5,det-orders=4").compile_for(w).decode_packed(dets) != obs,
                      axis=1).sum())
    assert tess <= chromo, (tess, chromo)


@pytest.mark.parametrize("code,noise", [("color", "si1000"), ("repetition", "uniform"), ("repetition", "si1000")])
def test_families_sample_under_both_noise_models(code, noise):
    w = MemoryWorkload(3, 3, "z", noise, 0.002, 2000, 1, code=code)
    dets, obs = w.sample_block(Block(0, 0, 2000))
    assert dets.shape == (2000, (w.num_detectors + 7) // 8) and dets.any()
    name = "chromobius" if code == "color" else "pymatching"
    pred = baseline(name).compile_for(w).decode_packed(dets)
    assert int(np.any(pred != obs, axis=1).sum()) < 0.1 * 2000


@pytest.mark.parametrize("code,distance,basis,words", [
    ("color", 4, "z", "odd distances of at least 3"), ("color", 2, "z", "odd distances"),
    ("repetition", 3, "x", "Z-basis memory"), ("hexagonal", 3, "z", "--code must be one of")])
def test_distances_and_bases_each_family_refuses(code, distance, basis, words):
    with pytest.raises(UsageError, match=words):
        MemoryWorkload(distance, distance, basis, "uniform", 0.001, 10, 0, code=code)


def test_grids_per_family():
    check_threshold_grid(SweepSpec((2, 4, 6), (0.01, 0.02), 10, code="repetition"))  # any distance
    with pytest.raises(UsageError, match="odd code distances of the surface code"):
        check_threshold_grid(SweepSpec((3, 4, 5), (0.004, 0.006), 10))
    with pytest.raises(UsageError, match="odd distances of at least 3"):
        SweepSpec((3, 4), (0.001,), 10, code="color")
    check_lambda_grid(SweepSpec((3, 5, 7), (0.001,), 10, code="color"))
    spec = SweepSpec((3, 5), (0.001,), 10, code="color")
    assert {w.code for w in spec.workloads()} == {"color"} and spec.to_json()["code"] == "color"
    assert "code" not in SweepSpec((3, 5), (0.001,), 10).to_json()


def test_code_with_a_circuit_is_refused(cli, tmp_path):
    c = tmp_path / "c.stim"
    c.write_text(str(memory_circuit(3, 3, "z", 0.001)))
    r = cli("qec", "run", "--code", "color", "--circuit", str(c), "--shots", "10", "--quiet",
            "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "its own code" in r.stderr


def test_threshold_command_takes_the_code(cli, tmp_path):
    r = cli("qec", "threshold", "--code", "color", "--distances", "3,4", "--p", "0.001,0.002,0.003",
            "--decoder", "chromobius", "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "odd distances" in r.stderr
