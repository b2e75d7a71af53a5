"""The grid contract on vendor circuits and models: NVIDIA Ising Decoding's memory circuit
(MRX + MR rounds, no coordinates), its bare 3D CNN with a detector map built from Ising's
mapping rules, per-slice masks, effects limited to the DEM, and unmatchable residuals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.grid_geometry import analyse, geometry_for
from adapters.ising_layout import attach, ising_layout
from adapters.reference_models import save
from verifier.errors import IntegrityError, UsageError
from verifier.qec.recorded import RecordedWorkload
from verifier.qec.workload import CircuitWorkload, MemoryWorkload

from tests.fixtures.onnx_models import constant_grid_model

ISING = Path(__file__).parent / "data" / "ising"
CIRCUIT = ISING / "circuits" / "ising_d5_T5_X_simple.stim"
CIRCUIT_25P = ISING / "circuits" / "ising_d5_T5_X_25p.stim"
Z_LAST = slice(96, 108)  # Ising's memory X, d=5, T=5: the Z detectors of the last round
FINAL = slice(108, 120)  # the final data-measurement detectors


def _bin(path: Path, dtype) -> np.ndarray:
    """Ising's .bin files: two int32 (rows, columns), then the array."""
    raw = path.read_bytes()
    rows, cols = np.frombuffer(raw[:8], np.int32)
    return np.frombuffer(raw[8:], dtype).reshape(rows, cols)


def _recorded(tmp_path: Path, bundle: str, circuit: Path = CIRCUIT) -> tuple[RecordedWorkload, np.ndarray]:
    """Ising's samples_X.dets (observable appended as L0) split into b8 files."""
    import stim

    shots = stim.read_shot_data_file(path=str(ISING / bundle / "data_X" / "samples_X.dets"),
                                     format="dets", num_detectors=120, num_observables=1)
    stim.write_shot_data_file(data=shots[:, :120], path=str(tmp_path / "d.b8"), format="b8",
                              num_detectors=120)
    stim.write_shot_data_file(data=shots[:, 120:], path=str(tmp_path / "o.b8"), format="b8",
                              num_observables=1)
    w = RecordedWorkload.from_files(circuit, tmp_path / "d.b8", tmp_path / "o.b8")
    return w, shots.astype(np.uint8)


def _decode_all(compiled, w):
    from adapters.finisher import match_residual
    from verifier.qec.decoder import unpack_bits

    pre, res, pred = [], [], []
    for b in w.blocks():
        dets, _ = w.sample_block(b)
        ev = unpack_bits(dets, w.num_detectors)
        pre_l, residual, _ = compiled.residual(ev)
        pre.append(pre_l[:, 0])
        res.append(residual)
        pred.append(pre_l[:, 0] ^ match_residual(compiled.matching, np.ascontiguousarray(residual), ev, "m")[:, 0])
    return np.concatenate(pre), np.concatenate(res), np.concatenate(pred)


def test_ising_circuit_geometry_and_layout():
    """MRX and MR in one round, no QUBIT_COORDS: 25 data qubits, 24 ancillas, 5 rounds; the
    layout puts X stabilizers top-left, Z top-right, the Z mask off in slices 0 and 4."""
    import stim

    c = stim.Circuit.from_file(str(CIRCUIT))
    with pytest.raises(UsageError, match="QUBIT_COORDS"):
        analyse(c)  # no map: the default placement needs stim's coordinates
    lay = ising_layout(c)
    assert lay.basis == "x" and lay.mask_map == {"x": [1.0] * 5, "z": [0.0, 1.0, 1.0, 1.0, 0.0]}
    entries = lay.detector_map
    assert all(e is None for e in entries[FINAL]) and all(e is None for e in entries[Z_LAST])
    per_slice = {(ch, t): sum(1 for e in entries if e and e[0] == ch and e[1] == t)
                 for ch in (0, 1) for t in range(5)}
    assert per_slice == {**{(0, t): 12 for t in range(5)}, (1, 0): 0, (1, 1): 12, (1, 2): 12,
                         (1, 3): 12, (1, 4): 0}
    # detector 0 is X ancilla 25's round 0, on data qubits 0, 1, 5, 6: top-left cell (0, 0);
    # detector 24 is Z ancilla 37's round 1, on data qubits 0, 1: top-right cell (0, 1)
    assert entries[0] == [0, 0, 0, 0] and entries[24] == [1, 1, 0, 1]
    g = geometry_for(c, json.dumps(entries), mask_map_text=json.dumps(lay.mask_map))
    assert (g.distance, g.rounds, g.source) == (5, 5, "sov.detector_map")
    x = g.tensorize(np.zeros((1, 120), np.uint8))[0]
    assert np.all(x[3, 0] == 0) and np.all(x[3, 4] == 0) and np.array_equal(x[3, 1], x[3, 3])
    assert (x[2] > 0).sum() == 5 * 12 and (x[3, 2] == 1.0).sum() == 8 and (x[3, 2] == 0.5).sum() == 4
    assert g.logical_support == tuple((0, c) for c in range(5))  # Ising's X observable: row 0
    with pytest.raises(UsageError, match="sov.mask_map"):
        geometry_for(c, json.dumps(entries), mask_map_text='{"x": [1, 1]}')
    with pytest.raises(UsageError, match="not valid JSON"):
        geometry_for(c, json.dumps(entries), mask_map_text='{"x": [1')
    with pytest.raises(UsageError, match="sov.mask_map"):
        geometry_for(c, json.dumps(entries), mask_map_text='{"y": [1, 1, 1, 1, 1]}')


def test_a_model_without_a_map_on_isings_circuit_is_told_how_to_get_one(tmp_path):
    from adapters.onnx_decoder import OnnxDecoder

    dec = OnnxDecoder.from_file(save(constant_grid_model(-1.0), tmp_path / "bare.onnx"))
    with pytest.raises(UsageError, match=r"QUBIT_COORDS.*python -m adapters\.ising_layout"):
        dec.check(CircuitWorkload.from_file(CIRCUIT, shots=10, seed=0))


def test_effects_stay_inside_the_detector_error_model():
    """Ising's last round is noiseless: a predicted flip of an X measurement in round 4
    would flip final detectors that no error mechanism touches; restricted to the DEM's
    detectors it flips only its round-4 detector."""
    import stim

    from adapters.grid import dem_detectors

    c = stim.Circuit.from_file(str(CIRCUIT))
    lay = ising_layout(c)
    g = geometry_for(c, json.dumps(lay.detector_map), mask_map_text=json.dumps(lay.mask_map))
    w = CircuitWorkload.from_file(CIRCUIT, shots=1, seed=0)
    touched = dem_detectors(w.detector_error_model(), 120)
    assert not touched[FINAL].any() and touched[:108].all()
    r = g.restricted_to(touched)
    cell = ((2 * 5 + 4) * 5 + 0) * 5 + 0  # ch2 (X flag), slice 4, cell (0, 0): ancilla 25
    raw = set(g.effects[cell].indices.tolist())
    assert raw == {84, 108} and set(r.effects[cell].indices.tolist()) == {84}
    # data corrections are untouched: everything they flip is in the DEM
    assert (g.effects[:2 * 125] != r.effects[:2 * 125]).nnz == 0


def _measure_then_reset(circuit):
    """The same circuit with every MR written as M followed by R."""
    import stim

    out = stim.Circuit()
    for op in circuit.flattened():
        if op.name == "MR":
            out.append("M", op.targets_copy())
            out.append("R", op.targets_copy())
        else:
            out.append(op)
    return out


def _without_coordinates(circuit):
    import stim

    out = stim.Circuit()
    for op in circuit.flattened():
        if op.name == "QUBIT_COORDS":
            continue
        if op.name == "DETECTOR":
            out.append("DETECTOR", op.targets_copy())
        else:
            out.append(op)
    return out


@pytest.mark.parametrize("basis", ["x", "z"])
def test_measure_then_reset_and_no_coordinates_give_the_same_effects(basis):
    """M + R instead of MR, and a circuit stripped of every coordinate (placed by a detector
    map equal to the default placement), derive exactly the default effects."""
    c = MemoryWorkload(3, 3, basis, "uniform", 0.004, 1, 0).circuit()
    g = analyse(c)
    g_mr = analyse(_measure_then_reset(c))
    assert (g.effects != g_mr.effects).nnz == 0
    assert np.array_equal(g.input_cells, g_mr.input_cells)
    entries = [None] * c.num_detectors
    T, D = 3, 3
    for k, cell in zip(g.input_detectors, g.input_cells):
        ch, rest = divmod(int(cell), T * D * D)
        t, rest = divmod(rest, D * D)
        entries[int(k)] = [ch, t, *divmod(rest, D)]
    bare = _without_coordinates(c)
    # stim numbers data qubits in row order, so qubit order gives the same cells
    g_bare = geometry_for(bare, json.dumps(entries))
    assert (g.effects != g_bare.effects).nnz == 0
    assert np.array_equal(g.mask_cells, g_bare.mask_cells)


def _ising_model(tmp_path: Path, name: str, *, noop: bool = False) -> str:
    """A copy of Ising's bare Conv3d with Ising's layout as metadata (``noop``: the last
    layer's weights 0 and bias -10, Ising's own noop)."""
    import onnx
    from onnx import numpy_helper

    out = tmp_path / name
    attach(str(CIRCUIT), str(ISING / "sparse" / "bare_conv3d_d5_T5_X.onnx"), str(out))
    if noop:
        m = onnx.load(str(out))
        last = m.graph.node[-1]
        assert last.op_type == "Conv"
        for init in m.graph.initializer:
            if init.name in (last.input[1], last.input[2]):
                a = numpy_helper.to_array(init)
                fill = -10.0 if init.name == last.input[2] else 0.0
                init.CopyFrom(numpy_helper.from_array(np.full_like(a, fill), init.name))
        onnx.save(m, str(out))
    return str(out)


@pytest.mark.parametrize("circuit", [CIRCUIT, CIRCUIT_25P], ids=["simple", "25p"])
def test_noop_with_the_ising_map_is_exactly_pymatching(tmp_path, circuit):
    """A model that predicts nothing, placed with Ising's layout, gives PyMatching's
    predictions shot for shot on Ising's 10,000 recorded noop shots (36 errors with the
    circuit they were sampled from, as Ising's own tooling counted)."""
    from adapters.onnx_decoder import OnnxDecoder
    from baselines.pymatching_decoder import PyMatchingDecoder

    lay = ising_layout(__import__("stim").Circuit.from_file(str(circuit)))
    model = save(constant_grid_model(-10.0, metadata=lay.metadata()), tmp_path / "noop.onnx")
    w, shots = _recorded(tmp_path, "noop", circuit)
    dec = OnnxDecoder.from_file(model)
    dec.check(w)
    grid, pm = dec.compile_for(w), PyMatchingDecoder().compile_for(w)
    got, want = [], []
    for b in w.blocks():
        dets, _ = w.sample_block(b)
        got.append(grid.decode_packed(dets))
        want.append(pm.decode_packed(dets))
    got, want = np.concatenate(got), np.concatenate(want)
    assert np.array_equal(got, want)
    errors = int(((got[:, 0] & 1) != shots[:, 120]).sum())
    if circuit == CIRCUIT:
        recorded = _bin(ISING / "noop" / "data_X" / "pymatching_predictions.bin", np.int32)[:, 0]
        assert np.array_equal(got[:, 0] & 1, recorded.astype(np.uint8)) and errors == 36


def test_bare_noop_model_is_pymatching_shot_for_shot(tmp_path):
    """Ising's bare graph with its noop last layer gives the PyMatching predictions Ising
    recorded for the 2,000 sparse-bundle shots, shot for shot (7 errors)."""
    from adapters.onnx_decoder import OnnxDecoder

    w, shots = _recorded(tmp_path, "sparse")
    dec = OnnxDecoder.from_file(_ising_model(tmp_path, "noop.onnx", noop=True))
    dec.check(w)
    pre, res, pred = _decode_all(dec.compile_for(w), w)
    recorded = _bin(ISING / "sparse" / "data_X" / "pymatching_predictions.bin", np.int32)[:, 0]
    assert not pre.any() and np.array_equal(res, shots[:, :120])
    assert np.array_equal(pred, recorded.astype(np.uint8)) and int((pred != shots[:, 120]).sum()) == 7


def test_sparse_bare_model_from_the_cli(tmp_path, cli):
    """The user's path: ``sov qec run`` on the copy with Ising's layout, Ising's circuit and
    the recorded shots gives Ising's 26 pipeline errors in 2,000 shots."""
    model = _ising_model(tmp_path, "sparse.onnx")
    _recorded(tmp_path, "sparse")
    r = cli("qec", "run", "--decoder", model, "--circuit", str(CIRCUIT), "--dets",
            str(tmp_path / "d.b8"), "--obs", str(tmp_path / "o.b8"), "--workers", "1",
            "--db", str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["shots"] == 2000 and j["errors"] == 26


def test_sparse_bare_model_gives_isings_pipeline_shot_for_shot(tmp_path):
    """Ising's bare sparse Conv3d with a map from Ising's layout rules: the final
    predictions equal Ising's pipeline (pre_L XOR PyMatching(residual)) on every one of
    the 2,000 shots (26 errors), pre_L equals Ising's on every shot, and the residual
    equals Ising's on every detector but the Z detectors of the last round, where Ising's
    pipeline drops the recorded events (they are not model input) and sov keeps them."""
    import pymatching
    import stim

    from adapters.onnx_decoder import OnnxDecoder

    w, shots = _recorded(tmp_path, "sparse")
    dec = OnnxDecoder.from_file(_ising_model(tmp_path, "sparse.onnx"))
    dec.check(w)
    pre, res, pred = _decode_all(dec.compile_for(w), w)
    ising = _bin(ISING / "sparse" / "data_X" / "predecoder_outputs.bin", np.uint8)
    dem = stim.Circuit.from_file(str(CIRCUIT)).detector_error_model(decompose_errors=True)
    want = ising[:, 0] ^ pymatching.Matching.from_detector_error_model(dem).decode_batch(ising[:, 1:])[:, 0]
    obs = shots[:, 120]
    assert int((want != obs).sum()) == 26
    assert np.array_equal(pred, want) and int((pred != obs).sum()) == 26
    assert np.array_equal(pre, ising[:, 0])
    theirs = ising[:, 1:]
    outside = np.ones(120, bool)
    outside[Z_LAST] = False
    assert np.array_equal(res[:, outside], theirs[:, outside])
    # on the last Z round the two differ by exactly the recorded events
    assert np.array_equal(res[:, Z_LAST] ^ theirs[:, Z_LAST], shots[:, Z_LAST])
    assert (res[:, Z_LAST] != theirs[:, Z_LAST]).any()


def _random_grid_model(seed: int = 7):
    """A Conv3d 4 -> 4 (3x3x3, padding 1) with random weights: float32 [batch, 4, T, D, D]."""
    from onnx import TensorProto, helper, numpy_helper

    from adapters.grid_geometry import CHANNELS, CONTRACT
    from adapters.reference_models import _finish

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, (CHANNELS, CHANNELS, 3, 3, 3)).astype(np.float32)
    b = rng.normal(-0.5, 0.5, CHANNELS).astype(np.float32)
    dims = ["batch", CHANNELS, "T", "D", "D"]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["logits"], kernel_shape=[3, 3, 3], pads=[1] * 6)],
        "random_grid", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, dims)],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return _finish(graph, {"sov.contract": CONTRACT})


def _one_fault_circuit(tmp_path: Path) -> Path:
    """stim's d=3 memory-Z circuit whose only noise is an X error on the centre data qubit
    before round 1: its DEM is one edge between two Z detectors, with no boundary, so a
    residual with one event on them cannot be matched."""
    import stim

    c = MemoryWorkload(3, 3, "z", "uniform", 0.0, 1, 0).circuit().flattened()
    qc = c.get_final_qubit_coordinates()
    centre = next(q for q, v in qc.items() if tuple(v[:2]) == (3.0, 3.0))
    text = str(c).splitlines()
    first_mr = next(i for i, s in enumerate(text) if s.startswith("MR"))
    text.insert(first_mr + 1, f"X_ERROR(0.2) {centre}")
    f = tmp_path / "one_fault.stim"
    f.write_text("\n".join(text) + "\n")
    assert stim.Circuit.from_file(str(f)).detector_error_model().num_errors == 1
    return f


def test_unmatchable_residual_is_an_integrity_failure(tmp_path, cli):
    from adapters.onnx_decoder import OnnxDecoder

    circuit = _one_fault_circuit(tmp_path)
    model = save(_random_grid_model(), tmp_path / "random.onnx")
    w = CircuitWorkload.from_file(circuit, shots=500, seed=1)
    dec = OnnxDecoder.from_file(model)
    dec.check(w)
    dets, _ = w.sample_block(w.blocks()[0])
    with pytest.raises(IntegrityError, match=r"random\.onnx: PyMatching cannot match the residual of \d+ of 500 shots"):
        dec.compile_for(w).decode_packed(dets)
    r = cli("qec", "run", "--decoder", model, "--circuit", str(circuit), "--shots", "500",
            "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 4, r.stderr
    assert "random.onnx" in r.stderr and "cannot match the residual" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_random_model_on_isings_circuit_is_matchable(tmp_path):
    """The issue's failure: a random-weight model's predicted last-round flips put events
    on Ising's final detectors (in no error mechanism) and PyMatching could not match most
    residuals. With effects limited to the DEM every residual matches."""
    import onnx

    from adapters.onnx_decoder import OnnxDecoder
    from verifier.qec.decoder import unpack_bits

    model = _random_grid_model()
    for key, value in ising_layout(__import__("stim").Circuit.from_file(str(CIRCUIT))).metadata().items():
        if key != "sov.contract":
            model.metadata_props.add(key=key, value=value)
    path = tmp_path / "random.onnx"
    onnx.save(model, str(path))
    w, _ = _recorded(tmp_path, "sparse")
    dec = OnnxDecoder.from_file(str(path))
    dec.check(w)
    compiled = dec.compile_for(w)
    dets, _ = w.sample_block(w.blocks()[0])
    ev = unpack_bits(dets, 120)
    corr = compiled.runner.run(compiled.geometry.tensorize(ev)).reshape(len(ev), -1) > 0
    lay = ising_layout(__import__("stim").Circuit.from_file(str(CIRCUIT)))
    raw = geometry_for(w._circuit, json.dumps(lay.detector_map), mask_map_text=json.dumps(lay.mask_map))
    unrestricted = (ev ^ raw.predicted(corr)[1])[:, FINAL].any(axis=1).sum()
    assert unrestricted > len(ev) // 4
    assert compiled.decode_packed(dets).shape == (len(ev), 1)  # every residual matched


def test_ising_memory_z_circuit_layout_and_noop(tmp_path):
    """Ising's memory-Z circuit: the layout finds the Z basis; a noop model placed with it
    is PyMatching on sampled shots."""
    import stim

    from adapters.onnx_decoder import OnnxDecoder
    from baselines.pymatching_decoder import PyMatchingDecoder

    path = ISING / "circuits" / "ising_d5_T5_Z_simple.stim"
    lay = ising_layout(stim.Circuit.from_file(str(path)))
    assert lay.basis == "z" and lay.mask_map == {"z": [1.0] * 5, "x": [0.0, 1.0, 1.0, 1.0, 0.0]}
    model = save(constant_grid_model(-10.0, metadata=lay.metadata()), tmp_path / "noop.onnx")
    w = CircuitWorkload.from_file(path, shots=4000, seed=5)
    dec = OnnxDecoder.from_file(model)
    dec.check(w)
    dets, _ = w.sample_block(w.blocks()[0])
    assert np.array_equal(dec.compile_for(w).decode_packed(dets),
                          PyMatchingDecoder().compile_for(w).decode_packed(dets))


def test_shots_that_do_not_fit_the_dem_are_not_blamed_on_the_model(tmp_path):
    """Shots with events the DEM cannot explain even before the model acts (here: shots of
    the fully noisy circuit replayed against the one-fault circuit) are exit 2, not 4."""
    from adapters.onnx_decoder import OnnxDecoder

    w = CircuitWorkload.from_file(_one_fault_circuit(tmp_path), shots=200, seed=1)
    dec = OnnxDecoder.from_file(save(constant_grid_model(-1.0), tmp_path / "noop.onnx"))
    dec.check(w)
    noisy = MemoryWorkload(3, 3, "z", "uniform", 0.02, 200, 3)
    dets, _ = noisy.sample_block(noisy.blocks()[0])
    with pytest.raises(UsageError, match=r"detection events of \d+ of 200 shots cannot be matched"):
        dec.compile_for(w).decode_packed(dets)
