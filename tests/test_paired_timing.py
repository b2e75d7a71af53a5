"""Candidate and baseline timed together, interleaved (``verifier.workflows.paired_timing``)."""

from __future__ import annotations

import json

import numpy as np

from baselines.pymatching_decoder import PyMatchingDecoder
from verifier.qec.workload import MemoryWorkload
from verifier.workflows.paired_timing import time_pair


class _Twice:
    """A decoder that does PyMatching's work twice: truly twice as costly."""

    def __init__(self, compiled):
        self.compiled = compiled

    def decode_packed(self, dets):
        self.compiled.decode_packed(dets)
        return self.compiled.decode_packed(dets)


def _setup():
    w = MemoryWorkload(5, 5, "z", "uniform", 0.005, 2048, 3)
    dets, _ = w.sample_block(w.blocks()[0])
    return PyMatchingDecoder().compile_for(w), dets


def test_a_decoder_twice_as_costly_is_measured_twice_as_slow():
    pm, dets = _setup()
    t = time_pair(_Twice(pm), pm, dets, repeats=15)
    lo, hi = t.ratio_ci()
    assert 1.4 < t.ratio < 2.8 and lo > 1.2, (t.ratio, lo, hi)
    j = t.to_json()
    assert j["method"] == "interleaved, paired" and len(t.candidate_wall_us) == 15
    assert j["candidate_cpu_us_per_shot"] > 0 and "before" in j["load"] and "high" in j["load"]


def test_the_same_decoder_against_itself_is_near_one():
    pm, dets = _setup()
    t = time_pair(pm, pm, dets, repeats=15)
    lo, hi = t.ratio_ci()
    assert 0.6 < t.ratio < 1.6 and lo < 1.25 and hi > 0.8, (t.ratio, lo, hi)


def test_accept_latency_gate_decides_on_paired_timing(cli, tmp_path, identity_path):
    args = ["accept", "--candidate", identity_path, "--baseline", "pymatching", "--distance", "3",
            "--p", "0.01", "--shots", "4000", "--workers", "1", "-q", "--db", str(tmp_path / "s.duckdb"),
            "--json", "-"]
    r = cli(*args, "--latency-budget-us", "1000000", "--max-latency-ratio", "10000")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    g = next(x for x in d["gates"] if x["name"] == "latency")
    assert g["status"] == "pass" and g["figures"]["timing"]["method"] == "interleaved, paired"
    assert g["figures"]["measured_us_ci"][0] <= g["figures"]["measured_us"] <= g["figures"]["measured_us_ci"][1]
    assert d["workloads"][0]["timing"]["repeats"] == 15
    r = cli(*args, "--latency-budget-us", "0.000001")
    assert r.returncode == 1, r.stderr
    assert next(x for x in json.loads(r.stdout)["gates"] if x["name"] == "latency")["status"] == "fail"


def test_accept_reports_the_best_open_decoder_beside_the_gates(cli, tmp_path, identity_path):
    args = ["accept", "--candidate", identity_path, "--baseline", "pymatching", "--distance", "3", "--p", "0.01",
            "--shots", "3000", "--workers", "1", "-q", "--db", str(tmp_path / "s.duckdb")]
    r = cli(*args, "--best-of", "pymatching-correlated", "--json", "-")
    assert r.returncode in (0, 3), r.stderr
    b = json.loads(r.stdout)["workloads"][0]["best_open"]
    assert b["considered"] == ["pymatching", "pymatching-correlated"] and b["decoder"] in b["considered"]
    assert b["ratio_ci"][0] <= (b["ratio"] or 0) <= b["ratio_ci"][1] or b["ratio"] is None
    from tests.fixtures.cli import one_line

    assert "open decoders" in one_line(cli(*args, "--best-of", identity_path), 2)


def test_paired_timing_reports_progress_between_timed_calls():
    pm, dets = _setup()
    seen = []
    time_pair(pm, pm, dets, repeats=4, progress=lambda done, total: seen.append((done, total)))
    n = dets.shape[0]
    assert seen == [((r + 1) * 2 * n, 8 * n) for r in range(4)]


def test_qec_latency_reports_the_shots_timed():
    from verifier.workflows.latency import measure_latency

    w = MemoryWorkload(3, 3, "z", "uniform", 0.005, 400, 3)
    seen = []
    res = measure_latency(PyMatchingDecoder(), w, shots=300, warmup=10,
                          progress=lambda done, total: seen.append((done, total)))
    assert res.shots == 300 and seen[0] == (0, 300) and seen[-1] == (300, 300)
    assert all(t == 300 for _, t in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)
