"""Sweeps: the grid, caching by task in the store, early stopping, the shared pool, the CLI."""

from __future__ import annotations

import json

import pytest

from baselines.pymatching_decoder import PyMatchingDecoder
from verifier.errors import UsageError
from verifier.engine.replay import replay
from verifier.store.runs import recorded_run
from verifier.qec.grid import SweepSpec, parse_float_list, parse_int_list, point_seed
from verifier.engine.executors import Executor
from verifier.engine.sweep import sweep
from verifier.qec.workload import BLOCK_SHOTS


def _counts(result):
    return {(r.workload.distance, r.workload.p): (r.stats.shots, r.stats.errors) for r in result.points}


def test_grid_rounds_and_independent_seeds():
    spec = SweepSpec((3, 5), (0.004, 0.008), 1000, seed=7)
    ws = spec.workloads()
    assert [(w.distance, w.rounds, w.p) for w in ws] == [(3, 3, 0.004), (3, 3, 0.008), (5, 5, 0.004), (5, 5, 0.008)]
    assert len({w.seed for w in ws}) == 4  # every point has its own stream
    assert ws[0].seed == point_seed(7, 3, 3, 0.004)  # and it is fixed by the sweep seed
    assert SweepSpec((3,), (0.004,), 10, seed=8).workloads()[0].seed != ws[0].seed
    assert {w.rounds for w in SweepSpec((3, 5), (0.004,), 10, rounds=2).workloads()} == {2}


def test_parse_lists():
    assert parse_int_list("3, 5,7", flag="--distances") == (3, 5, 7)
    assert parse_float_list("0.004,0.01", flag="--p") == (0.004, 0.01)
    got = parse_float_list("0.001:0.01:3", flag="--p")
    assert got == pytest.approx((0.001, 0.00316228, 0.01), rel=1e-5)
    for bad in ("", "x", "0.01:0.001:3"):
        with pytest.raises(UsageError):
            parse_float_list(bad, flag="--p")
    with pytest.raises(UsageError):
        SweepSpec((3, 3), (0.01,), 10)


def test_sweep_is_cached_and_extended_in_the_store(store):
    dec = PyMatchingDecoder()
    spec = SweepSpec((3,), (0.006, 0.01), 2 * BLOCK_SHOTS, seed=1)
    with recorded_run(store, "qec sweep") as run:
        first = sweep(dec, spec, run=run, workers=1)
    assert first.ran_shots == 2 * 2 * BLOCK_SHOTS and first.reused_shots == 0
    # every point matches a plain replay of the same workload (same blocks, same counts)
    for r in first.points:
        alone = replay(dec, r.workload)
        assert (alone.stats.shots, alone.stats.errors) == (r.stats.shots, r.stats.errors)
    # results rows, one per point, in this run
    rows = store.query("SELECT workload_id, shots, errors FROM results WHERE run_id = ?", [run.run_id])
    assert sorted(rows) == sorted((r.workload.id, r.stats.shots, r.stats.errors) for r in first.points)

    again = sweep(dec, spec, store=store, workers=1)
    assert again.ran_shots == 0 and _counts(again) == _counts(first)

    # more shots and one more rate: only the missing blocks run
    bigger = SweepSpec((3,), (0.006, 0.01, 0.008), 3 * BLOCK_SHOTS, seed=1)
    ext = sweep(dec, bigger, store=store, workers=1)
    assert ext.reused_shots == 2 * 2 * BLOCK_SHOTS
    assert ext.ran_shots == 2 * BLOCK_SHOTS + 3 * BLOCK_SHOTS


def test_max_errors_stops_each_point_early(store):
    """A point far above threshold stops after its first block(s) (executors may group a
    few blocks per job); one that never reaches the error budget runs every shot."""
    spec = SweepSpec((3,), (0.001, 0.02), 8 * BLOCK_SHOTS, seed=3)
    res = sweep(PyMatchingDecoder(), spec, store=store, workers=1, max_errors=100)
    by_p = {r.workload.p: r.stats for r in res.points}
    assert by_p[0.02].errors >= 100 and by_p[0.02].shots < 8 * BLOCK_SHOTS
    assert by_p[0.001].errors < 100 and by_p[0.001].shots == 8 * BLOCK_SHOTS


def test_one_pool_for_all_tasks_gives_the_same_counts(store, tmp_path):
    spec = SweepSpec((3, 5), (0.005, 0.009), BLOCK_SHOTS + 100, seed=2)
    inline = sweep(PyMatchingDecoder(), spec, workers=1)
    pooled = sweep(PyMatchingDecoder(), spec, store=store, workers=2)
    assert _counts(pooled) == _counts(inline)
    assert pooled.ran_shots == 4 * (BLOCK_SHOTS + 100)


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class _ReversedExecutor(Executor):
    """A stand-in for another executor (e.g. Dask): jobs complete in another order (the
    last submitted first)."""

    workers = 2

    def __init__(self):
        self.order: list[_Done] = []

    def submit(self, job):
        self.order.append(_Done(job.fn(*job.args)))
        return self.order[-1]

    def wait_first(self, handles):
        last = next(h for h in reversed(self.order) if h in handles)
        return {last}, set(handles) - {last}


def test_the_executor_is_swappable():
    spec = SweepSpec((3, 5), (0.007,), 2 * BLOCK_SHOTS + 5, seed=4)
    a = sweep(PyMatchingDecoder(), spec)
    ex = _ReversedExecutor()
    b = sweep(PyMatchingDecoder(), spec.workloads(), executor=ex)
    assert _counts(a) == _counts(b) and len(ex.order) > 2


def test_cli_sweep_json_and_rerun(cli, tmp_path):
    db = tmp_path / "s.duckdb"
    args = ["qec", "sweep", "--distances", "3,5", "--p", "0.006,0.009", "--shots", "3000",
            "--workers", "1", "--db", str(db), "--json", "-", "--sinter-csv", str(tmp_path / "s.csv")]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["points"]) == 4 and out["ran_shots"] == 12000
    p0 = out["points"][0]
    assert {"distance", "p", "rounds", "shots", "errors", "ler", "ler_ci", "task_id"} <= set(p0)
    assert (tmp_path / "s.csv").read_text().startswith("     shots,")
    r2 = cli(*args)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["reused_shots"] == 12000


@pytest.mark.parametrize("args, needle", [
    (["--p", "abc"], "--p"),
    (["--distances", "3,x", "--p", "0.01"], "--distances"),
    (["--distances", "1,3", "--p", "0.01"], "--distances"),
    (["--p", "0.9"], "--p"),
    ([], "--p"),
])
def test_cli_sweep_bad_input_is_one_line_exit_2(cli, tmp_path, args, needle):
    r = cli("qec", "sweep", "--db", str(tmp_path / "x.duckdb"), *args)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr
