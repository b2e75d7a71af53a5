from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.fixtures.cli import run_console_script, run_main

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_NUM_THREADS", "1")
# the evidence trust store: never the user's ~/.config/sov/trusted (tests that trust keys use their own)
os.environ["SOV_TRUST_DIR"] = tempfile.mkdtemp(prefix="sov-trust-")


@pytest.fixture
def store(tmp_path):
    from verifier.store.db import Store

    return Store(tmp_path / "t.duckdb")


@pytest.fixture
def run_sov():
    """``sov`` as a subprocess: only for tests about the process (see tests/fixtures/cli.py)."""
    return run_console_script


@pytest.fixture
def cli(monkeypatch):
    """``sov ARGS`` in this process: ``cli(*args, cwd=..., env=...)`` returns an object with
    ``returncode``, ``stdout`` and ``stderr``. ``cwd`` and ``env`` hold for that one call
    (as they would for a subprocess); replaying tests pass ``--workers 1`` so that no
    worker pool outlives the command in the pytest process."""

    from verifier.engine import pool

    def run(*args, cwd: Path | None = None, env: dict[str, str] | None = None):
        had_pool = pool._POOL.get("pool")
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            for k, v in (env or {}).items():
                m.setenv(k, v)
            r = run_main(args)
        assert pool._POOL.get("pool") is had_pool, "a replay in process needs --workers 1 (or a subprocess)"
        return r

    return run


@pytest.fixture(scope="session")
def identity_path(tmp_path_factory) -> str:
    """The identity pre-decoder (PyMatching behind a no-op model), saved once per session."""
    from adapters.reference_models import identity_predecoder_flat, save

    return save(identity_predecoder_flat(1), tmp_path_factory.mktemp("m") / "identity.onnx")
