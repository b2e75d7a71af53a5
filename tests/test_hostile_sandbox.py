"""The model sandbox itself: same answers as in-process onnxruntime, and every way the child
can fail (killed, hung, lying, swapped file) ends as an IntegrityError, never a hang."""

from __future__ import annotations

import json
import os
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from adapters.reference_models import identity_predecoder_flat, save
from adapters.runtime import RuntimeOptions
from adapters.sandbox import open_session
from tests.fixtures.onnx_models import constant_decoder
from tests.fixtures.processes import alive, wait_until
from verifier.errors import IntegrityError, ResourceLimit

ROOT = Path(__file__).resolve().parents[1]


def _two_input_model(tmp_path) -> str:
    """A cal.fit-like model: params = [mean(x * y)] with float32 inputs x, y."""
    nodes = [helper.make_node("Mul", ["x", "y"], ["xy"]),
             helper.make_node("ReduceMean", ["xy", "ax"], ["params"], keepdims=1)]
    g = helper.make_graph(nodes, "fit", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 16]),
                                         helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 16])],
                          [helper.make_tensor_value_info("params", TensorProto.FLOAT, ["b", 1])],
                          initializer=[helper.make_tensor("ax", TensorProto.INT64, [1], [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    return save(m, tmp_path / "fit.onnx")


def test_sandboxed_session_matches_in_process(identity_path, tmp_path):
    path = identity_path
    x = (np.random.default_rng(0).random((1000, 50)) < 0.2).astype(np.uint8)
    s = open_session(path, RuntimeOptions())
    direct = open_session(path, RuntimeOptions(), sandbox=False)
    try:
        assert type(s).__name__ == "SandboxedSession" and type(direct).__name__ == "InferenceSession"
        assert [(a.name, a.type, list(a.shape)) for a in s.get_inputs()] == \
               [(a.name, a.type, list(a.shape)) for a in direct.get_inputs()]
        assert [a.name for a in s.get_outputs()] == [a.name for a in direct.get_outputs()]
        assert s.get_providers() == ["CPUExecutionProvider"]
        a = s.run(None, {"dets": x})[0]
        b = direct.run(None, {"dets": x})[0]
        assert a.dtype == b.dtype and np.array_equal(a, b)
        assert s.run(["L_and_residual_dets"], {"dets": x[:0]})[0].shape == (0, 51)  # empty batch
    finally:
        s.close()
    # several inputs, float32 (the calibration contracts)
    fit = _two_input_model(tmp_path)
    xs = np.random.default_rng(1).random((7, 16), dtype=np.float32)
    ys = np.random.default_rng(2).random((7, 16), dtype=np.float32)
    with open_session(fit, RuntimeOptions()) as s2:
        got = s2.run(["params"], {"x": xs, "y": ys})[0]
    want = open_session(fit, RuntimeOptions(), sandbox=False).run(["params"], {"x": xs, "y": ys})[0]
    assert np.array_equal(got, want)


def test_env_switch_runs_in_process(tmp_path, monkeypatch):
    path = save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    monkeypatch.setenv("SOV_SANDBOX", "0")
    assert type(open_session(path, RuntimeOptions())).__name__ == "InferenceSession"
    monkeypatch.setenv("SOV_SANDBOX", "1")
    s = open_session(path, RuntimeOptions())
    assert type(s).__name__ == "SandboxedSession"
    s.close()


def test_killed_child_is_an_integrity_error_and_close_reaps_it(tmp_path):
    path = save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    s = open_session(path, RuntimeOptions())
    pid = s.pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(IntegrityError, match="sandbox died.*SIGKILL"):
        s.run(None, {"dets": np.zeros((4, 8), np.uint8)})
    with pytest.raises(IntegrityError, match="stopped after an earlier failure"):
        s.run(None, {"dets": np.zeros((4, 8), np.uint8)})
    s.close()
    s2 = open_session(path, RuntimeOptions())
    pid2 = s2.pid
    s2.close()
    assert not alive(pid2)


def test_timeout_stops_the_child(tmp_path):
    from adapters.sandbox import SandboxedSession
    from test_hostile import slow_loop

    s = SandboxedSession(slow_loop(tmp_path), RuntimeOptions(), batch_timeout=1.5)
    pid = s.pid
    t0 = time.monotonic()
    with pytest.raises(ResourceLimit, match="took longer than the limit of 1.5 s"):
        s.run(None, {"dets": np.zeros((4, 24), np.uint8)})
    assert time.monotonic() - t0 < 10
    assert not alive(pid)
    s.close()


def test_garbage_collected_sessions_leave_no_children(tmp_path):
    import gc

    path = save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    pids = []
    for _ in range(3):
        s = open_session(path, RuntimeOptions())
        pids.append(s.pid)
        del s
    gc.collect()
    # the finalizers end the children; wait for that rather than a fixed time
    wait_until(lambda: not any(alive(pid) for pid in pids))
    assert not [pid for pid in pids if alive(pid)]


def test_model_swapped_after_checks_is_refused(tmp_path):
    """The bytes the child loads are the bytes the parent checked: a file replaced between
    the check and the load is an integrity failure, not a silently different model."""
    from adapters.onnx_decoder import OnnxDecoder
    from verifier.qec.workload import MemoryWorkload

    path = save(identity_predecoder_flat(1), tmp_path / "m.onnx")
    dec = OnnxDecoder.from_file(path)
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 100, 1)
    dec.check(w)
    save(constant_decoder(24, 1, flip=True, metadata={"sov.contract": "qec.predecoder.flat"}), tmp_path / "m.onnx")
    with pytest.raises(IntegrityError, match="changed on disk"):
        dec.compile_for(w)


def test_parent_rejects_malformed_replies():
    """What a compromised child could send: object dtypes, sizes that lie, endless output."""
    from adapters.sandbox_protocol import Broken, read_message

    def reply(header: dict, payload: bytes = b"") -> tuple[int, int]:
        r, w = os.pipe()
        text = json.dumps(header).encode()
        os.write(w, struct.pack("<Q", len(text)) + text + payload)
        os.close(w)
        return r

    cases = [
        {"ok": True, "arrays": [{"dtype": "object", "shape": [1], "nbytes": 8}]},
        {"ok": True, "arrays": [{"dtype": "float32", "shape": [4], "nbytes": 8}]},
        {"ok": True, "arrays": [{"dtype": "uint8", "shape": [-1], "nbytes": 1}]},
        {"ok": True, "arrays": [{"dtype": "uint8", "shape": [1 << 40], "nbytes": 1 << 40}]},
        {"ok": True, "arrays": "nope"},
        {"ok": True, "arrays": [{"dtype": "uint8"}]},
    ]
    for h in cases:
        fd = reply(h, b"\0" * 16)
        with pytest.raises(Broken):
            read_message(fd, time.monotonic() + 5, max_payload=1 << 20)
        os.close(fd)
    r, w = os.pipe()
    os.write(w, struct.pack("<Q", 1 << 40))
    os.close(w)
    with pytest.raises(Broken):
        read_message(r, time.monotonic() + 5, max_payload=1 << 20)
    os.close(r)
    # a well-formed reply round-trips
    fd = reply({"ok": True, "arrays": [{"name": "a", "dtype": "uint8", "shape": [2, 2], "nbytes": 4}]},
               bytes([1, 2, 3, 4]))
    _, arrays = read_message(fd, time.monotonic() + 5, max_payload=1 << 20)
    os.close(fd)
    assert arrays[0].tolist() == [[1, 2], [3, 4]]


def test_no_custom_operator_library_is_ever_registered():
    """Static guard: nothing in sov's own code loads custom-op or provider libraries."""
    for folder in ("adapters", "verifier", "baselines", "reports"):
        for f in (ROOT / folder).rglob("*.py"):
            text = f.read_text()
            for bad in ("register_custom_ops_library", "load_provider_library", "add_external_initializers",
                        "register_execution_provider_library"):
                assert bad not in text or f.name == "test_hostile_sandbox.py", (f, bad)


def test_bad_limits_in_the_environment_are_usage_errors(cli, tmp_path):
    r = cli("qec", "run", "--decoder", "identity-predecoder", "-d", "3", "--p", "0.01", "--shots", "100",
            "--workers", "1", "-q", "--db", str(tmp_path / "s.duckdb"), env={"SOV_BATCH_TIMEOUT_S": "soon"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "SOV_BATCH_TIMEOUT_S" in r.stderr, r.stderr


@pytest.mark.slow
def test_sandbox_in_worker_processes_gives_the_same_answer(run_sov, tmp_path):
    """--workers 2: each worker process has its own sandbox child; answers do not change.
    (A subprocess: the worker pool and its sandboxes belong to the sov process.)"""
    args = ["qec", "run", "--decoder", "identity-predecoder", "-d", "3", "--p", "0.02", "--shots", "20000",
            "-q", "--json", "-"]
    a = run_sov(*args, "--workers", "2", "--db", str(tmp_path / "a.duckdb"))
    b = run_sov(*args, "--workers", "1", "--db", str(tmp_path / "b.duckdb"), env={"SOV_SANDBOX": "0"})
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert json.loads(a.stdout)["errors"] == json.loads(b.stdout)["errors"]
    assert json.loads(a.stdout)["fingerprint"] == json.loads(b.stdout)["fingerprint"]


def test_load_timeout_stops_the_child(tmp_path):
    from adapters.sandbox import SandboxedSession

    path = save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    t0 = time.monotonic()
    with pytest.raises(ResourceLimit, match=r"id.onnx: .*loading took longer than the limit .*SOV_LOAD_TIMEOUT_S"):
        SandboxedSession(path, RuntimeOptions(), load_timeout=0.05)
    assert time.monotonic() - t0 < 10


def test_threads_share_one_session_safely(identity_path):
    from concurrent.futures import ThreadPoolExecutor

    path = identity_path
    rng = np.random.default_rng(5)
    xs = [(rng.random((int(rng.integers(1, 3000)), 40)) < 0.3).astype(np.uint8) for _ in range(24)]
    with open_session(path, RuntimeOptions()) as s:
        with ThreadPoolExecutor(6) as pool:
            outs = list(pool.map(lambda x: s.run(None, {"dets": x})[0], xs))
    for x, y in zip(xs, outs):
        assert np.array_equal(y[:, 1:], x) and not y[:, 0].any()


def test_sandbox_child_loads_only_the_runtime_and_the_wire_format():
    """What a hostile model's process holds of sov: no decoders, contracts or store."""
    import subprocess
    import sys

    code = ("import sys, adapters.sandbox_child; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('adapters', 'verifier', 'baselines', 'reports'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split()
    assert {"adapters.sandbox_child", "adapters.runtime", "adapters.sandbox_protocol"} <= set(out)
    assert not [m for m in out if m.split(".")[0] in ("baselines", "reports")
                or m in ("adapters.onnx_decoder", "adapters.sandbox", "adapters.grid", "verifier.store")]
