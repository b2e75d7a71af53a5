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

_COLOUR = {"pass": "green", "fail": "red", "inconclusive": "yellow"}


def table(title: str, columns, rows):
    """A plain rich table: a title, column names, rows of cells (strings)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    return t


def print_accept(console, outcome) -> None:
    """The gates of ``sov accept``, the paired counts of each workload and the verdict."""
    console.print(table(f"sov accept: {outcome.candidate.get('name')} vs {outcome.baseline.get('name')}",
                        ("gate", "workload", "status", "decided by"),
                        [(g.name, g.workload or "-", f"[{_COLOUR[g.status]}]{g.status}[/]", g.message)
                         for g in outcome.gates]))
    for w in outcome.workloads:
        pc = w.paired
        console.print(f"  {w.name}: {w.workload.describe()}; paired shots {pc.shots:,}: both fail "
                      f"{pc.n11:,}, only candidate {pc.n10:,}, only baseline {pc.n01:,}")
    console.print(f"verdict: [bold {_COLOUR[outcome.verdict]}]{outcome.verdict.upper()}[/] "
                  f"(exit {outcome.exit_code}); run {outcome.run_id}, evidence "
                  f"#{outcome.evidence['record']['sequence']} {outcome.evidence['hash']['value'][:16]}"
                  + (" signed" if outcome.evidence["signatures"] else " unsigned"))


def print_watched(console, w, checks) -> None:
    """A model just registered for drift checks, with its reference replays."""
    console.print(f"watching {w.name}: {w.path} (sha256 {w.sha256[:16]}...)")
    for c in checks:
        if c.signature is not None:
            console.print(f"  reference {c.series}: signature {c.signature.get('digest', '')[:16]} on data "
                          f"{str(c.signature.get('reference_id'))[:12]}")
            continue
        console.print(f"  reference {c.series}: {c.errors}/{c.shots} errors (LER {c.ler:.3e}), "
                      f"{c.latency_us or float('nan'):.3g} us/shot decode")


def watched_table(ws):
    return table("watched models", ("name", "path", "sha256", "workloads", "since"),
                 [(w.name, w.path, w.sha256[:16], ", ".join(x["name"] for x in w.spec["workloads"]),
                   str(w.added_at)[:19]) for w in ws])


def _series_line(s) -> str:
    if s.signature is not None:
        return (f"  {s.series}: calibration signature {s.signature.get('digest', '')[:16]}"
                + ("" if s.cal_shift is None else
                   ("; identical to history" if s.cal_shift.get("identical") else
                    f"; shift {s.cal_shift.get('shift')}")))
    hist = (f"history {s.history_errors}/{s.history_shots} over {s.history_checks} checks"
            if s.history_checks else "no history yet: this check starts it")
    return (f"  {s.series}: {s.errors}/{s.shots} errors (LER {s.ler:.3e}); {hist}"
            + (f"; p = {s.ler_p:.2g}" if s.ler_p is not None else ""))


def print_drift(console, report) -> None:
    """Each watched model checked: ok or DRIFT, its series and what moved."""
    for m in report.models:
        colour = "red" if m.drift else "green"
        console.print(f"[bold {colour}]{m.watched.name}: {'DRIFT' if m.drift else 'ok'}[/]  ({m.watched.path})")
        for s in m.series:
            if not s.error:
                console.print(_series_line(s))
        for f in m.findings:
            console.print(f"  [{colour}]moved: {f}[/]")


def history_table(rows):
    return table("sov history", ("run", "command", "status", "exit", "verdict", "started"),
                 [(r["run_id"], r["command"], r["status"], str(r["exit_code"]), r["verdict"] or "-",
                   str(r["started_at"])[:19]) for r in rows])


def print_run(console, d: dict) -> None:
    """One run of ``sov history show``: command line, results, verdicts, drift checks."""
    r = d["run"]
    console.print(f"[bold]{r['run_id']}[/bold]  sov {r['command']}  {r['status']} (exit {r['exit_code']})  "
                  f"{r['started_at']} .. {r['finished_at']}")
    console.print(f"  argv: {' '.join(r['argv'] or [])}")
    if r.get("message"):
        console.print(f"  message: {r['message']}")
    for x in d["results"]:
        console.print(f"  result: {x['decoder']} on workload {str(x['workload_id'])[:12]}: "
                      f"{x['errors']}/{x['shots']} errors, LER {x['ler']:.3e}" if x["ler"] is not None else
                      f"  result: {x['decoder']}: {x['shots']} shots")
    for v in d["verdicts"]:
        console.print(f"  verdict ({v['kind']}): {v['verdict']} exit {v['exit_code']}, evidence {str(v['evidence_hash'])[:16]}")
        for g in v["gates"] or []:
            console.print(f"    {g['status']:12s} {g['name']} [{g.get('workload')}]: {g['message']}")
    for c in d["drift_checks"]:
        console.print(f"  drift check {c['name']} {c['series']}: {c['status']}")


def print_exported(console, files) -> None:
    for f in files:
        console.print(f"  {f['table']:16s} {f['rows']:>8,} rows  {f['path']}")


def print_verification(console, rep, what: str) -> None:
    """Every check of an evidence verification, then intact (the failure goes to stderr)."""
    for c in rep.checks:
        console.print(f"  {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
    if rep.ok:
        console.print(f"{what}: intact" + (f" (verdict {rep.verdict})" if rep.verdict else ""))


def print_keys(console, priv, pub, keys) -> None:
    console.print(f"private key: {priv}  (keep it secret: it signs evidence)")
    console.print(f"public key:  {pub}  (give it to verifiers: sov evidence verify FILE --key {pub.name})")
    for k in keys:
        console.print(f"  {k.alg:10s} key_id {k.key_id}")



# -- calibration ----------------------------------------------------------------------------


# -- models ---------------------------------------------------------------------------------
