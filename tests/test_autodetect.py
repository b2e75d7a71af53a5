"""Vendor exports without flags: Ising-Decoding's ONNX export is ``qec.predecoder.flat``
from its tensors alone; a bare grid model is never guessed; ``sov models inspect`` shows
dtype and shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from adapters.contracts import QEC_CONTRACTS, CAL_CONTRACTS, recognized_contract, resolve_contract
from adapters.onnx_model import inspect_model
from adapters.reference_models import save
from verifier.errors import UsageError

ISING = Path(__file__).resolve().parent / "data" / "ising"
EXPORT = ISING / "noop" / "predecoder_memory_d5_T5_X.onnx"
BARE = ISING / "sparse" / "bare_conv3d_d5_T5_X.onnx"


def flat_model(tmp: Path, *, d_in=24, d_out=25, names=("dets", "L_and_residual_dets"),
               dtype=TensorProto.UINT8, metadata=None) -> Path:
    """``out = concat(zeros[batch, 1], dets)`` with the given declared tensors."""
    nodes = [helper.make_node("Slice", ["dets", "zero", "one", "one"], ["col"]),
             helper.make_node("Sub", ["col", "col"], ["head"]),
             helper.make_node("Concat", ["head", "dets"], ["cat"], axis=1),
             helper.make_node("Identity", ["cat"], [names[1]])]
    nodes[0].input[0] = names[0]
    nodes[2].input[1] = names[0]
    inits = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("zero", 0), ("one", 1))]
    g = helper.make_graph(nodes, "flat", [helper.make_tensor_value_info(names[0], dtype, ["batch", d_in])],
                          [helper.make_tensor_value_info(names[1], dtype, ["batch", d_out])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    for k, v in (metadata or {}).items():
        m.metadata_props.add(key=k, value=v)
    name = f"flat_{d_in}_{d_out}_{names[0]}_{dtype}_{len(metadata or {})}.onnx"
    return Path(save(m, tmp / name))


def test_isings_export_is_the_flat_predecoder_without_a_flag():
    info = inspect_model(EXPORT)
    assert info.metadata == {}  # nothing tells sov the contract but the tensors
    assert recognized_contract(info) == "qec.predecoder.flat"
    assert resolve_contract(info, None, family=QEC_CONTRACTS) == "qec.predecoder.flat"
    assert resolve_contract(info, "qec.decoder", family=QEC_CONTRACTS) == "qec.decoder"  # the flag wins
    with pytest.raises(UsageError) as e:
        resolve_contract(info, None, family=CAL_CONTRACTS)
    assert "qec.predecoder.flat" in str(e.value) and "cal.fit" in str(e.value)


@pytest.mark.parametrize("kwargs, found", [
    ({}, "qec.predecoder.flat"),
    ({"d_in": "num_detectors", "d_out": "width"}, "qec.predecoder.flat"),  # symbolic: not refuted
    ({"d_out": 26}, None),  # 2 + D: not Ising's layout
    ({"d_out": 24}, None),
    ({"names": ("syndrome", "L_and_residual_dets")}, None),
    ({"names": ("dets", "residual")}, None),
    ({"dtype": TensorProto.FLOAT}, None),
])
def test_only_isings_exact_layout_is_recognized(tmp_path, kwargs, found):
    info = inspect_model(flat_model(tmp_path, **kwargs))
    assert recognized_contract(info) == found
    if found is None:
        with pytest.raises(UsageError) as e:
            resolve_contract(info, None, family=QEC_CONTRACTS)
        assert "names no contract" in str(e.value) and "\n" not in str(e.value)


def test_metadata_wins_over_the_tensors(tmp_path):
    info = inspect_model(flat_model(tmp_path, metadata={"sov.contract": "qec.decoder"}))
    assert resolve_contract(info, None) == "qec.decoder"


def test_a_bare_grid_model_is_not_guessed():
    info = inspect_model(BARE)
    assert recognized_contract(info) is None
    with pytest.raises(UsageError) as e:
        resolve_contract(info, None, family=QEC_CONTRACTS)
    line = str(e.value)
    assert "\n" not in line and "--contract qec.predecoder.grid" in line
    assert "float32 [batch, 4, 5, 5, 5] -> float32 [batch, 4, 5, 5, 5]" in line
    assert resolve_contract(info, "qec.predecoder.grid", family=QEC_CONTRACTS) == "qec.predecoder.grid"


def test_models_inspect_shows_shapes_and_where_the_contract_came_from(cli):
    r = cli("models", "inspect", str(EXPORT), "--json", "-")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["contract"], d["contract_source"], d["contract_known"]) == ("qec.predecoder.flat", "recognized", True)
    assert [t["type"] for t in d["inputs"]] == ["uint8 [batch, 120]"]
    assert [t["type"] for t in d["outputs"]] == ["uint8 [batch, 121]"]
    assert d["inputs"][0]["shape"] == ["batch", 120]
    table = cli("models", "inspect", str(EXPORT)).stdout
    assert "dets: uint8 [batch, 120]" in table and "L_and_residual_dets: uint8 [batch, 121]" in table
    assert "recognized from its tensors" in table
    bare = cli("models", "inspect", str(BARE))
    assert bare.returncode == 0 and "float32 [batch, 4, 5, 5, 5]" in bare.stdout
    assert "none: give --contract" in bare.stdout
    flagged = json.loads(cli("models", "inspect", str(BARE), "--contract", "qec.predecoder.grid", "--json", "-").stdout)
    assert (flagged["contract"], flagged["contract_source"]) == ("qec.predecoder.grid", "flag")


def test_qec_run_refuses_the_bare_model_with_the_grid_hint(cli, tmp_path):
    r = cli("qec", "run", "--decoder", str(BARE), "--circuit", str(ISING / "circuits" / "ising_d5_T5_X_simple.stim"),
            "--shots", "10", "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--contract qec.predecoder.grid" in lines[0]
