"""The soft-output contract ``qec.predecoder.weights`` (``adapters/weights.py``)."""

from __future__ import annotations

import json

import numpy as np

from adapters.reference_models import save
from adapters.weights import identity_weights_model, priors_of
from baselines.pymatching_decoder import PyMatchingDecoder
from tests.fixtures.cli import one_line
from verifier.qec.workload import MemoryWorkload


def test_priors_reproduce_pymatching_shot_for_shot(tmp_path):
    from adapters.onnx_decoder import OnnxDecoder

    w = MemoryWorkload(5, 5, "x", "uniform", 0.006, 1500, 4)
    model = save(identity_weights_model(priors_of(w), w.num_detectors), tmp_path / "priors.onnx")
    dec = OnnxDecoder.from_file(str(model))
    assert dec.contract == "qec.predecoder.weights"
    dec.check(w)
    dets, obs = w.sample_block(w.blocks()[0])
    got = dec.compile_for(w).decode_packed(dets)
    ref = PyMatchingDecoder().compile_for(w).decode_packed(dets)
    assert np.array_equal(got, ref) and np.any(ref != obs)  # equal, and not trivially so


def test_sharper_weights_change_the_decoding_and_bad_outputs_are_refused(cli, tmp_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 500, 1)
    pri = priors_of(w)
    wrong = save(identity_weights_model(pri[::-1].copy(), w.num_detectors), tmp_path / "wrong.onnx")
    args = ["--distance", "3", "--rounds", "3", "--p", "0.01", "--shots", "500", "--seed", "1", "--workers", "1",
            "--db", str(tmp_path / "s.duckdb")]
    r = cli("qec", "run", "--decoder", wrong, *args, "--json", "-", "-q")
    assert r.returncode == 0, r.stderr
    ref = cli("qec", "run", "--decoder", "pymatching", *args, "--json", "-", "-q")
    assert json.loads(r.stdout)["errors"] != json.loads(ref.stdout)["errors"]  # weights matter
    short = save(identity_weights_model(pri[:-1], w.num_detectors), tmp_path / "short.onnx")
    line = one_line(cli("qec", "run", "--decoder", short, *args), 2)
    assert "output" in line and str(len(pri)) in line
    over = save(identity_weights_model(np.full_like(pri, 1.5), w.num_detectors), tmp_path / "over.onnx")
    one_line(cli("qec", "run", "--decoder", over, *args), 4)


def test_the_mechanism_order_is_the_dems():
    from adapters.weights import mechanisms

    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 10, 0)
    mech = mechanisms(w.detector_error_model())
    errors = [i for i in w.detector_error_model().flattened() if i.type == "error"]
    assert len(mech) == len(errors) and all(p == e.args_copy()[0] for (p, _), e in zip(mech, errors))


def test_a_pre_decoders_finisher_is_named_by_metadata_or_flag(cli, tmp_path):
    """The identity pre-decoder with Tesseract as its finisher is Tesseract, shot for shot;
    the finisher is part of the fingerprint; a finisher that is no baseline is exit 2."""
    from adapters.reference_models import identity_predecoder_flat

    args = ["--distance", "3", "--rounds", "3", "--p", "0.01", "--shots", "400", "--seed", "3", "--workers", "1",
            "--db", str(tmp_path / "s.duckdb"), "--json", "-", "-q"]
    ident = save(identity_predecoder_flat(1), tmp_path / "ident.onnx")
    tagged = save(identity_predecoder_flat(1, metadata={"sov.finisher": "tesseract"}), tmp_path / "tagged.onnx")
    tess = json.loads(cli("qec", "run", "--decoder", "tesseract", *args).stdout)
    by_meta = json.loads(cli("qec", "run", "--decoder", tagged, *args).stdout)
    by_flag = json.loads(cli("qec", "run", "--decoder", ident, "--finisher", "tesseract", *args).stdout)
    plain = json.loads(cli("qec", "run", "--decoder", ident, *args).stdout)
    assert by_meta["errors"] == by_flag["errors"] == tess["errors"]
    assert by_flag["fingerprint"] != plain["fingerprint"]
    one_line(cli("qec", "run", "--decoder", ident, "--finisher", "nonsense", *args), 2)
    one_line(cli("qec", "run", "--decoder", "pymatching", "--finisher", "tesseract", *args), 2)
