"""The store is the audit record: concurrent writers, kill -9, full disks and read-only
files must never lose or double-count a recorded result."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fixtures.cli import console_script, one_line, run_main
from tests.fixtures.processes import alive, children, cmdline, descendants, wait_until


BLOCK = 8192


def _env(**extra: str) -> dict:
    e = dict(os.environ)
    e.setdefault("OMP_NUM_THREADS", "1")
    e.update(extra)
    return e


def _q(db: Path, sql: str, params=()):
    from verifier.store.db import Store

    return Store(db).query(sql, params)


def test_lock_errors_of_this_duckdb_are_recognized_and_retried(tmp_path):
    """A second process holding the file: the real DuckDB message is a lock error, and
    Store waits for it (bounded), then gives a clear error when it stays locked. The holder
    says when it holds the file and lets go when told (a line on its stdin), not on a clock."""
    import threading

    from verifier.errors import StoreError
    from verifier.store.db import Store, _is_lock_error

    db = tmp_path / "l.duckdb"
    Store(db).migrate()
    hold = subprocess.Popen([sys.executable, "-c",
                             "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                             "print('held', flush=True); sys.stdin.readline(); c.close()", str(db)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        import duckdb

        with pytest.raises(duckdb.Error) as ei:
            duckdb.connect(str(db))
        assert _is_lock_error(ei.value), str(ei.value)
        with pytest.raises(StoreError, match="stayed locked"):
            Store(db, lock_timeout=0.3).query("SELECT 1")
        got: list = []
        waiter = threading.Thread(target=lambda: got.append(Store(db, lock_timeout=60).query("SELECT 1")))
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and not got  # it cannot get in while the holder holds
        hold.stdin.write("go\n")
        hold.stdin.flush()
        waiter.join(60)
        assert got == [[(1,)]]  # it retried until the holder let go
    finally:
        if hold.poll() is None:
            hold.stdin.close()
        hold.wait(timeout=30)


def test_concurrent_writers_all_succeed_and_count_shots_once(tmp_path):
    db = tmp_path / "c.duckdb"
    common = ["qec", "run", "-d", "3", "--p", "0.01", "--shots", "20000", "--workers", "1", "-q",
              "--db", str(db), "--json", "-"]
    procs = [subprocess.Popen(console_script(*common, "--seed", seed), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env()) for seed in ("1", "1", "2")]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    res = [json.loads(out) for out, _ in outs]
    assert all(r["shots"] == 20000 for r in res)
    assert res[0]["errors"] == res[1]["errors"]  # same shots, same decoder: same answer
    assert _q(db, "SELECT count(*) FROM results")[0][0] == 3
    assert {s for (s,) in _q(db, "SELECT status FROM runs")} == {"ok"}
    # the two identical runs share their blocks: each block is recorded exactly once
    rows = _q(db, "SELECT stream_id, count(*), count(DISTINCT block), sum(shots) FROM blocks GROUP BY stream_id")
    assert len(rows) == 2
    for _, n, distinct, shots in rows:
        assert n == distinct == 3 and shots == 20000


def _held_at_first_block_write(hooks: Path, p: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until run ``p`` has committed its first blocks and is held there by the store's
    test hook (``SOV_TEST_HOOK_DIR``, with ``hold`` present): it cannot finish meanwhile."""
    deadline = time.monotonic() + timeout
    while not (hooks / "blocks-written").exists():
        assert p.poll() is None, p.stderr.read().decode()[-2000:] if p.stderr else p.returncode
        assert time.monotonic() < deadline, "no block was written"
        time.sleep(0.05)


def _hooked(tmp_path: Path) -> Path:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "hold").touch()
    return hooks


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill9_mid_run_leaves_store_readable_and_resumes_to_exact_shots(tmp_path):
    db = tmp_path / "k.duckdb"
    # the run is held at its first write of blocks (RecordPacer's first); enough shots that
    # this write comes long before the last one (which also records the result)
    shots = 1_000_000
    args = ["qec", "run", "--decoder", "identity-predecoder", "-d", "5", "--p", "0.01",
            "--shots", str(shots), "--seed", "11", "--workers", "1", "-q", "--db", str(db)]
    hooks = _hooked(tmp_path)
    p = subprocess.Popen(console_script(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=_env(SOV_TEST_HOOK_DIR=str(hooks)))
    _held_at_first_block_write(hooks, p)
    sandbox_children = children(p.pid)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    # the model sandbox dies with its parent (PR_SET_PDEATHSIG)
    assert wait_until(lambda: not any(alive(c) for c in sandbox_children), timeout=10), sandbox_children
    # readable, the run still says 'running' until someone notices its process is gone
    runs = _q(db, "SELECT run_id, status FROM runs")
    assert [s for _, s in runs] == ["running"]
    done = _q(db, "SELECT count(*), coalesce(sum(shots), 0) FROM blocks")[0]
    written = sum(int(n) for n in (hooks / "blocks-written").read_text().split())
    assert done[0] == written and 0 < done[1] < shots
    assert _q(db, "SELECT count(*) FROM results")[0][0] == 0
    # the same command again: marks the dead run incomplete, resumes, counts every shot once
    r = subprocess.run(console_script(*args, "--json", "-"), capture_output=True, text=True, env=_env(), timeout=240)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["shots"] == shots and out["reused_shots"] == done[1]
    statuses = dict(_q(db, "SELECT run_id, status FROM runs"))
    assert statuses[runs[0][0]] == "incomplete" and sorted(statuses.values()) == ["incomplete", "ok"]
    n, distinct, total, errors = _q(db, "SELECT count(*), count(DISTINCT block), sum(shots), sum(errors) "
                                        "FROM blocks")[0]
    assert n == distinct == -(-shots // BLOCK) and total == shots and errors == out["errors"]


def _limit_fsize(n: int):
    def f():
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    return f


@pytest.mark.slow
def test_file_size_limit_gives_one_line_and_keeps_what_was_written(tmp_path):
    db = tmp_path / "f.duckdb"
    # the store to protect is written in process; the run under the limit is a subprocess
    first = run_main(["qec", "run", "-d", "3", "--p", "0.01", "--shots", "3000", "--workers", "1", "-q", "--db", db])
    assert first.returncode == 0, first.stderr
    before = _q(db, "SELECT run_id, shots, errors FROM results")
    # ~300 KB of blocks (packed predictions: ~2.2 KB a block), well past the 64 KB limit
    r = subprocess.run(console_script("qec", "run", "-d", "3", "--p", "0.01", "--shots", "1000000", "--seed", "5",
                            "--workers", "1", "-q", "--db", str(db)),
                       capture_output=True, text=True, env=_env(), preexec_fn=_limit_fsize(64 << 10))
    line = one_line(r, 2)
    assert "disk full" in line and str(db) in line
    assert _q(db, "SELECT run_id, shots, errors FROM results WHERE run_id = ?", [before[0][0]]) == before
    assert _q(db, "SELECT count(*) FROM results")[0][0] == 1  # nothing half-recorded as a result


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs needs root")
def test_full_tmpfs_gives_one_line_and_keeps_what_was_written(tmp_path):
    mnt = tmp_path / "tiny"
    if not _tmpfs(mnt, "16m"):
        pytest.skip("cannot mount tmpfs here")
    try:
        db = mnt / "s.duckdb"
        first = run_main(["qec", "run", "-d", "3", "--p", "0.01", "--shots", "3000", "--workers", "1",
                          "-q", "--db", db])
        assert first.returncode == 0, first.stderr
        before = _q(db, "SELECT run_id, shots, errors FROM results")
        used = sum(f.stat().st_size for f in mnt.iterdir())
        subprocess.run(["mount", "-o", f"remount,size={used // 1024 + 32}k", str(mnt)], check=True)
        r = subprocess.run(console_script("qec", "run", "-d", "5", "--p", "0.01", "--shots", "200000", "--seed", "5",
                                "--workers", "1", "-q", "--db", str(db)), capture_output=True, text=True,
                           env=_env(), timeout=240)
        line = one_line(r, 2)
        assert "store" in line, line
        subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)
        assert _q(db, "SELECT run_id, shots, errors FROM results WHERE run_id = ?", [before[0][0]]) == before
    finally:
        _umount(mnt)


def test_read_only_store_gives_one_line_and_is_left_intact(tmp_path):
    root = os.geteuid() == 0
    where = tmp_path / "ro"
    if root:
        if not _tmpfs(where, "16m"):
            pytest.skip("root ignores file modes and no tmpfs can be mounted here")
    else:
        where.mkdir()
    try:
        db = where / "s.duckdb"
        first = run_main(["qec", "run", "-d", "3", "--p", "0.01", "--shots", "2000", "--workers", "1",
                          "-q", "--db", db])
        assert first.returncode == 0, first.stderr
        digest = __import__("hashlib").sha256(db.read_bytes()).hexdigest()
        if root:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        else:
            db.chmod(0o444)
            where.chmod(0o555)
        r = run_main(["qec", "run", "-d", "3", "--p", "0.01", "--shots", "2000", "--seed", "8",
                      "--workers", "1", "-q", "--db", db])
        line = one_line(r, 2)
        assert "not writable" in line or "read-only" in line.lower(), line
        assert __import__("hashlib").sha256(db.read_bytes()).hexdigest() == digest
        # reading still works: the BOM command reads the store read-only
        bom = run_main(["models", "bom", "identity-predecoder", "--db", db])
        assert bom.returncode == 0, bom.stderr
    finally:
        if root:
            _umount(where)
        else:
            where.chmod(0o755)


def test_json_and_evidence_files_are_never_half_written(tmp_path):
    """A write that fails midway (here: a file-size limit) leaves the previous file intact
    and no temporary file behind; the error is one line (exit 2)."""
    target = tmp_path / "out.json"
    target.write_text('{"old": true}\n')
    code = ("import sys\n"
            "from verifier.cli.options import write_json\n"
            "from verifier.errors import SovError\n"
            "try:\n"
            "    write_json(sys.argv[1], {'x': 'y' * 200000})\n"
            "except SovError as e:\n"
            "    print(e, file=sys.stderr); sys.exit(2)\n")
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                       env=_env(), preexec_fn=_limit_fsize(64 << 10))
    assert r.returncode == 2 and "cannot write --json" in r.stderr, r.stderr
    assert target.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    from verifier.evidence import record as evidence

    evidence.write({"a": 1}, tmp_path / "e.json")  # the ordinary path still writes
    assert json.loads((tmp_path / "e.json").read_text()) == {"a": 1}
    from verifier.cli.options import write_json

    write_json(str(target), {"new": 1})
    assert json.loads(target.read_text()) == {"new": 1} and oct(target.stat().st_mode & 0o777)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill9_with_workers_leaves_no_orphans(tmp_path):
    """Pool workers and their model sandboxes end with the sov process that owns them."""
    db = tmp_path / "w.duckdb"
    args = ["qec", "run", "--decoder", "identity-predecoder", "-d", "5", "--p", "0.01",
            "--shots", "400000", "--seed", "12", "--workers", "2", "-q", "--db", str(db)]
    hooks = _hooked(tmp_path)
    p = subprocess.Popen(console_script(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=_env(SOV_TEST_HOOK_DIR=str(hooks)))
    _held_at_first_block_write(hooks, p)
    # held: the workers have decoded blocks, so each has its sandbox (or is starting it)
    deadline = time.monotonic() + 60
    family: list[int] = []
    while time.monotonic() < deadline:
        family = descendants(p.pid)
        sandboxes = [c for c in family if "adapters.sandbox_child" in cmdline(c)]
        if len(sandboxes) >= 2:
            break
        time.sleep(0.05)
    assert p.poll() is None
    assert len(family) >= 4, family  # forkserver, 2 workers, their sandboxes
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    wait_until(lambda: not any(alive(c) for c in family), timeout=15)
    assert not [c for c in family if alive(c)]
    assert _q(db, "SELECT count(*) FROM runs")[0][0] == 1  # and the store still opens
