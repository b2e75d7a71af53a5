"""Human output for the terminal: rich tables and progress bars on stderr."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


def fmt_rate(x: float | None, lo: float | None = None, hi: float | None = None) -> str:
    if x is None or x != x:
        return "n/a"
    s = f"{x:.3e}"
    if lo is not None and hi is not None:
        s += f" [{lo:.2e}, {hi:.2e}]"
    return s


def task_table(results, *, title: str = "QEC replay"):
    """A rich table of one or more TaskResults (one row each)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in ("decoder", "shots", "errors", "LER (95% CI)", "LER / round", "shots/s", "fingerprint"):
        t.add_column(col, justify="right" if col in ("shots", "errors", "shots/s") else "left")
    for r in results:
        d = r.to_json()
        lo, hi = d["ler_ci"]
        t.add_row(d["decoder"], f"{d['shots']:,}", f"{d['errors']:,}", fmt_rate(d["ler"], lo, hi),
                  fmt_rate(d["ler_per_round"]), f"{d['shots_per_second']:,.0f}" if d["shots_per_second"] == d["shots_per_second"] else "n/a",
                  d["fingerprint"][:12])
    return t


@contextmanager
def shot_progress(label: str, *, quiet: bool = False) -> Iterator:
    """A progress callback ``(stats, total)`` drawing on stderr when it is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} shots"),
                  TextColumn("{task.fields[errors]} errors"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(label, total=1, errors=0)
        started = time.monotonic()

        def update(stats, total: int) -> None:
            if time.monotonic() - started > 0.2 or stats.shots >= total:
                prog.update(task, completed=stats.shots, total=total, errors=stats.errors)

        yield update


# -- qec: runs, sweeps, latency, crosscheck -------------------------------------------------


# -- compare and reports --------------------------------------------------------------------


def compare_tables(payload: dict, *, reused_from: str | None = None) -> list:
    """What the terminal shows of a comparison payload; with ``reused_from`` (a fresh run,
    not a re-render) also how many shots came from that store."""
    from reports.compare_fmt import calibration_table, terminal_table

    out: list = []
    if payload.get("decoders"):
        out.append(terminal_table(payload))
    if payload.get("calibration"):
        out.append(calibration_table(payload["calibration"]))
    reused = sum(r["reused_shots"] for r in payload.get("results") or [])
    if reused_from is not None and reused:
        out.append(f"{reused:,} shots reused from the store {reused_from}")
    return out



# -- accept, drift, history, evidence -------------------------------------------------------


# -- calibration ----------------------------------------------------------------------------


# -- models ---------------------------------------------------------------------------------
