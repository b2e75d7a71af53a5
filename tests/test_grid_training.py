"""Training labels (no torch needed) and the training script (skipped without torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from verifier.qec.workload import MemoryWorkload


@pytest.mark.parametrize("noise", ["uniform", "si1000"])
def test_perfect_labels_leave_a_sparse_residual_that_matching_finishes(noise):
    from adapters.training.labels import label_map, sample
    from baselines.pymatching_decoder import build_matching

    c = MemoryWorkload(5, 5, "z", noise, 0.004, 1, 0).circuit()
    lm = label_map(c)
    assert lm.labeled > 10 * lm.unlabeled
    x, y, ev, obs = sample(lm, 20000, 5)
    assert x.shape == y.shape == (20000, 4, 5, 5, 5)
    # labels live only on cells that exist: measurement flags only where a stabilizer sits
    g = lm.geometry
    assert not y[:, 2][:, :, g.x_stabilizers == 0].any() and not y[:, 3][:, :, g.z_stabilizers == 0].any()
    pre, pred = g.predicted(y.reshape(len(y), -1) > 0)
    residual = ev ^ pred
    assert residual.mean() < 0.25 * ev.mean()
    m = build_matching(c)
    pm = (m.decode_batch(ev) != obs).any(axis=1).sum()
    oracle = ((pre ^ m.decode_batch(residual)) != obs).any(axis=1).sum()
    assert oracle < pm


def test_training_script_exports_a_conforming_model(tmp_path):
    pytest.importorskip("torch")
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.training.train_grid import main

    out = tmp_path / "m.onnx"
    assert main(["--noise", "si1000", "--distances", "3", "--p", "0.004", "--steps", "3", "--batch", "16",
                 "--hidden", "4", "--layers", "2", "--eval-shots", "0", "--max-ratio", "0",
                 "--out", str(out)]) == 0
    dec = OnnxDecoder.from_file(str(out))
    md = dec.info.metadata
    assert md["sov.contract"] == "qec.predecoder.grid"
    assert md["sov.training.noise"] == "si1000" and json.loads(md["sov.training.distances"]) == [3]
    for key in ("sov.description", "sov.training.seed", "sov.training.shots", "sov.training.code_version"):
        assert md[key]
    assert dec.info.opset == 18
    for d in (3, 5):  # symbolic batch, T and D: one file for every distance
        w = MemoryWorkload(d, d + 1, "x", "si1000", 0.004, 500, 1)
        dec.check(w)
        dets, _ = w.sample_block(w.blocks()[0])
        assert dec.compile_for(w).decode_packed(dets).shape == (500, 1)


def test_calibration_shifts_the_head_bias_and_records_it(tmp_path):
    pytest.importorskip("torch")
    import onnx
    from onnx import numpy_helper

    from adapters.training.calibrate import calibrate
    from adapters.training.train_grid import main

    out = tmp_path / "m.onnx"
    assert main(["--distances", "3", "--p", "0.004", "--steps", "2", "--batch", "16", "--hidden", "4",
                 "--layers", "2", "--eval-shots", "0", "--max-ratio", "0", "--out", str(out)]) == 0

    def head_bias():
        m = onnx.load(str(out))
        head = [n for n in m.graph.node if n.op_type == "Conv"][-1]
        return numpy_helper.to_array({t.name: t for t in m.graph.initializer}[head.input[2]])

    before = head_bias()
    r = calibrate(str(out), distance=3, p=0.01, shots=1024, max_ratio=1.0)
    assert np.allclose(head_bias(), before - r["decision_offset"])
    md = {e.key: e.value for e in onnx.load(str(out)).metadata_props}
    assert json.loads(md["sov.training.calibration"])["decision_offset"] == r["decision_offset"]
    assert "decision offset" in md["sov.description"]
    last = r["validation"]["table"][-1]
    assert last["errors"] <= r["validation"]["pymatching_errors"] or r["decision_offset"] == 6.0
