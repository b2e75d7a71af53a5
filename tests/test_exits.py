"""Every exit is clean: ``--debug`` anywhere on the command line changes nothing but the
traceback on an error; SIGTERM and SIGHUP stop a run as Ctrl-C does (recorded incomplete,
workers stopped, one line, 128 + the signal); the store records the exit code the process
returns."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from adapters.reference_models import save
from tests.fixtures.cli import console_script, one_line
from tests.fixtures.onnx_models import constant_decoder, nan_decoder
from tests.fixtures.processes import alive, cmdline, descendants, wait_until
from tests.fixtures.stores import read_rows
from tests.test_accept import flipping_predecoder

W = ["--distance", "3", "--rounds", "3", "--basis", "z", "--noise", "uniform", "--p", "0.01",
     "--shots", "2000", "--seed", "1", "--workers", "1"]


def _last_run(db) -> tuple[str, int]:
    return read_rows(str(db), "SELECT status, exit_code FROM runs ORDER BY started_at DESC LIMIT 1")[0]


# -- --debug ------------------------------------------------------------------------------------

def test_split_debug_takes_the_flag_from_anywhere_before_a_double_dash():
    from verifier.cli.app import split_debug

    assert split_debug(["models", "inspect", "m.onnx", "--debug"]) == (["models", "inspect", "m.onnx"], True)
    assert split_debug(["--debug", "history", "list"]) == (["history", "list"], True)
    assert split_debug(["history", "list"]) == (["history", "list"], False)
    assert split_debug(["x", "--", "--debug"]) == (["x", "--", "--debug"], False)


def test_debug_after_the_subcommand_on_a_passing_command_changes_nothing(cli, identity_path):
    plain = cli("models", "inspect", identity_path)
    for args in (["models", "inspect", identity_path, "--debug"], ["--debug", "models", "inspect", identity_path]):
        r = cli(*args)
        assert (r.returncode, r.stderr, r.stdout) == (0, "", plain.stdout), r.stderr[-2000:]


@pytest.mark.parametrize("args,code,needle", [
    (["models", "inspect", "nope.onnx"], 2, "model file not found"),  # a sov error
    (["models", "inspect", "--bogus"], 2, "No such option: --bogus"),  # click's usage error
])
def test_debug_on_a_failing_command_adds_the_traceback_and_keeps_the_exit_code(cli, tmp_path, args, code, needle):
    plain = one_line(cli(*args, cwd=tmp_path), code)
    for where in (len(args), 0, 1):
        r = cli(*args[:where], "--debug", *args[where:], cwd=tmp_path)
        assert r.returncode == code, (where, r.stderr[-2000:])
        assert "Traceback" in r.stderr and needle in r.stderr
        assert r.stderr.strip().splitlines()[-1] == plain  # the same line ends it


def test_debug_keeps_the_exit_code_of_a_recorded_integrity_failure(cli, tmp_path):
    db = tmp_path / "s.duckdb"
    r = cli("qec", "run", "--decoder", save(nan_decoder(1), tmp_path / "nan.onnx"), *W, "--db", db, "--debug")
    assert r.returncode == 4 and "Traceback" in r.stderr and "NaN" in r.stderr.strip().splitlines()[-1]
    assert _last_run(db) == ("integrity", 4)


# -- the store records the process's exit code --------------------------------------------------

def test_store_records_the_exit_code_the_process_returns(cli, tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    # gate failed (1): a clearly degraded candidate
    flip = save(flipping_predecoder(), tmp_path / "flip.onnx")
    r = cli("accept", "--candidate", flip, "--baseline", "pymatching", "--distance", "3", "--rounds", "3",
            "--p", "0.01", "--seed", "1", "--workers", "1", "-q", "--shots", "20000", "--db", db)
    assert r.returncode == 1, r.stderr
    assert _last_run(db) == ("failed", 1)
    # usage (2): a model that does not fit the workload
    wrong = save(constant_decoder(99, 1, flip=False), tmp_path / "wrong.onnx")
    one_line(cli("qec", "run", "--decoder", wrong, *W, "--db", db), 2)
    assert _last_run(db) == ("error", 2)
    # integrity (4): NaN outputs
    one_line(cli("qec", "run", "--decoder", save(nan_decoder(1), tmp_path / "nan.onnx"), *W, "--db", db), 4)
    assert _last_run(db) == ("integrity", 4)
    # and a pass (0)
    assert cli("qec", "run", *W, "-q", "--db", db).returncode == 0
    assert _last_run(db) == ("ok", 0)
    # an unwritable --json is refused before any run is recorded
    (tmp_path / "file").write_text("")
    one_line(cli("qec", "run", *W, "-q", "--db", db, "--json", tmp_path / "file" / "x.json"), 2)
    assert _last_run(db) == ("ok", 0)
    # an error after the run was recorded (the disk fills while its JSON is written): the run says so too
    import verifier.atomic

    def disk_full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(verifier.atomic, "write_text_atomic", disk_full)
    line = one_line(cli("qec", "run", *W, "-q", "--db", db, "--json", tmp_path / "x.json"), 2)
    assert _last_run(db) == ("error", 2)
    assert read_rows(str(db), "SELECT message, summary IS NOT NULL FROM runs ORDER BY started_at DESC "
                              "LIMIT 1")[0] == (line.removeprefix("sov: error: "), True)


def test_a_stop_signal_while_the_end_is_recorded_is_not_lost(store, monkeypatch):
    """A SIGTERM that lands while the store records how a run ended does not cut that write
    short: the run is then recorded incomplete, with the signal's exit code, and stops."""
    from verifier.errors import Terminated, stop_on_signals
    from verifier.store.runs import recorded_run

    finish = store.finish_run
    calls = []

    def finish_and_get_signalled(run_id, status, **kw):
        calls.append(status)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # handled at once, in this (the main) thread
        finish(run_id, status, **kw)

    monkeypatch.setattr(store, "finish_run", finish_and_get_signalled)
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(), pytest.raises(Terminated) as e:
        with recorded_run(store, "test", []):
            pass
    assert e.value.exit_code == 143 and calls == ["ok", "incomplete"]
    assert store.query("SELECT status, exit_code FROM runs") == [("incomplete", 143)]
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


# -- SIGTERM and SIGHUP during a real run -------------------------------------------------------

@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("signum,code,workers", [(signal.SIGTERM, 143, 2), (signal.SIGHUP, 129, 1),
                                                 (signal.SIGINT, 130, 1)])
def test_stop_signal_mid_run_is_recorded_incomplete_and_leaves_no_orphans(tmp_path, signum, code, workers):
    """SIGTERM (systemd, CI cancellation), SIGHUP (a closed terminal) and Ctrl-C: one way out."""
    db = tmp_path / "s.duckdb"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "hold").touch()  # the run waits after its first committed write of blocks
    args = ["qec", "run", "--decoder", "identity-predecoder", "-d", "5", "--p", "0.01", "--shots", "1000000",
            "--seed", "11", "--workers", str(workers), "-q", "--db", str(db)]
    env = dict(os.environ, SOV_TEST_HOOK_DIR=str(hooks), OMP_NUM_THREADS="1")
    # as from a terminal: a shell runs a background job with SIGINT ignored, which sov keeps
    p = subprocess.Popen(console_script(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert wait_until(lambda: (hooks / "blocks-written").exists() or p.poll() is not None, timeout=120)
        assert p.poll() is None, p.stderr.read()[-2000:]
        family = descendants(p.pid)
        if workers > 1:  # the forkserver and the workers, which are busy decoding
            assert wait_until(lambda: len([c for c in descendants(p.pid) if "forkserver" in cmdline(c)]) >= 1)
            family = descendants(p.pid)
            assert len(family) >= 1 + workers, family
        os.kill(p.pid, signum)
        (hooks / "hold").unlink()
        err = p.stderr.read()
        assert p.wait(timeout=60) == code, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    said = "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    assert err == f"sov: {said}\n"
    status, exit_code, message = read_rows(str(db), "SELECT status, exit_code, message FROM runs")[0]
    assert (status, exit_code, message) == ("incomplete", code, said)
    assert wait_until(lambda: not any(alive(c) for c in family), timeout=15), [c for c in family if alive(c)]
    # what was done is kept, and counted as blocks of this run
    shots = read_rows(str(db), "SELECT coalesce(sum(shots), 0) FROM blocks")[0][0]
    assert 0 < shots < 1_000_000


def test_a_signal_started_ignored_stays_ignored():
    """``nohup sov ...`` ignores SIGHUP, and sov keeps it so; the others are handled."""
    from verifier.errors import stop_on_signals

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
