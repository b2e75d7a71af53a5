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


# -- accept, drift, history, evidence -------------------------------------------------------


# -- calibration ----------------------------------------------------------------------------


def _cal_fmt(v, pct: bool = True) -> str:
    if v is None:
        return "-"
    if pct:
        return f"{v:.3%}" if abs(v) >= 1e-4 else f"{v:.2e}"
    return f"{v:.6g}"


def calib_result_table(result):
    """``sov calib run``: one model's figures against the simulated truth."""
    from rich.table import Table

    wl = result.workload
    t = Table(title=f"{result.model} on {result.experiment}: {wl['repeats']} simulated qubits, seed {wl['seed']}, "
                    f"{wl['shots']} shots (workload {result.workload_id[:12]})", title_justify="left")
    if result.experiment == "readout":
        f = result.figures["assignment_fidelity"]
        for c in ("assignment fidelity median", "p05", "min", "truth-informed reference", "gap"):
            t.add_column(c, justify="right")
        t.add_row(_cal_fmt(f["assignment_fidelity_median"], False), _cal_fmt(f["assignment_fidelity_p05"], False),
                  _cal_fmt(f["assignment_fidelity_min"], False), _cal_fmt(f.get("reference_fidelity_median"), False),
                  _cal_fmt(f.get("gap_to_reference_median")))
        return t
    for c in ("parameter", "truth median", "rel. error median", "rel. error p95", "norm. error median",
              "norm. error p95", "bias", "failures"):
        t.add_column(c, justify="right" if c != "parameter" else "left")
    for p, f in result.figures.items():
        norm = "" if f["norm_error_scale"] == "truth" else " (linewidths)"
        t.add_row(f"{p} [{f['unit']}]", _cal_fmt(f["truth_median"], False), _cal_fmt(f["rel_error_median"]),
                  _cal_fmt(f["rel_error_p95"]), _cal_fmt(f["norm_error_median"]) + norm,
                  _cal_fmt(f["norm_error_p95"]), _cal_fmt(f["bias"]), f"{f['failures']}/{f['repeats']}")
    return t


def calib_result_notes(result) -> list[str]:
    """The lines under the table: the model's notes, then the first failures."""
    lines = [f"note: {note}" for note in result.notes]
    if result.failures:
        first = sorted(result.failures.items())[:3]
        lines.append(f"{len(result.failures)} failed fits, e.g. " + "; ".join(f"#{i}: {w}" for i, w in first))
    return lines


def calib_replay_table(report: dict):
    """``sov calib replay``: per action and qubit, the candidate beside Qibocal's re-fit."""
    from rich.table import Table

    t = Table(title=f"{report['model']} vs Qibocal on {report['folder']} (folder {report['folder_id'][:12]})",
              title_justify="left")
    for c in ("action", "qubit", "parameter", "candidate", "qibocal re-fit", "recorded", "cand. vs qibocal",
              "cand. spread", "qibocal spread"):
        t.add_column(c)
    for a in report["actions"]:
        if "skipped" in a:
            t.add_row(a["action"], "-", a["experiment"], "skipped: " + a["skipped"][:60], "", "", "", "", "")
            continue
        for q in a["qubits"]:
            for row in _replay_rows(q):
                t.add_row(a["action"], str(q["qubit"]), *row)
    return t


def _replay_rows(q: dict) -> list[tuple[str, ...]]:
    if "candidate_error" in q:
        return [("-", "error: " + q["candidate_error"][:60], "", "", "", "", "")]
    if "candidate_fidelity" in q:
        return [("assignment fidelity", _cal_fmt(q["candidate_fidelity"], False),
                 _cal_fmt(q.get("qibocal_fidelity"), False), "-",
                 f"labels agree {_cal_fmt(q.get('label_agreement'))}", "", "")]
    rows = []
    for p, v in q["candidate"].items():
        st = (q.get("stability") or {}).get(p, {})
        rows.append((p, _cal_fmt(v, False), _cal_fmt((q["qibocal_refit"] or {}).get(p), False),
                     _cal_fmt((q["qibocal_recorded"] or {}).get(p), False),
                     _cal_fmt(q["candidate_vs_qibocal"].get(p)),
                     _cal_fmt(st.get("candidate_rel_spread")), _cal_fmt(st.get("qibocal_rel_spread"))))
    return rows


def calib_experiments_table(experiments):
    """``sov calib experiments``."""
    from rich.table import Table

    t = Table(title="calibration experiments (units: Hz, ns, a.u.)", title_justify="left")
    for c in ("experiment", "params", "points", "sweep", "truth drawn from"):
        t.add_column(c)
    for e in experiments:
        t.add_row(e.name, ", ".join(f"{p.name} [{p.unit}]" for p in e.params), str(e.n_points), e.sweep,
                  "; ".join(f"{k}: {v}" for k, v in e.truth_ranges))
    return t


def calib_drift_message(sig: dict, prev: dict | None, cmp: dict | None) -> str:
    """``sov calib drift``: first signature, no shift, or the shift."""
    if prev is None:
        return f"{sig['model']} on {sig['experiment']}: first signature {sig['digest'][:16]} recorded"
    if not cmp["drift"]:
        return (f"{sig['model']} on {sig['experiment']}: no shift (signature {sig['digest'][:16]}, "
                f"previous {prev['digest'][:16]})")
    return (f"{sig['model']} on {sig['experiment']}: SHIFT against the signature of "
            f"{prev.get('model_sha256') or prev['fingerprint'][:16]}: {cmp['shift']}")


# -- models ---------------------------------------------------------------------------------
