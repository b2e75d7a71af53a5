from __future__ import annotations

import json
import os
import pickle

import pytest

from baselines.pymatching_decoder import PyMatchingDecoder
from verifier.errors import UsageError
from verifier.engine.blocks import lean
from verifier.engine.executors import InlineExecutor, Job, LocalExecutor, make_executor
from verifier.engine.loop import block_jobs, blocks_per_job
from verifier.engine.pool import shared_pool
from verifier.engine.replay import replay
from verifier.engine.sweep import sweep
from verifier.qec.grid import SweepSpec
from verifier.qec.workload import BLOCK_SHOTS, MemoryWorkload


def test_make_executor_refuses_bad_flags():
    with pytest.raises(UsageError, match="--executor"):
        make_executor("slurm", workers=2)
    with pytest.raises(UsageError, match="--scheduler applies to --executor dask"):
        make_executor("local", workers=2, scheduler="tcp://127.0.0.1:8786")
    assert isinstance(make_executor("local", workers=1), InlineExecutor)
    assert isinstance(make_executor("local", workers=2), LocalExecutor)


def test_jobs_with_one_key_run_once_and_reach_every_asker():
    # os.urandom: a different answer on every call, so equal answers mean one run
    jobs = [Job("a", os.urandom, (16,)), Job("b", os.urandom, (16,)), Job("a", os.urandom, (16,))]
    for ex in (InlineExecutor(), LocalExecutor(2)):
        got = list(ex.map_unordered(jobs))
        assert sorted(j.key for j, _ in got) == ["a", "a", "b"]
        a = [r for j, r in got if j.key == "a"]
        b = [r for j, r in got if j.key == "b"]
        assert a[0] == a[1] and a[0] != b[0]


def test_window_bounds_the_jobs_in_flight():
    pulled = []

    def jobs():
        for i in range(40):
            pulled.append(i)
            yield Job(str(i), os.urandom, (8,))

    ex = LocalExecutor(2)
    it = ex.map_unordered(jobs(), window=3)
    next(it)
    assert len(pulled) <= 4  # 3 in flight, at most one more pulled after the first result
    assert len(list(it)) == 39


def test_stop_ends_submission():
    done = []
    ex = InlineExecutor()
    for job, _ in ex.map_unordered((Job(str(i), os.urandom, (4,)) for i in range(10)),
                                   stop=lambda: len(done) >= 3):
        done.append(job)
    assert len(done) == 3


def test_the_pool_lives_as_long_as_the_process():
    a = LocalExecutor(2)
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 2 * BLOCK_SHOTS, 1)
    replay(PyMatchingDecoder(), w, executor=a)
    b = LocalExecutor(2)
    assert a._pool is b._pool is shared_pool(2)


def test_jobs_group_blocks_and_ship_a_lean_workload():
    w = MemoryWorkload(5, 5, "z", "uniform", 0.003, 40 * BLOCK_SHOTS, 1)
    assert w.num_detectors > 0  # caches the stim circuit on the workload
    shipped = lean(w)
    assert shipped == w and shipped.id == w.id
    assert len(pickle.dumps(shipped)) < len(pickle.dumps(w)) / 5
    jobs = list(block_jobs(PyMatchingDecoder(), [(w, w.blocks())], workers=2))
    per = blocks_per_job(40, 2)
    tail = 2 * 2  # the last 2 x workers blocks run one per job (no idle core at the end)
    assert per > 1 and len(jobs) == -(-(40 - tail) // per) + tail
    assert all(len(j.args[2]) == 1 for j in jobs[-tail:]) and len(jobs[0].args[2]) == per
    assert [b.index for j in jobs for b in j.args[2]] == list(range(40))
    assert len({j.key for j in jobs}) == len(jobs)


def test_inline_local_and_sweep_executors_agree(store):
    w = MemoryWorkload(3, 3, "x", "uniform", 0.01, 5 * BLOCK_SHOTS + 3, 8)
    one = replay(PyMatchingDecoder(), w, executor=InlineExecutor())
    two = replay(PyMatchingDecoder(), w, executor=LocalExecutor(2), store=store)
    assert (one.stats.shots, one.stats.errors) == (two.stats.shots, two.stats.errors)
    spec = SweepSpec((3,), (0.01, 0.02), 2 * BLOCK_SHOTS, seed=3)
    a = sweep(PyMatchingDecoder(), spec.workloads(), workers=1)
    b = sweep(PyMatchingDecoder(), spec.workloads(), executor=LocalExecutor(2))
    assert [(p.stats.shots, p.stats.errors) for p in a.points] == \
        [(p.stats.shots, p.stats.errors) for p in b.points]


def test_worker_errors_reach_the_parent_as_sov_errors(tmp_path):
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.reference_models import identity_predecoder_flat, save
    from verifier.errors import IntegrityError

    path = save(identity_predecoder_flat(1), tmp_path / "m.onnx")
    dec = OnnxDecoder.from_file(path)
    # another valid model replaces the file after it was checked: the workers refuse it
    save(identity_predecoder_flat(1, metadata={"sov.description": "swapped"}), path)
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 3 * BLOCK_SHOTS, 1)
    with pytest.raises(IntegrityError, match="changed on disk"):
        replay(dec, w, executor=LocalExecutor(2))


# -- Dask ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dask_cluster():
    pytest.importorskip("distributed")
    from verifier.engine.executors import DaskExecutor

    ex = DaskExecutor(workers=2)  # a LocalCluster: 2 worker processes, 1 thread each
    yield ex
    ex.close()


def test_dask_local_cluster_sweep_gives_the_local_counts(dask_cluster, store):
    assert dask_cluster.workers == 2
    spec = SweepSpec((3, 5), (0.006, 0.012), 2 * BLOCK_SHOTS + 100, seed=21)
    local = sweep(PyMatchingDecoder(), spec.workloads(), executor=LocalExecutor(2))
    dask = sweep(PyMatchingDecoder(), spec.workloads(), store=store, executor=dask_cluster)
    counts = lambda r: [(p.workload.id, p.stats.shots, p.stats.errors) for p in r.points]  # noqa: E731
    assert counts(local) == counts(dask)
    assert sum(p.stats.errors for p in dask.points) > 0
    # the one writer recorded every block; a rerun on the cluster reuses them all
    again = sweep(PyMatchingDecoder(), spec.workloads(), store=store, executor=dask_cluster)
    assert again.ran_shots == 0 and counts(again) == counts(dask)


def test_dask_replay_dedups_and_matches_inline(dask_cluster):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 3 * BLOCK_SHOTS, 5)
    a = replay(PyMatchingDecoder(), w)
    b = replay(PyMatchingDecoder(), w, executor=dask_cluster)
    assert (a.stats.shots, a.stats.errors) == (b.stats.shots, b.stats.errors)
    jobs = [Job("same", os.urandom, (16,)), Job("same", os.urandom, (16,))]
    got = [r for _, r in dask_cluster.map_unordered(jobs)]
    assert len(got) == 2 and got[0] == got[1]


def test_unreachable_scheduler_is_a_usage_error():
    pytest.importorskip("distributed")
    from verifier.engine.executors import DaskExecutor

    with pytest.raises(UsageError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:1", timeout_s=2)


@pytest.mark.slow
def test_cli_sweep_with_dask_executor_matches_local(run_sov, tmp_path):
    pytest.importorskip("distributed")
    args = ["qec", "sweep", "--distances", "3", "--p", "0.01,0.02", "--shots", "9000", "-q",
            "--workers", "2", "--json", "-"]
    a = run_sov(*args, "--db", str(tmp_path / "a.duckdb"))
    b = run_sov(*args, "--db", str(tmp_path / "b.duckdb"), "--executor", "dask")
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    pa, pb = json.loads(a.stdout)["points"], json.loads(b.stdout)["points"]
    assert [(x["shots"], x["errors"]) for x in pa] == [(x["shots"], x["errors"]) for x in pb]
    bad = run_sov("qec", "run", "-d", "3", "--p", "0.01", "--shots", "100", "--executor", "dask",
                  "--scheduler", "tcp://127.0.0.1:1", "--db", str(tmp_path / "c.duckdb"),
                  env={"SOV_DASK_TIMEOUT_S": "2"})
    assert bad.returncode == 2 and "cannot reach the Dask scheduler" in bad.stderr


def test_library_use_from_a_script_on_stdin_with_workers():
    """`python -` scripts cannot be re-imported by forkserver/spawn workers (their `__main__` has no file to import; docs/cluster.md):
    sov falls back to fork for them and gives the same counts as in-process."""
    import subprocess
    import sys

    script = (
        "from verifier.qec.workload import MemoryWorkload\n"
        "from verifier.engine.replay import replay\n"
        "from baselines.pymatching_decoder import PyMatchingDecoder\n"
        "w = MemoryWorkload(3, 3, 'z', 'uniform', 0.01, 3 * 8192, 1)\n"
        "a = replay(PyMatchingDecoder(), w, workers=2)\n"
        "b = replay(PyMatchingDecoder(), w, workers=1)\n"
        "print('COUNTS', a.stats.errors, b.stats.errors)\n"
    )
    r = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    a, b = r.stdout.split("COUNTS", 1)[1].split()[:2]
    assert a == b and int(a) > 0


def test_an_error_while_the_workers_start_prints_one_line(run_sov, tmp_path):
    """The forkserver and the pool start early (overlapping the parent's set-up); an
    error right after must still end with one stderr line, no worker traceback."""
    as_dir = tmp_path / "store.duckdb"
    as_dir.mkdir()
    r = run_sov("qec", "run", "--distance", "3", "--p", "0.01", "--shots", "100", "--workers", "2",
                "--db", str(as_dir))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"sov: error: store path {as_dir} is a directory, not a DuckDB file"]


def test_the_forkserver_ends_without_interpreter_teardown(tmp_path):
    """sov's workers come from a forkserver that holds sov's stdout/stderr: it must end as
    soon as sov does, skipping the ~0.2 s module teardown (else a pipe reading sov's
    output stays open after sov has ended). A teardown hook registered by an earlier
    preloaded module must therefore never run."""
    import subprocess
    import sys
    import textwrap

    from tests.fixtures.processes import alive, wait_until

    marker = tmp_path / "teardown-ran"
    (tmp_path / "_teardown_marker.py").write_text(textwrap.dedent(f"""
        import atexit
        atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))
    """))
    script = textwrap.dedent(f"""
        import multiprocessing as mp, os, sys
        sys.path.insert(0, {str(tmp_path)!r})
        if __name__ == "__main__":
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(sys.argv[1:])
            p = ctx.Process(target=os.getpid)
            p.start(); p.join()
            from multiprocessing import forkserver
            print(forkserver._forkserver._forkserver_pid)
    """)
    (tmp_path / "main.py").write_text(script)

    def forkserver_teardown_ran(*preload: str) -> bool:
        marker.unlink(missing_ok=True)
        # the forkserver imports from its working directory (not the parent's sys.path)
        r = subprocess.run([sys.executable, str(tmp_path / "main.py"), *preload], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        pid = int(r.stdout.strip())
        # the forkserver ends once its parent has gone; only then is the marker final
        assert wait_until(lambda: not alive(pid), timeout=60), f"forkserver {pid} still runs"
        return marker.exists()

    assert forkserver_teardown_ran("_teardown_marker")  # the check can see a teardown
    assert not forkserver_teardown_ran("_teardown_marker", "verifier.engine.forkserver_exit")
    from verifier.engine.forkserver_exit import _in_forkserver
    from verifier.engine.pool import PRELOAD

    assert PRELOAD[-1] == "verifier.engine.forkserver_exit"
    assert not _in_forkserver()  # imported anywhere else, it does nothing


def test_every_preloaded_module_imports():
    import importlib

    from verifier.engine.pool import PRELOAD

    for name in PRELOAD:
        importlib.import_module(name)
    assert "verifier.engine.blocks" in PRELOAD  # what the workers run (run_blocks)


def test_sweep_jobs_stay_in_their_task_and_end_one_block_each():
    ws = SweepSpec((3,), (0.004, 0.008), 12 * BLOCK_SHOTS, seed=2).workloads()
    tasks = [(w, w.blocks()) for w in ws]
    jobs = list(block_jobs(PyMatchingDecoder(), tasks, workers=1))
    assert blocks_per_job(24, 1) == 4
    assert [len(j.args[2]) for j in jobs] == [4, 4, 4, 4, 4, 2, 1, 1]  # the last 2 x workers alone
    for j in jobs:
        assert all(b in tasks[j.tag][1] for b in j.args[2])  # a job's blocks are all of its task
    skipped = list(block_jobs(PyMatchingDecoder(), tasks, workers=1, stopped=lambda tag: tag == 0))
    assert {j.tag for j in skipped} == {1}
