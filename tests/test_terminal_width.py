"""Terminal tables never cut a figure, an interval or an id, at 80 columns or at 200: rich's
default overflow would print ``3.27e-0…``; sov's tables wrap the cell instead."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from baselines.pymatching_decoder import PyMatchingDecoder
from reports.terminal import history_table, task_table
from verifier.engine.replay import replay
from verifier.qec.workload import MemoryWorkload


def _render(table, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)
    console.print(table)
    return console.export_text()


def _cells(text: str) -> str:
    """Each column's text, its lines joined (a wrapped cell reads whole again), columns
    separated by ``|``."""
    columns: dict[int, str] = {}
    for line in text.splitlines():
        if line.startswith("│"):
            for i, part in enumerate(line.strip("│").split("│")):
                columns[i] = columns.get(i, "") + part.strip()
    return "|".join(columns[i] for i in sorted(columns))


@pytest.fixture(scope="module")
def result():
    return replay(PyMatchingDecoder(), MemoryWorkload(3, 3, "z", "uniform", 0.01, 2000, 7))


@pytest.mark.parametrize("width", [80, 200])
def test_a_replay_table_keeps_every_figure(result, width):
    text = _render(task_table([result], title="t"), width)
    assert "…" not in text
    lo, hi = result.ler_ci
    for figure in (f"{result.stats.ler:.3e}", f"{lo:.2e}", f"{hi:.2e}", result.fingerprint[:12], "pymatching"):
        assert figure in _cells(text), (figure, text)


@pytest.mark.parametrize("width", [80, 200])
def test_history_keeps_the_run_ids_that_history_show_needs(width):
    rows = [{"run_id": f"20261201-0947{i:02d}-9f2244", "command": "qec threshold", "status": "inconclusive",
             "exit_code": 3, "verdict": "inconclusive", "started_at": "2026-12-01T09:47:54.123456"}
            for i in range(3)]
    text = _render(history_table(rows), width)
    assert "…" not in text
    for r in rows:
        assert r["run_id"] in _cells(text)
