"""A corpus of hostile and broken models, built here with onnx.helper, each run through the
real CLI (``sov qec run``): every one must end with its documented exit code and exactly one
clear line on stderr -- never a traceback, a hang, or a killed sov.

The table of cases is mirrored in docs/SECURITY.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from adapters.reference_models import identity_predecoder_flat, save
from tests.fixtures.cli import one_line
from tests.fixtures.onnx_models import constant_decoder
from tests.fixtures.stores import read_rows

D, O = 24, 1  # rotated memory z, d = 3, rounds = 3
W = ["--distance", "3", "--rounds", "3", "--basis", "z", "--p", "0.01", "--shots", "300",
     "--seed", "3", "--workers", "1", "--quiet"]


def _model(nodes, inputs, outputs, *, inits=(), contract="qec.decoder", opsets=(("", 18),), metadata=None):
    g = helper.make_graph(nodes, "hostile", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                          producer_name="hostile-corpus")
    m.ir_version = 9
    if contract:
        m.metadata_props.add(key="sov.contract", value=contract)
    for k, v in (metadata or {}).items():
        m.metadata_props.add(key=k, value=v)
    return m


def _in(dtype=TensorProto.UINT8, dims=("b", D), name="dets"):
    return helper.make_tensor_value_info(name, dtype, list(dims))


def _out(dtype=TensorProto.UINT8, dims=("b", O), name="out"):
    return helper.make_tensor_value_info(name, dtype, list(dims))


def _i64(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


def _zeros_like_batch(out: str, dtype=np.uint8, width: int = O) -> list:
    """Nodes computing zeros of shape [batch, width] from ``dets``."""
    return [helper.make_node("Shape", ["dets"], [out + "_b"], start=0, end=1),
            helper.make_node("Concat", [out + "_b", out + "_w"], [out + "_s"], axis=0),
            helper.make_node("ConstantOfShape", [out + "_s"], [out],
                             value=numpy_helper.from_array(np.array([0], dtype=dtype)))]


def _float_logits(expr_nodes, last: str, inits=()):
    """qec.decoder with float32 logits computed by ``expr_nodes`` from dets (as float 'f')."""
    nodes = [helper.make_node("Cast", ["dets"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["f", "ax1"], ["s"], keepdims=1), *expr_nodes]
    nodes.append(helper.make_node("Identity", [last], ["logits"]))
    return _model(nodes, [_in()], [_out(TensorProto.FLOAT, name="logits")],
                  inits=[_i64("ax1", [1]), *inits])


# -- the corpus ------------------------------------------------------------------------------
# each builder writes its model under tmp and returns the path given to --decoder

def junk_bytes(tmp: Path) -> str:
    (tmp / "junk.onnx").write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8)))
    return str(tmp / "junk.onnx")


def truncated(tmp: Path) -> str:
    data = identity_predecoder_flat(1).SerializeToString()
    (tmp / "truncated.onnx").write_bytes(data[: len(data) // 2])
    return str(tmp / "truncated.onnx")


def empty_file(tmp: Path) -> str:
    (tmp / "empty.onnx").write_bytes(b"")
    return str(tmp / "empty.onnx")


def a_directory(tmp: Path) -> str:
    (tmp / "dir.onnx").mkdir()
    return str(tmp / "dir.onnx")


def missing_file(tmp: Path) -> str:
    return str(tmp / "absent.onnx")


def checker_failure(tmp: Path) -> str:  # a node reads a tensor nobody defines
    m = _model([helper.make_node("Identity", ["ghost"], ["out"])], [_in()], [_out()])
    return save(m, tmp / "ghost.onnx")


def no_contract(tmp: Path) -> str:
    m = _model([helper.make_node("Identity", ["dets"], ["out"])], [_in()], [_out(dims=("b", D))], contract=None)
    return save(m, tmp / "nocontract.onnx")


def unknown_contract(tmp: Path) -> str:
    m = constant_decoder(D, O, flip=False)
    m.metadata_props[0].value = "qec.magic"
    return save(m, tmp / "magic.onnx")


def calibration_contract(tmp: Path) -> str:
    m = constant_decoder(D, O, flip=False)
    m.metadata_props[0].value = "cal.fit"
    return save(m, tmp / "calfit.onnx")


def wrong_contract_flag(tmp: Path) -> str:  # a flat pre-decoder declared as a full decoder
    m = identity_predecoder_flat(1)
    m.metadata_props[0].value = "qec.decoder"
    m.graph.output[0].type.tensor_type.shape.dim[1].dim_value = D + O
    return save(m, tmp / "flat-as-full.onnx")


def wrong_detector_count(tmp: Path) -> str:
    return save(constant_decoder(99, O, flip=False), tmp / "d99.onnx")


def wrong_input_dtype(tmp: Path) -> str:
    m = _model([helper.make_node("Cast", ["dets"], ["c"], to=TensorProto.UINT8),
                helper.make_node("Slice", ["c", "z", "one", "ax1"], ["out"])],
               [_in(TensorProto.FLOAT)], [_out()], inits=[_i64("z", [0]), _i64("one", [1]), _i64("ax1", [1])])
    return save(m, tmp / "float-input.onnx")


def two_inputs(tmp: Path) -> str:
    m = _model([helper.make_node("Slice", ["dets", "z", "one", "ax1"], ["out"])],
               [_in(), _in(name="extra")], [_out()], inits=[_i64("z", [0]), _i64("one", [1]), _i64("ax1", [1])])
    return save(m, tmp / "two-inputs.onnx")


def wrong_output_dtype(tmp: Path) -> str:
    m = _model([helper.make_node("Cast", ["dets"], ["c"], to=TensorProto.INT64),
                helper.make_node("Slice", ["c", "z", "one", "ax1"], ["out"])],
               [_in()], [_out(TensorProto.INT64)], inits=[_i64("z", [0]), _i64("one", [1]), _i64("ax1", [1])])
    return save(m, tmp / "int64-output.onnx")


def sequence_output(tmp: Path) -> str:
    out = helper.make_tensor_sequence_value_info("out", TensorProto.UINT8, None)
    m = _model([helper.make_node("SequenceConstruct", ["dets"], ["out"])], [_in()], [out])
    return save(m, tmp / "sequence-output.onnx")


def nan_outputs(tmp: Path) -> str:
    m = _float_logits([helper.make_node("Div", ["s", "zero"], ["q"]),
                       helper.make_node("Sub", ["q", "q"], ["nan"])], "nan",
                      inits=[helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
    return save(m, tmp / "nan.onnx")


def inf_outputs(tmp: Path) -> str:
    m = _float_logits([helper.make_node("Add", ["s", "one"], ["s1"]),
                       helper.make_node("Div", ["s1", "zero"], ["inf"])], "inf",
                      inits=[helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
                             helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])
    return save(m, tmp / "inf.onnx")


def non_binary_output(tmp: Path) -> str:
    nodes = _zeros_like_batch("zz") + [helper.make_node("Add", ["zz", "seven"], ["out"])]
    m = _model(nodes, [_in()], [_out()], inits=[_i64("zz_w", [O]),
                                                helper.make_tensor("seven", TensorProto.UINT8, [], [7])])
    return save(m, tmp / "seven.onnx")


def wrong_runtime_width(tmp: Path) -> str:  # declares [b, O] loosely, returns [b, 3]
    nodes = _zeros_like_batch("out")
    m = _model(nodes, [_in()], [_out(dims=("b", "w"))], inits=[_i64("out_w", [3])])
    return save(m, tmp / "width3.onnx")


def wrong_runtime_rows(tmp: Path) -> str:  # returns one row whatever the batch
    m = _model([helper.make_node("Slice", ["dets", "z", "one", "ax1"], ["col"]),
                helper.make_node("Slice", ["col", "z", "one", "ax0"], ["out"])],
               [_in()], [_out(dims=("b", O))],
               inits=[_i64("z", [0]), _i64("one", [1]), _i64("ax1", [1]), _i64("ax0", [0])])
    return save(m, tmp / "onerow.onnx")


def custom_domain(tmp: Path) -> str:
    m = _model([helper.make_node("Evil", ["dets"], ["out"], domain="com.vendor.secret")], [_in()], [_out()],
               opsets=(("", 18), ("com.vendor.secret", 1)))
    return save(m, tmp / "evil.onnx")


def custom_opset_import(tmp: Path) -> str:  # imports a custom domain even if unused
    m = _model([helper.make_node("Slice", ["dets", "z", "one", "ax1"], ["out"])], [_in()], [_out()],
               inits=[_i64("z", [0]), _i64("one", [1]), _i64("ax1", [1])],
               opsets=(("", 18), ("com.microsoft", 1)))
    return save(m, tmp / "msdomain.onnx")


def _external_model(tmp: Path, location: str, name: str) -> str:
    t = helper.make_tensor("w", TensorProto.UINT8, [1, O], [0] * O)
    t.ClearField("int32_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    nodes = _zeros_like_batch("zz") + [helper.make_node("Add", ["zz", "w"], ["out"])]
    m = _model(nodes, [_in()], [_out()], inits=[t, _i64("zz_w", [O])])
    (tmp / "models").mkdir(exist_ok=True)
    onnx.save(m, tmp / "models" / name)
    return str(tmp / "models" / name)


def external_parent_dir(tmp: Path) -> str:
    (tmp / "secret.bin").write_bytes(b"\0" * 16)
    return _external_model(tmp, "../secret.bin", "ext-dotdot.onnx")


def external_absolute(tmp: Path) -> str:
    (tmp / "secret.bin").write_bytes(b"\0" * 16)
    return _external_model(tmp, str(tmp / "secret.bin"), "ext-abs.onnx")


def external_symlink(tmp: Path) -> str:
    (tmp / "secret.bin").write_bytes(b"\0" * 16)
    (tmp / "models").mkdir(exist_ok=True)
    os.symlink(tmp / "secret.bin", tmp / "models" / "weights.bin")
    return _external_model(tmp, "weights.bin", "ext-link.onnx")


def external_missing(tmp: Path) -> str:
    return _external_model(tmp, "nowhere.bin", "ext-missing.onnx")


def absurd_dimensions(tmp: Path) -> str:
    m = _model([helper.make_node("Slice", ["dets", "z", "one", "ax1"], ["out"])],
               [_in(dims=(10**6, 10**7))], [_out()],
               inits=[_i64("z", [0]), _i64("one", [1]), _i64("ax1", [1])])
    return save(m, tmp / "absurd.onnx")


def huge_declared_initializer(tmp: Path) -> str:  # 4 TB declared, a few bytes stored
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    nodes = _zeros_like_batch("out")
    m = _model(nodes, [_in()], [_out()], inits=[t, _i64("out_w", [O])])
    return save(m, tmp / "huge-init.onnx")


def big_real_initializer(tmp: Path) -> str:  # 4 MiB of real weights; the test sets a 1 MiB limit
    t = numpy_helper.from_array(np.zeros((1024, 1024), np.float32), "w")
    nodes = _zeros_like_batch("out") + [helper.make_node("ReduceSum", ["w"], ["unused"], keepdims=0)]
    m = _model(nodes, [_in()], [_out()], inits=[t, _i64("out_w", [O])])
    return save(m, tmp / "big-init.onnx")


def slow_loop(tmp: Path) -> str:
    """A Loop with 10^15 iterations whose state depends on the input (so nothing folds)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "one_f"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [])],
        initializer=[helper.make_tensor("one_f", TensorProto.FLOAT, [], [1.0])])
    nodes = [helper.make_node("Cast", ["dets"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["f"], ["v0"], keepdims=0),
             helper.make_node("Loop", ["trips", "yes", "v0"], ["v"], body=body),
             helper.make_node("Mul", ["v", "zero_f"], ["vz"]),
             helper.make_node("Cast", ["dets"], ["fd"], to=TensorProto.FLOAT),
             helper.make_node("Slice", ["fd", "z", "one", "ax1"], ["col"]),
             helper.make_node("Mul", ["col", "zero_f"], ["zc"]),
             helper.make_node("Sub", ["zc", "one_n"], ["neg"]),
             helper.make_node("Add", ["neg", "vz"], ["logits"])]
    inits = [helper.make_tensor("trips", TensorProto.INT64, [], [10**15]),
             helper.make_tensor("yes", TensorProto.BOOL, [], [True]),
             helper.make_tensor("zero_f", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("one_n", TensorProto.FLOAT, [], [1.0]),
             _i64("z", [0]), _i64("one", [1]), _i64("ax1", [1])]
    m = _model(nodes, [_in()], [_out(TensorProto.FLOAT, name="logits")], inits=inits)
    return save(m, tmp / "slow-loop.onnx")


def memory_bomb(tmp: Path) -> str:
    """ConstantOfShape to [batch, 2**20] float32 at run time: 1.2 GB for 300 shots, shape
    computed from the input so that no static check can see it."""
    nodes = [helper.make_node("Shape", ["dets"], ["b"], start=0, end=1),
             helper.make_node("Concat", ["b", "wide"], ["shape"], axis=0),
             helper.make_node("ConstantOfShape", ["shape"], ["big"],
                              value=numpy_helper.from_array(np.array([1.0], np.float32))),
             helper.make_node("ReduceMax", ["big", "ax1"], ["m"], keepdims=1),
             helper.make_node("Sub", ["m", "two"], ["logits"])]
    inits = [_i64("wide", [2**20]), _i64("ax1", [1]), helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])]
    m = _model(nodes, [_in()], [_out(TensorProto.FLOAT, name="logits")], inits=inits)
    return save(m, tmp / "memory-bomb.onnx")


# name, builder, exit code, words the one stderr line must contain, extra env
CORPUS = [
    ("junk bytes", junk_bytes, 4, ["junk.onnx", "not a parsable ONNX model"], {}),
    ("truncated file", truncated, 4, ["truncated.onnx"], {}),
    ("empty file", empty_file, 4, ["empty"], {}),
    ("a directory", a_directory, 2, ["directory"], {}),
    ("missing file", missing_file, 2, ["not found"], {}),
    ("checker failure", checker_failure, 4, ["ONNX checker"], {}),
    ("no contract", no_contract, 2, ["names no contract", "qec.decoder"], {}),
    ("unknown contract", unknown_contract, 2, ["unknown contract", "qec.magic"], {}),
    ("calibration contract to a QEC command", calibration_contract, 2, ["cal.fit"], {}),
    ("flat pre-decoder declared a full decoder", wrong_contract_flag, 2, ["expected", "found"], {}),
    ("wrong detector count", wrong_detector_count, 2, ["expected", "found", "99"], {}),
    ("wrong input dtype", wrong_input_dtype, 2, ["dtype", "float32"], {}),
    ("two inputs", two_inputs, 2, ["number of inputs"], {}),
    ("wrong output dtype", wrong_output_dtype, 2, ["dtype", "int64"], {}),
    ("sequence instead of a tensor", sequence_output, 2, ["dtype", "non-tensor"], {}),
    ("NaN outputs", nan_outputs, 4, ["NaN"], {}),
    ("Inf outputs", inf_outputs, 4, ["Inf"], {}),
    ("uint8 output other than 0/1", non_binary_output, 4, ["other than 0 and 1"], {}),
    ("output width differs at run time", wrong_runtime_width, 2, ["output shape"], {}),
    ("output rows differ at run time", wrong_runtime_rows, 2, ["rows"], {}),
    ("custom operator domain", custom_domain, 4, ["com.vendor.secret", "non-standard"], {}),
    ("custom domain imported", custom_opset_import, 4, ["com.microsoft"], {}),
    ("external data ../", external_parent_dir, 4, ["outside the model's folder"], {}),
    ("external data absolute path", external_absolute, 4, ["outside the model's folder"], {}),
    ("external data via symlink", external_symlink, 4, ["outside the model's folder"], {}),
    ("external data missing", external_missing, 4, ["missing"], {}),
    ("absurd declared dimensions", absurd_dimensions, 4, ["declares dimensions"], {}),
    ("huge declared initializer", huge_declared_initializer, 4, ["MiB", "SOV_MAX_TENSOR_MB"], {}),
    ("initializer over the size limit", big_real_initializer, 4, ["SOV_MAX_TENSOR_MB"], {"SOV_MAX_TENSOR_MB": "1"}),
    ("very slow batch (Loop 1e15)", slow_loop, 2, ["took longer than", "SOV_BATCH_TIMEOUT_S", "--batch-size"],
     {"SOV_BATCH_TIMEOUT_S": "3"}),
    ("memory bomb at run time", memory_bomb, 4, ["memory", "SOV_SANDBOX_MEMORY_MB"],
     {"SOV_SANDBOX_MEMORY_MB": "768"}),
]


def _one_line(r, code: int) -> str:
    return one_line(r, code, prefix="sov: error: ")


@pytest.mark.parametrize("name,build,code,words,env", CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_model_gets_its_exit_code_and_one_line(cli, tmp_path, name, build, code, words, env):
    model = build(tmp_path)
    db = tmp_path / "s.duckdb"
    t0 = time.monotonic()
    r = cli("qec", "run", "--decoder", model, *W, "--db", str(db), env=env)
    took = time.monotonic() - t0
    line = _one_line(r, code)
    for w in words:
        assert w.lower() in line.lower(), (w, line)
    if "SOV_BATCH_TIMEOUT_S" in env:
        assert took < 60, took  # killed at the limit, not hung
    if db.exists() and code == 4:
        rows = read_rows(db, "SELECT status, exit_code FROM runs")
        assert rows and all(s == "integrity" and c == 4 for s, c in rows), rows
        assert read_rows(db, "SELECT count(*) FROM results")[0][0] == 0


def test_hostile_models_refused_by_models_inspect(cli, tmp_path):
    """The parent-side checks also answer ``sov models inspect`` (no session is created)."""
    for build in (custom_domain, external_symlink, absurd_dimensions, junk_bytes):
        r = cli("models", "inspect", build(tmp_path))
        _one_line(r, 4)


def test_memory_bomb_is_the_sandbox_limit(tmp_path):
    """Without the address-space limit the same model runs to the end (1.2 GB fits this
    machine); with it, the allocation fails inside the child and the parent raises exit 4."""
    from adapters.runtime import RuntimeOptions
    from adapters.sandbox import SandboxedSession
    from verifier.errors import IntegrityError

    path = memory_bomb(tmp_path)
    x = np.zeros((300, D), np.uint8)
    with SandboxedSession(path, RuntimeOptions(), memory_bytes=None) as s:
        y = s.run(None, {"dets": x})[0]
        assert y.shape == (300, 1) and np.all(y == -1.0)
    with SandboxedSession(path, RuntimeOptions(), memory_bytes=768 << 20) as s:
        with pytest.raises(IntegrityError, match="memory"):
            s.run(None, {"dets": x})


def test_external_data_inside_the_folder_is_accepted(cli, tmp_path):
    """The control for the external-data cases: weights next to the model are fine, from any
    working directory (the sandbox loads such a model by path)."""
    w = numpy_helper.from_array(np.zeros((1, O), np.uint8), "w")
    nodes = _zeros_like_batch("zz") + [helper.make_node("Add", ["zz", "w"], ["out"])]
    m = _model(nodes, [_in()], [_out()], inits=[w, _i64("zz_w", [O])])
    (tmp_path / "vendor").mkdir()
    onnx.save(m, tmp_path / "vendor" / "ok.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="ok.weights", size_threshold=0)
    (tmp_path / "elsewhere").mkdir()
    r = cli("qec", "run", "--decoder", str(tmp_path / "vendor" / "ok.onnx"), *W, "--db",
            str(tmp_path / "s.duckdb"), cwd=tmp_path / "elsewhere")
    assert r.returncode == 0, r.stderr
