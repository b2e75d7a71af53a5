"""What a decoder is worth in qubits (``verifier.stats.projection``) and in real time, and
the compare report's procurement figures."""

from __future__ import annotations

import json
import math

import numpy as np

from verifier.stats.projection import project_qubits, qubits_saved


def _line(lam: float, c: float, ds=(3, 5, 7)):
    eps = [c / lam ** ((d + 1) / 2) for d in ds]
    return list(ds), eps, [1e-4] * len(ds)


def test_an_exact_line_projects_the_distance_it_implies():
    ds, eps, var = _line(3.0, 0.03)
    p = project_qubits(ds, eps, var, targets=(1e-9,))
    t = p["targets"]["1e-09"]
    # smallest odd d with 0.03 / 3^((d+1)/2) <= 1e-9
    want = next(d for d in range(3, 99, 2) if 0.03 / 3.0 ** ((d + 1) / 2) <= 1e-9)
    assert p["status"] == "ok" and t["distance"] == want and t["qubits"] == 2 * want * want - 1
    lo, hi = t["distance_ci"]
    assert lo <= want <= hi and hi - lo <= 4  # tiny variances: a tight interval


def test_refusals():
    assert project_qubits([3, 5], [1e-3, 3e-4], [1e-3, 1e-3])["status"] == "refused"
    flat = project_qubits([3, 5, 7], [1e-3, 1e-3, 1e-3], [0.01, 0.01, 0.01])
    assert flat["status"] == "refused" and "Λ" in flat["message"]
    bent = project_qubits([3, 5, 7], [1e-2, 1e-4, 9e-5], [1e-4] * 3)
    assert bent["status"] == "refused" and "straight line" in bent["message"]
    assert project_qubits([3, 5, 7], [1e-3, None, 1e-5], [1e-3] * 3)["status"] == "refused"


def test_a_better_decoder_saves_qubits_with_an_interval():
    worse = project_qubits(*_line(2.5, 0.03), targets=(1e-9,))
    better = project_qubits(*_line(4.0, 0.03), targets=(1e-9,))
    s = qubits_saved(better, worse)["1e-09"]
    assert s["saved"] == worse["targets"]["1e-09"]["qubits"] - better["targets"]["1e-09"]["qubits"] > 0
    assert s["saved_ci"][0] > 0


def test_compare_reports_verdicts_qubits_realtime_and_the_best_open_decoder(cli, tmp_path):
    r = cli("compare", "--decoder", "pymatching", "--decoder", "pymatching-correlated", "--decoder", "identity-predecoder",
            "--distances", "3,5,7", "--p", "0.004", "--shots", "3000", "--latency-shots", "50",
            "--cycle-time", "2", "--workers", "1", "-q", "--db", tmp_path / "s.duckdb", "--json", tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "r.json").read_text())
    by = {s["label"]: s for s in d["summary"]}
    ident = by["identity-predecoder.onnx"]
    assert ident["verdict"] in ("non-inferior", "inconclusive") and ident["paired"]["identical"]
    q = ident["qubits_per_logical"]
    assert set(q["targets"]) == {"1e-06", "1e-09", "1e-12"} or q["status"] == "refused"
    rt = ident["realtime"]
    assert rt["cycle_time_us"] == 2 and rt["p99_us_per_round"] > 0 and "CPU" in rt["note"]
    assert isinstance(rt["keeps_up_p99"], bool) and rt["backlog_rounds_per_second"] >= 0
    # correlated matching is another open decoder: where it beats PyMatching, the model is also
    # judged against it
    if any(fp != d["baseline"] for fp in d["best_open"].values()):
        assert ident["vs_best_open"] and ident["vs_best_open"]["best_open"]
    assert by["pymatching"]["rank"] is None and "What each decoder is worth" in r.stdout
    assert not math.isnan(np.mean([x["errors"] for x in d["results"]]))
