from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def store(tmp_path):
    from verifier.store.db import Store

    return Store(tmp_path / "t.duckdb")


def sov(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run the real console entry point in a subprocess; returns CompletedProcess."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", "from verifier.cli.launch import entry; entry()", *args],
                          capture_output=True, text=True, cwd=cwd, env=e, timeout=timeout)


@pytest.fixture
def run_sov():
    return sov
