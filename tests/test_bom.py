"""``sov models bom``: a CycloneDX 1.6 ML-BOM of a model, with the workloads (datasets) the
store says it was evaluated on."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from adapters.reference_models import identity_predecoder_flat, save


def _bom(cli, *args):
    r = cli("models", "bom", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_bom_lists_hashes_contract_and_evaluated_workloads(cli, tmp_path):
    model = save(identity_predecoder_flat(1, metadata={"sov.vendor": "acme"}), tmp_path / "id.onnx")
    db = str(tmp_path / "s.duckdb")
    runs = []
    for d in ("3", "5"):
        r = cli("qec", "run", "--decoder", model, "-d", d, "--p", "0.01", "--shots", "1000",
                    "--workers", "1", "-q", "--db", db, "--json", "-")
        assert r.returncode == 0, r.stderr
        runs.append(json.loads(r.stdout))
    # pymatching results in the same store are not this model's
    assert cli("qec", "run", "-d", "3", "--p", "0.02", "--shots", "500", "--workers", "1", "-q",
                   "--db", db).returncode == 0
    bom = _bom(cli, model, "--db", db)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6" and bom["version"] == 1
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", bom["serialNumber"])
    m = bom["metadata"]["component"]
    assert m["type"] == "machine-learning-model" and m["name"] == "id.onnx"
    sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    assert m["hashes"] == [{"alg": "SHA-256", "content": sha}]
    props = {p["name"]: p["value"] for p in m["properties"]}
    assert props["sov:contract"] == "qec.predecoder.flat" and props["onnx:metadata:sov.vendor"] == "acme"
    assert all(isinstance(v, str) for v in props.values())
    wids = {r["workload_id"] for r in runs}
    refs = {d["ref"] for d in m["modelCard"]["modelParameters"]["datasets"]}
    assert refs == {f"dataset-{w}" for w in wids}
    comps = {c["bom-ref"]: c for c in bom["components"]}
    assert set(comps) == refs and all(c["type"] == "data" for c in comps.values())
    for w in wids:
        cprops = {p["name"]: p["value"] for p in comps[f"dataset-{w}"]["data"][0]["contents"]["properties"]}
        assert cprops["sov:workload_id"] == w and json.loads(cprops["sov:spec"])["kind"] == "memory"
    metrics = m["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert sorted(float(x["value"]) for x in metrics) == sorted(r["ler"] for r in runs)
    for x in metrics:
        ci = x["confidenceInterval"]
        assert float(ci["lowerBound"]) <= float(x["value"]) <= float(ci["upperBound"])
    all_refs = [bom["metadata"]["component"]["bom-ref"]] + list(comps)
    assert len(all_refs) == len(set(all_refs))
    assert bom["dependencies"][0]["ref"] == m["bom-ref"] and set(bom["dependencies"][0]["dependsOn"]) == refs


def test_bom_of_an_unevaluated_model_and_to_a_file(cli, tmp_path):
    model = save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    out = tmp_path / "bom.json"
    r = cli("models", "bom", model, "--db", str(tmp_path / "none.duckdb"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    bom = json.loads(out.read_text())
    assert bom["components"] == [] and bom["metadata"]["component"]["modelCard"]["modelParameters"]["datasets"] == []
    assert not (tmp_path / "none.duckdb").exists()  # reading a BOM never creates a store


def test_bom_hashes_external_data_and_refuses_hostile_models(cli, tmp_path):
    w = numpy_helper.from_array(np.zeros((1, 1), np.uint8), "w")
    g = helper.make_graph([helper.make_node("Add", ["dets", "w"], ["out"])], "ext",
                          [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["b", 1])],
                          [helper.make_tensor_value_info("out", TensorProto.UINT8, ["b", 1])], initializer=[w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    m.metadata_props.add(key="sov.contract", value="qec.decoder")
    onnx.save(m, tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    bom = _bom(cli, str(tmp_path / "ext.onnx"), "--db", str(tmp_path / "s.duckdb"))
    props = {p["name"]: p["value"] for p in bom["metadata"]["component"]["properties"]}
    want = hashlib.sha256((tmp_path / "weights.bin").read_bytes()).hexdigest()
    assert props["sov:external_data:weights.bin"] == f"sha256:{want}"
    (tmp_path / "junk.onnx").write_bytes(b"\x01junk" * 10)
    r = cli("models", "bom", str(tmp_path / "junk.onnx"))
    assert r.returncode == 4 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
