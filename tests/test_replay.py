from __future__ import annotations

import math

import pytest

from adapters.onnx_decoder import OnnxDecoder
from baselines.pymatching_decoder import PyMatchingDecoder
from verifier.qec.decoder import fingerprint
from verifier.workflows.qec import run_task
from verifier.engine.replay import replay
from verifier.store.runs import recorded_run
from verifier.qec.workload import MemoryWorkload


@pytest.mark.parametrize("basis", ["x", "z"])
def test_identity_predecoder_equals_pymatching_shot_for_shot(store, identity_path, basis):
    w = MemoryWorkload(3, 3, basis, "uniform", 0.01, 20_000, 11)
    pm, ident = PyMatchingDecoder(), OnnxDecoder.from_file(identity_path)
    a = replay(pm, w, store=store)
    b = replay(ident, w, store=store)
    assert a.stats.errors == b.stats.errors > 0
    pa = store.block_predictions(fingerprint(pm), w.stream_id)
    pb = store.block_predictions(fingerprint(ident), w.stream_id)
    assert pa.keys() == pb.keys() and all(pa[k] == pb[k] for k in pa)


def _within_reference(errors: int, shots: int, ref: float, rel_uncertainty: float = 0.15) -> bool:
    """errors lies within 5 binomial sigma of the count expected from a reference LER,
    widened by the reference's own relative uncertainty."""
    lo_p, hi_p = ref * (1 - rel_uncertainty), ref * (1 + rel_uncertainty)
    lo = shots * lo_p - 5 * math.sqrt(shots * lo_p * (1 - lo_p))
    hi = shots * hi_p + 5 * math.sqrt(shots * hi_p * (1 - hi_p))
    return lo <= errors <= hi


# PyMatching reference points (rounds = d, uniform p = 0.003, memory Z): docs/threshold.md, "Reference figures"
@pytest.mark.parametrize("d,ref", [(3, 6.5e-3), (5, 3.35e-3)])
def test_pymatching_ler_matches_reference_points(d, ref):
    shots = 40_000
    r = replay(PyMatchingDecoder(), MemoryWorkload(d, d, "z", "uniform", 0.003, shots, 5), workers=1)
    assert _within_reference(r.stats.errors, shots, ref), r.stats
    lo, hi = r.ler_ci
    assert lo < r.stats.ler < hi


def test_ler_grows_with_p_and_falls_with_d():
    def ler(d, p):
        return replay(PyMatchingDecoder(), MemoryWorkload(d, d, "z", "uniform", p, 30_000, 2)).stats.ler

    assert ler(3, 0.002) < ler(3, 0.005)
    assert ler(5, 0.003) < ler(3, 0.003)


def test_results_do_not_depend_on_workers_or_resume(store, tmp_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 3 * 8192 + 5, 4)
    one = replay(PyMatchingDecoder(), w, workers=1)
    two = replay(PyMatchingDecoder(), w, workers=2, store=store)
    assert (one.stats.shots, one.stats.errors) == (two.stats.shots, two.stats.errors)
    again = replay(PyMatchingDecoder(), w, workers=2, store=store)
    assert again.reused_shots == w.shots and again.stats.errors == one.stats.errors
    # a longer run reuses the first blocks and adds the rest
    w2 = MemoryWorkload(3, 3, "z", "uniform", 0.01, 5 * 8192, 4)
    longer = replay(PyMatchingDecoder(), w2, store=store)
    assert longer.reused_shots == 3 * 8192 and longer.stats.shots == w2.shots


def test_max_errors_stops_early():
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 20 * 8192, 4)
    r = replay(PyMatchingDecoder(), w, max_errors=50)
    assert r.stats.errors >= 50 and r.stats.shots < w.shots


def test_run_task_records_run_result_and_model(store, identity_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 1000, 4)
    with recorded_run(store, "test", []) as rec:
        r = run_task(OnnxDecoder.from_file(identity_path), w, run=rec)
    rows = store.query("SELECT status FROM runs WHERE run_id = ?", [rec.run_id])
    assert rows == [("ok",)]
    res = store.query("SELECT shots, errors FROM results WHERE run_id = ?", [rec.run_id])
    assert res == [(1000, r.stats.errors)]
    assert store.query("SELECT count(*) FROM models")[0][0] == 1


def test_pymatching_correlated_is_a_distinct_decoder():
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 20_000, 9)
    a = replay(PyMatchingDecoder.named("pymatching"), w)
    b = replay(PyMatchingDecoder.named("pymatching-correlated"), w)
    assert a.fingerprint != b.fingerprint
    # correlated matching uses strictly more information; it must not be much worse
    assert b.stats.errors <= a.stats.errors + 4 * math.sqrt(a.stats.errors)


def test_record_pacer_keeps_the_writer_under_its_share(monkeypatch):
    from verifier.engine import loop as rp

    clock = [100.0]
    monkeypatch.setattr(rp.time, "monotonic", lambda: clock[0])
    pacer = rp.RecordPacer(first=2.0, most=30.0, share=0.02, max_blocks=64)
    assert not pacer.due() and not pacer.due(63) and pacer.due(64)  # memory: at most 64 waiting
    clock[0] += 2.0
    assert pacer.due()
    started = clock[0]
    clock[0] += 0.1  # a write that took 0.1 s: the next one 50 x later
    pacer.wrote(started)
    assert pacer.every == pytest.approx(5.0)
    clock[0] += 4.9
    assert not pacer.due()
    clock[0] += 0.2
    assert pacer.due()
    started = clock[0]
    clock[0] += 2.0  # a very slow write: never more than `most` apart
    pacer.wrote(started)
    assert pacer.every == 30.0
    started = clock[0]
    pacer.wrote(started)  # an instant one: never more often than `first`
    assert pacer.every == 2.0


def test_an_interrupt_keeps_the_finished_blocks_and_records_no_result(store):
    """What finished before a Ctrl-C is written; the task's result row is not (it is
    incomplete), and the same command then resumes from the recorded blocks."""
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 4 * 8192, 6)
    seen = []

    def progress(stats, total):
        seen.append(stats.shots)
        if stats.shots >= 2 * 8192:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay(PyMatchingDecoder(), w, store=store, run_id="r1", record_result=True, progress=progress)
    assert store.query("SELECT count(*) FROM results")[0][0] == 0
    again = replay(PyMatchingDecoder(), w, store=store)
    assert again.reused_shots == 2 * 8192 and again.stats.shots == w.shots
    assert again.stats.errors == replay(PyMatchingDecoder(), w).stats.errors
