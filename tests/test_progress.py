"""Progress a person can trust: a slow model's bar moves per inference batch inside a
block, reaches the block's shots exactly once, with one worker or several, and changes
no result (real onnxruntime sessions in the sandbox, real PyMatching, real DuckDB)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.onnx_decoder import OnnxDecoder
from adapters.runtime import RuntimeOptions
from tests.fixtures.compare_models import degraded_predecoder_flat
from adapters.reference_models import _finish, save
from verifier.engine.executors import InlineExecutor, LocalExecutor
from verifier.engine.loop import run_tasks
from verifier.engine.progress import SideFiles, JobCounter
from verifier.qec.workload import MemoryWorkload


def _recorder():
    seen: list[tuple[int, int, int]] = []  # (shots, errors, tasks done)

    def progress(stats, total, done, tasks):
        seen.append((stats.shots, stats.errors, done))
    return seen, progress


def slow_decoder(num_detectors: int, *, hidden: int = 1024, layers: int = 12):
    """``qec.decoder``: an MLP of ``layers`` hidden ``hidden x hidden`` layers (one shared
    weight), ~2·hidden²·layers multiply-adds per shot: a model slow enough that a worker
    takes seconds over one block, with real (if meaningless) predictions."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w_in = (rng.standard_normal((num_detectors, hidden)) / np.sqrt(num_detectors)).astype(np.float32)
    w = (rng.standard_normal((hidden, hidden)) * np.sqrt(2.0 / hidden)).astype(np.float32)
    w_out = rng.standard_normal((hidden, 1)).astype(np.float32)
    b = (rng.standard_normal(hidden) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Cast", ["dets"], ["x0"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["x0", "w_in"], ["h0"])]
    for i in range(layers):
        nodes += [helper.make_node("MatMul", [f"h{i}", "w"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", "b"], [f"a{i}"]),
                  helper.make_node("Relu", [f"a{i}"], [f"h{i + 1}"])]
    nodes.append(helper.make_node("MatMul", [f"h{layers}", "w_out"], ["logits"]))
    g = helper.make_graph(
        nodes, "slow_mlp",
        [helper.make_tensor_value_info("dets", TensorProto.UINT8, ["batch", num_detectors])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])],
        initializer=[numpy_helper.from_array(a, n) for a, n in
                     ((w_in, "w_in"), (w, "w"), (w_out, "w_out"), (b, "b"))])
    return _finish(g, {"sov.contract": "qec.decoder", "sov.description": "test model: a slow MLP"})


W = MemoryWorkload(3, 3, "z", "uniform", 0.02, 1_000, 11)  # one block of 1,000 shots


def test_a_block_moves_per_inference_batch_and_ends_at_its_shots(tmp_path):
    """64 shots per call: the bar moves 16 times inside the one block, never backwards,
    never past the block, and ends at exactly its shots once the block is back."""
    path = save(degraded_predecoder_flat(2), tmp_path / "b.onnx")
    dec = OnnxDecoder.from_file(path, options=RuntimeOptions(batch_size=64))
    seen, progress = _recorder()
    res = run_tasks(dec, [W], progress=progress, executor=InlineExecutor())
    shots = [s for s, _, _ in seen]
    inside = [s for s, _, done in seen if done == 0]
    assert shots == sorted(shots) and max(shots) == W.shots == res.points[0].stats.shots
    assert inside[1:] == list(range(64, W.shots, 64)) + [W.shots]  # every batch, in shots
    assert all(e == 0 for _, e, done in seen if done == 0)  # errors only once the block is back
    assert seen[-1] == (W.shots, res.points[0].stats.errors, 1)


def test_progress_changes_no_prediction_or_stored_row(tmp_path):
    from verifier.store.db import Store

    path = save(degraded_predecoder_flat(2), tmp_path / "b.onnx")
    dec = OnnxDecoder.from_file(path, options=RuntimeOptions(batch_size=256))
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 8192 + 500, 12)  # two blocks: one per worker
    got = []
    for i, (executor, progress) in enumerate([(InlineExecutor(), None), (InlineExecutor(), _recorder()[1]),
                                              (LocalExecutor(2), _recorder()[1])]):
        store = Store(tmp_path / f"s{i}.duckdb")
        res = run_tasks(dec, [w], store=store, run_id=None, progress=progress, executor=executor)
        p = res.points[0]
        got.append((p.stats.shots, p.stats.errors, sorted(store.block_predictions(p.fingerprint, w.stream_id).items()),
                    sorted(store.block_failures(p.fingerprint, w.stream_id).items())))
    assert got[0] == got[1] == got[2]
    assert got[0][1] > 0  # the degraded model fails shots: the comparison has something to compare


def test_pool_workers_report_inside_a_block_through_side_files(tmp_path):
    """Two worker processes, one slow block each: the parent sees shots decoded before
    either block is back, the counts never go down, and the end is each block's shots
    exactly (no partial count left over, none counted twice)."""
    w1 = MemoryWorkload(3, 3, "z", "uniform", 0.02, 3_000, 21)
    w2 = MemoryWorkload(3, 3, "z", "uniform", 0.03, 3_000, 22)
    path = save(slow_decoder(w1.num_detectors), tmp_path / "slow.onnx")
    dec = OnnxDecoder.from_file(path, options=RuntimeOptions(batch_size=32))
    seen, progress = _recorder()
    res = run_tasks(dec, [w1, w2], progress=progress, executor=LocalExecutor(2))
    shots = [s for s, _, _ in seen]
    assert shots == sorted(shots)
    assert any(0 < s < 6_000 and done == 0 for s, _, done in seen), seen  # inside the blocks
    assert seen[-1] == (6_000, sum(p.stats.errors for p in res.points), 2)
    assert res.ran_shots == 6_000


def test_side_files_count_once_and_never_step_back(tmp_path):
    files = SideFiles()
    try:
        a, b = files.sink("a", 100), files.sink("b", 50)
        assert files.sink("a", 100) == a  # a job asked for twice reports once
        with JobCounter(a) as counter:
            counter.start_block(100)
            counter.add(60)
            counter.add(60)  # a decoder that reports more than the block: capped
        with JobCounter(b) as counter:
            counter.start_block(50)
            counter.add(20)
        assert files.partial() == 120
        with open(b, "r+b") as f:  # a torn or stale value never makes the bar step back
            f.write((5).to_bytes(8, "little"))
        assert files.partial() == 120 and files.partial(read=False) == 120
        files.finished("a")
        assert files.partial() == 20
    finally:
        files.close()
    import os
    assert not os.path.exists(files.folder)


def test_a_killed_parents_side_files_are_removed_by_the_next_run():
    """kill -9 skips the clean-up: the next run removes folders whose parent is gone,
    never a live process's."""
    import os
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = int(gone.stdout)
    files = SideFiles()
    where = os.path.dirname(files.folder)
    orphan = os.path.join(where, f"sov-progress-{dead}-x")
    os.makedirs(orphan, exist_ok=True)
    try:
        again = SideFiles()
        assert not os.path.exists(orphan)
        assert os.path.exists(files.folder)  # ours: this process is alive
        again.close()
    finally:
        files.close()


@pytest.mark.parametrize("rate,expect", [(None, 1024), (1e9, 8192), (100.0, 128), (0.01, 1)])
def test_a_slow_models_calls_are_cut_to_seconds(tmp_path, rate, expect):
    """The first call is at most 1,024 shots; then a model that cannot do the configured
    batch in ~2 s gets calls of the power of two of shots it can."""
    from adapters.onnx_model import inspect_model
    from adapters.runner import BatchedRunner
    from adapters.runtime import create_session

    path = save(degraded_predecoder_flat(2), tmp_path / "b.onnx")
    runner = BatchedRunner(create_session(path, RuntimeOptions()), inspect_model(path), RuntimeOptions())
    runner.rows_per_s = rate
    assert runner.rows_per_call() == expect


def test_compare_times_each_decoder_with_a_progress_bar_of_its_own(tmp_path):
    """The latency phase of `compare` reports, per (decoder, workload), the shots timed
    from 0 to --latency-shots, after that task's replay bar has closed."""
    from contextlib import contextmanager

    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.store.db import Store
    from verifier.workflows.compare import compare_plan, run_comparison

    path = save(degraded_predecoder_flat(2), tmp_path / "b.onnx")
    events: list[tuple] = []

    @contextmanager
    def bars(kind):
        def factory(label, i, total):
            @contextmanager
            def cm():
                events.append((kind, "open", label, i, total))
                yield (lambda *a: events.append((kind, *a)))
                events.append((kind, "close", label, i, total))
            return cm()
        yield factory

    plan = compare_plan([path], distances="3", p="0.01,0.02", shots=600)
    with bars("replay") as replay_bar, bars("latency") as latency_bar:
        res = run_comparison(plan, store=Store(tmp_path / "s.duckdb"), latency_shots=40,
                             decoder_for=lambda s: PyMatchingDecoder() if s == "pymatching" else OnnxDecoder.from_file(s),
                             progress=replay_bar, latency_progress=latency_bar)
    assert res.exit_code == 0
    opened = [e for e in events if e[1] == "open"]
    assert [(k, i) for k, _, _, i, _ in opened] == [(k, i) for i in (1, 2, 3, 4) for k in ("replay", "latency")]
    for i in (1, 2, 3, 4):  # each timing: 0 first, then up to its 40 shots, inside its own bar
        start = events.index(next(e for e in opened if e[0] == "latency" and e[3] == i))
        end = events.index(("latency", "close", *events[start][2:]))
        counts = [e[1:] for e in events[start + 1:end]]
        assert counts[0] == (0, 40) and counts[-1] == (40, 40)
        assert [c for c, _ in counts] == sorted(c for c, _ in counts)
        assert events[start - 1][:2] == ("replay", "close")  # the replay's bar is gone first
    assert all(r["latency"]["shots"] == 40 for r in res.payload["results"])


@pytest.mark.parametrize("quiet,tty,drawn", [(False, True, True), (True, True, False), (False, False, False)])
def test_bars_draw_on_a_terminal_only(monkeypatch, quiet, tty, drawn):
    import io
    import sys

    from reports.terminal import latency_progress, shot_progress
    from verifier.stats.binomial import Stats

    class Err(io.StringIO):
        def isatty(self):
            return tty

    err = Err()
    monkeypatch.setattr(sys, "stderr", err)
    with shot_progress("replay", quiet=quiet) as bar, latency_progress("timing", quiet=quiet) as timing:
        assert (bar is not None) == drawn and (timing is not None) == drawn
        if drawn:
            bar(Stats(shots=100), 1000)  # the store held 100: the start, not speed
            bar(Stats(shots=600, errors=3), 1000)
            timing(0, 40)
            timing(40, 40)
    assert ("shots timed" in err.getvalue()) == drawn
