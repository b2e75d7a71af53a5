"""Latency measurement and cross-runtime (provider) agreement (issue 10)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from adapters.onnx_decoder import OnnxDecoder
from adapters.reference_models import save
from adapters.runtime import RuntimeOptions
from tests.fixtures.onnx_models import constant_decoder
from baselines.pymatching_decoder import PyMatchingDecoder
from verifier.workflows.crosscheck import crosscheck, runtime_variants
from verifier.qec.decoder import fingerprint
from verifier.errors import UsageError
from verifier.workflows.latency import measure_latency, percentiles
from verifier.engine.blocks import unpack_predictions
from verifier.engine.replay import replay
from verifier.qec.workload import BLOCK_SHOTS, MemoryWorkload


def test_percentiles_are_numpy_percentiles_in_microseconds():
    ns = np.arange(1, 100_001, dtype=np.int64) * 10  # 10 ns .. 1 ms
    p = percentiles(ns)
    assert p["p50"] == pytest.approx(np.percentile(ns, 50) / 1e3)
    assert p["p99.9"] == pytest.approx(np.percentile(ns, 99.9) / 1e3)
    assert p["min"] == 0.01 and p["max"] == 1000.0


def test_latency_at_batch_one_decodes_like_the_batch_decoder():
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 1200, 7)
    res = measure_latency(PyMatchingDecoder(), w, shots=1000, warmup=200)
    # the errors among the timed shots equal those of one batch decode of the same shots
    dets, obs = w.sample_block(w.blocks()[0])
    pred = PyMatchingDecoder().compile_for(w).decode_packed(dets)
    assert res.errors == int(np.any(pred[200:] != obs[200:], axis=1).sum()) > 0
    s = res.per_shot_us
    assert 0 < s["min"] <= s["p50"] <= s["p99"] <= s["p99.9"] <= s["max"]
    assert res.per_round_us["p50"] == pytest.approx(s["p50"] / 3)
    assert res.budget_us_per_shot == 3.0 and 0.0 <= res.within_budget <= 1.0
    assert res.meets_budget == (res.per_round_us["p99"] <= 1.0)
    assert res.to_json()["per_shot_us"]["p99.9"] == s["p99.9"]


def test_latency_refuses_too_few_shots_and_bad_budgets():
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 100, 7)
    with pytest.raises(UsageError, match="latency needs"):
        measure_latency(PyMatchingDecoder(), w, shots=100, warmup=10)
    with pytest.raises(UsageError, match="--budget-us"):
        measure_latency(PyMatchingDecoder(), w, shots=50, warmup=0, budget_us_per_round=0)


def test_onnx_latency_in_batches(identity_path):
    w = MemoryWorkload(3, 3, "x", "uniform", 0.01, 4 * 300, 1)
    res = measure_latency(OnnxDecoder.from_file(identity_path), w, shots=200, warmup=100, batch=4)
    assert res.batch == 4 and res.shots == 200 and res.per_shot_us["p50"] > 0


def test_cli_latency_json_and_recorded_run(cli, tmp_path):
    db = tmp_path / "l.duckdb"
    r = cli("qec", "latency", "-d", "3", "--p", "0.01", "--shots", "400", "--warmup", "50",
                "--db", str(db), "--json", "-")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["shots"] == 400 and out["rounds"] == 3 and out["budget_us_per_round"] == 1.0
    assert set(out["per_round_us"]) >= {"p50", "p99", "p99.9"}
    from verifier.store.db import Store

    rows = Store(db).query("SELECT command, status, summary FROM runs")
    assert rows[0][:2] == ("qec latency", "ok")
    assert json.loads(rows[0][2])["latency"]["per_shot_us"]["p50"] == out["per_shot_us"]["p50"]
    bad = cli("qec", "latency", "-d", "3", "--p", "0.01", "--shots", "10", "--budget-us", "-1",
                  "--db", str(db))
    assert bad.returncode == 2 and "--budget-us" in bad.stderr


# -- crosscheck ------------------------------------------------------------------------------

def test_runtimes_of_one_model_agree_shot_for_shot(store, identity_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 2 * BLOCK_SHOTS + 11, 3)
    base = OnnxDecoder.from_file(identity_path, options=RuntimeOptions(threads=1))
    variants = [dataclasses.replace(base, options=dataclasses.replace(base.options, graph_optimization=g))
                for g in ("all", "disable")]
    fps = [replay(d, w, store=store).fingerprint for d in variants]
    assert fps[0] != fps[1]
    assert runtime_variants(store, fps[0]) == [fps[1]]
    [rep] = crosscheck(store, fps, [w.stream_id], num_observables=1)
    assert rep.agree and rep.compared_shots == w.shots and rep.differing_shots == 0
    assert rep.varied() == {"graph_optimization": ["all", "disable"]}


def test_crosscheck_reports_where_predictions_differ(store, tmp_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, BLOCK_SHOTS + 100, 3)
    pm = PyMatchingDecoder()
    ones = OnnxDecoder.from_file(save(constant_decoder(w.num_detectors, 1, flip=True), tmp_path / "c.onnx"))
    a, b = replay(pm, w, store=store), replay(ones, w, store=store)
    [rep] = crosscheck(store, [a.fingerprint, b.fingerprint], [w.stream_id], max_listed=5,
                       num_observables=1)
    # the constant decoder predicts a flip everywhere: it differs wherever PyMatching predicts none
    preds = store.block_predictions(fingerprint(pm), w.stream_id)
    zeros = [blk * BLOCK_SHOTS + i for (blk, n), (blob, nbits) in sorted(preds.items())
             for i, v in enumerate(unpack_predictions(blob, n, nbits)[:, 0]) if v == 0]
    assert rep.differing_shots == len(zeros) > 0 and not rep.agree
    assert [d.shot for d in rep.differences] == zeros[:5]
    assert all(d.reference == [0] and d.other == [1] for d in rep.differences)
    with pytest.raises(UsageError, match="two decoders"):
        crosscheck(store, [a.fingerprint], [w.stream_id])


def test_cli_crosscheck(cli, tmp_path):
    db = str(tmp_path / "x.duckdb")
    common = ["qec", "crosscheck", "--decoder", "identity-predecoder", "-d", "3", "--p", "0.01",
              "--shots", "3000", "--workers", "1", "-q", "--db", db]
    ok = cli(*common, "--graph-optimization", "all", "--graph-optimization", "basic", "--json", "-")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["agree"] and out["pairs"][0]["compared_shots"] == 3000
    assert out["pairs"][0]["varied"] == {"graph_optimization": ["all", "basic"]}
    one = cli(*common)
    assert one.returncode == 2 and "two runtimes" in one.stderr
    base = cli("qec", "crosscheck", "--decoder", "pymatching", "--provider", "cpu",
                   "--graph-optimization", "all", "--graph-optimization", "basic", "-d", "3", "--p", "0.01",
                   "--db", db)
    assert base.returncode == 2 and "baseline" in base.stderr
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        gpu = cli(*common, "--provider", "cpu", "--provider", "cuda")
        assert gpu.returncode == 2 and "'cuda' is not available" in gpu.stderr


def test_pure_clopper_pearson_matches_scipy():
    from scipy.stats import beta

    from verifier.stats.binomial import clopper_pearson

    for n in (1, 7, 100, 20_000, 1_000_000, 4_000_000):
        for e in sorted({0, 1, 3, 57, 1000, n // 3, n - 1, n}):
            if e > n:
                continue
            for conf in (0.95, 0.99):
                a = 1 - conf
                lo, hi = clopper_pearson(e, n, conf)
                ref_lo = 0.0 if e == 0 else beta.ppf(a / 2, e, n - e + 1)
                ref_hi = 1.0 if e == n else beta.ppf(1 - a / 2, e + 1, n - e)
                assert lo == pytest.approx(ref_lo, rel=1e-8, abs=1e-300)
                assert hi == pytest.approx(ref_hi, rel=1e-8)
