"""Human output for the terminal: rich tables and progress bars on stderr."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from reports.tables import new_table


def fmt_rate(x: float | None, lo: float | None = None, hi: float | None = None) -> str:
    if x is None or x != x:
        return "n/a"
    s = f"{x:.3e}"
    if lo is not None and hi is not None:
        s += f" [{lo:.2e}, {hi:.2e}]"
    return s


def task_table(results, *, title: str = "QEC replay"):
    """A rich table of one or more TaskResults (one row each)."""
    t = new_table(title=title, title_justify="left")
    for col in ("decoder", "shots", "errors", "LER (95% CI)", "LER / round", "shots/s", "fingerprint"):
        t.add_column(col, justify="right" if col in ("shots", "errors", "shots/s") else "left")
    for r in results:
        d = r.to_json()
        lo, hi = d["ler_ci"]
        t.add_row(d["decoder"], f"{d['shots']:,}", f"{d['errors']:,}", fmt_rate(d["ler"], lo, hi),
                  fmt_rate(d["ler_per_round"]), f"{d['shots_per_second']:,.0f}" if d["shots_per_second"] == d["shots_per_second"] else "n/a",
                  d["fingerprint"][:12])
    return t


def fault_probe_line(probe: dict | None, *, who: str = "") -> str | None:
    """One line of the single-fault probe (``verifier.qec.probe``), or None without one."""
    if not probe or probe.get("reason") == "open_baseline":
        return None
    if "skipped" in probe:
        return f"fault probe{' ' + who if who else ''}: not run ({probe['skipped']})"

    def base(n) -> str:
        return f"(pymatching {n:,})" if n is not None else "(pymatching cannot decode this DEM)"

    w1 = (f"{probe['weight1_failed']:,} of {probe['weight1_total']:,} single faults wrong "
          f"{base(probe['baseline_weight1_failed'])}")
    if probe.get("weight1_ambiguous"):
        w1 += f", {probe['weight1_ambiguous']:,} undecidable"
    w2 = (f"; {probe['weight2_failed']:,} of {probe['weight2_sampled']:,} sampled pairs wrong "
          f"{base(probe['baseline_weight2_failed'])}" if probe.get("weight2_sampled") else "")
    empty = "" if probe.get("empty_syndrome_ok", True) else "; [red]flips on the empty syndrome[/]"
    colour = "red" if probe.get("weight1_failed_baseline_ok") or empty else "green"
    return (f"fault probe{' ' + who if who else ''}: [{colour}]{w1}[/]{w2}{empty} "
            f"({probe.get('seconds', 0.0):.1f} s)")


@contextmanager
def shot_progress(label: str, *, quiet: bool = False) -> Iterator:
    """A progress callback ``(stats, total)`` drawing on stderr when it is a terminal.

    The count moves per inference batch of a slow model (the run loop reports shots
    decoded inside a block; errors are counted per finished block). The first call sets
    the start (shots the store already held), so the rate and the time left count only
    the shots decoded since."""
    with _bar(label, "shots", quiet=quiet, errors=True) as bar:
        yield None if bar is None else (lambda stats, total: bar(stats.shots, total, errors=stats.errors))


@contextmanager
def latency_progress(label: str, *, quiet: bool = False) -> Iterator:
    """A progress callback ``(timed, total)`` for a latency measurement's single-shot
    calls, drawn like :func:`shot_progress` (nothing with ``quiet`` or off a terminal)."""
    with _bar(label, "shots timed", quiet=quiet) as bar:
        yield None if bar is None else (lambda done, total: bar(done, total))


@contextmanager
def _bar(label: str, unit: str, *, quiet: bool, errors: bool = False) -> Iterator:
    """One transient rich bar on stderr, or None when quiet or not a terminal: yields
    ``update(completed, total, **fields)``."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:,.0f} {unit.split()[0]}/s" if task.speed else "")

    columns = [TextColumn("{task.description}"), BarColumn(),
               TextColumn(f"{{task.completed:,}}/{{task.total:,}} {unit}")]
    if errors:
        columns.append(TextColumn("{task.fields[errors]} errors"))
    with Progress(*columns, Rate(), TimeRemainingColumn(), console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(label, total=1, errors=0)
        started = [False]

        def update(completed: int, total: int, **fields) -> None:
            if not started[0]:  # what was done before this run started is not speed
                started[0] = True
                prog.reset(task, total=total, completed=completed, **fields)
            else:
                prog.update(task, completed=completed, total=total, **fields)

        yield update


# -- qec: runs, sweeps, latency, crosscheck -------------------------------------------------


def demo_lines(results, *, workload_id: str, store_path: str, run_id: str) -> list:
    """``sov demo``'s summary: the table, then each model's errors against PyMatching's."""
    lines: list = [task_table(results, title=f"workload {workload_id[:12]}")]
    base = results[0].stats
    for r in results[1:]:
        same = "same errors as PyMatching" if r.stats.errors == base.errors else \
            f"{r.stats.errors - base.errors:+d} errors vs PyMatching"
        lines.append(f"  {r.decoder_name}: {same}")
    lines.append(f"recorded in {store_path}: run {run_id}; try `sov qec run --help`.")
    return lines


_LATENCY_KEYS = ("p50", "p99", "p99.9", "mean", "max")


def latency_table(res, title: str):
    """``sov qec latency``: per-shot and per-round percentiles of a LatencyResult."""
    t = new_table(title=title, title_justify="left")
    for col in ("", *_LATENCY_KEYS):
        t.add_column(col, justify="right")
    t.add_row("per shot (µs)", *(f"{res.per_shot_us[k]:,.2f}" for k in _LATENCY_KEYS))
    if res.per_round_us:
        t.add_row("per round (µs)", *(f"{res.per_round_us[k]:,.3f}" for k in _LATENCY_KEYS))
    if res.sandbox_transport_us:
        t.add_row("sandbox transport, not counted (µs)",
                  *(f"{res.sandbox_transport_us[k]:,.2f}" for k in _LATENCY_KEYS))
    return t


def latency_verdict(res) -> str | None:
    """The line under the latency table: the budget and whether p99 meets it."""
    if res.budget_us_per_shot is None:
        return None
    verdict = "meets" if res.meets_budget else "misses"
    return (f"budget {res.budget_us_per_round:g} µs/round x {res.rounds} rounds = {res.budget_us_per_shot:g} µs/shot: "
            f"{res.within_budget:.1%} of shots within it; p99 {verdict} the budget")


def _runtime(spec: dict) -> str:
    return f"{spec.get('provider')}/{spec.get('graph_optimization')}"


def crosscheck_table(check):
    """``sov qec crosscheck``: one row per pair of runtimes (a RuntimeCrosscheck)."""
    t = new_table(title=f"{check.variants[0].name}: per-shot predictions across runtimes ({check.workload.describe()})",
              title_justify="left")
    for col in ("reference", "other", "compared shots", "differing shots", "agree"):
        t.add_column(col, justify="right" if "shots" in col else "left")
    for r in check.pairs:
        t.add_row(_runtime(r.reference_spec), _runtime(r.other_spec), f"{r.compared_shots:,}",
                  f"{r.differing_shots:,}", "yes" if r.agree else "NO")
    return t


def crosscheck_differences(check) -> list[str]:
    """One line per listed differing shot, under the crosscheck table."""
    return [f"  differs at shot {d.shot}: {_runtime(r.reference_spec)} predicts {d.reference}, "
            f"{_runtime(r.other_spec)} predicts {d.other}" for r in check.pairs for d in r.differences]



# -- compare and reports --------------------------------------------------------------------


def compare_tables(payload: dict, *, reused_from: str | None = None) -> list:
    """What the terminal shows of a comparison payload; with ``reused_from`` (a fresh run,
    not a re-render) also how many shots came from that store."""
    from reports.compare_fmt import calibration_table, procurement_table, terminal_table

    out: list = []
    if payload.get("decoders"):
        out.append(terminal_table(payload))
        out.append(procurement_table(payload))
    if payload.get("calibration"):
        out.append(calibration_table(payload["calibration"]))
    out += compare_probe_lines(payload)
    reused = sum(r["reused_shots"] for r in payload.get("results") or [])
    if reused_from is not None and reused:
        out.append(f"{reused:,} shots reused from the store {reused_from}")
    return out


def compare_probe_lines(payload: dict) -> list[str]:
    """One fault-probe line per probed decoder of a comparison, its counts summed over the
    grid's workloads."""
    labels = {d["key"]: d["label"] for d in payload.get("decoders") or []}
    summed: dict[str, dict] = {}
    keys = ("weight1_total", "weight1_ambiguous", "weight1_failed", "baseline_weight1_failed",
            "weight1_failed_baseline_ok", "weight2_sampled", "weight2_failed", "baseline_weight2_failed",
            "seconds")
    for r in payload.get("results") or []:
        fp = r.get("fault_probe")
        if not fp or "skipped" in fp:
            continue
        acc = summed.setdefault(r["decoder"], {k: 0 for k in keys} | {"empty_syndrome_ok": True, "n": 0})
        for k in keys:  # a workload without a baseline column leaves the sum without one
            acc[k] = None if acc[k] is None or fp.get(k) is None else acc[k] + fp[k]
        acc["empty_syndrome_ok"] &= bool(fp.get("empty_syndrome_ok", True))
        acc["n"] += 1
    return [fault_probe_line(acc, who=labels.get(key, key[:12]) + (f" ({acc['n']} workloads)" if acc["n"] > 1 else ""))
            for key, acc in summed.items()]


def points_table(result, title: str):
    """The points of a sweep (``sov qec sweep | threshold | lambda``), by distance then rate."""
    t = new_table(title=title, title_justify="left")
    family = any("member" in q.figures for q in result.points)  # a model family: the file of each point
    for col in ("d", "rounds", "p", "shots", "errors", "LER (95% CI)", "LER / round", "reused",
                *(["model"] if family else [])):
        t.add_column(col, justify="left" if col.startswith("LER") or col == "model" else "right")
    for q in sorted(result.points, key=lambda r: (r.workload.distance, r.workload.p, r.workload.rounds)):
        lo, hi = q.ler_ci
        t.add_row(str(q.workload.distance), str(q.workload.rounds), f"{q.workload.p:g}",
                  f"{q.stats.shots:,}", f"{q.stats.errors:,}", fmt_rate(q.stats.ler, lo, hi),
                  fmt_rate(q.ler_per_round), f"{q.reused_shots:,}",
                  *([q.figures.get("member", {}).get("decoder", "")] if family else []))
    return t


def sweep_lines(res, *, noise: str, basis: str, store_path: str = "") -> list:
    """A ``workflows.sweep.GridResult`` as the terminal shows it (``noise``, ``basis``: as typed)."""
    r = res.sweep
    return [points_table(r, f"{r.decoder_name}: {noise} noise, basis {basis}"),
            f"{r.ran_shots:,} shots run, {r.reused_shots:,} reused from {store_path} in {r.seconds:.1f} s"]


def _threshold_line(fit) -> str:
    if fit.threshold is None:
        return f"threshold: not measured ({fit.message})"
    lo, hi = fit.threshold_ci
    ci = (f" [{lo:.4%}, {hi:.4%}] ({int(round(fit.confidence * 100))}% CI, bootstrap, with the spread "
          "over the fit choices)" if lo is not None else "")
    return f"threshold p_th = {fit.threshold:.4%}{ci}"


def _pct_ci(ci) -> str:
    lo, hi = ci
    return f" [{lo:.4%}, {hi:.4%}]" if lo is not None and hi is not None else ""


def _threshold_detail(fit) -> list[str]:
    """How the threshold was fitted: the rule's distances and window, each fit choice."""
    if fit.threshold is None:
        return []
    win = f", p in [{fit.window[0]:g}, {fit.window[1]:g}]" if fit.window else ""
    out = [f"  finite-size scaling over d = {', '.join(map(str, fit.fit_distances or fit.distances))}{win}: "
           f"nu = {fit.nu:.2f}, chi2/dof = {fit.chi2:.1f}/{fit.dof}"]
    for c in fit.choices:
        if c["threshold"] is not None:
            tag = "" if c["used"] else " (diagnostic, not in the interval)"
            out.append(f"  fit over {c['name']}: {c['threshold']:.4%}{_pct_ci(c['threshold_ci'])}{tag}")
    return out


def threshold_lines(res, *, noise: str, basis: str, store_path: str = "") -> list:
    """A ``workflows.sweep.ThresholdResult`` as the terminal shows it."""
    r, fit = res.sweep, res.fit
    out: list = [points_table(r, f"{r.decoder_name}: {noise} noise, basis {basis}"),
                 _threshold_line(fit), *_threshold_detail(fit)]
    for c in fit.crossings:
        a, b = c["distances"]
        where = f"{c['crossing']:.4%}" if c["crossing"] is not None else "no crossing in range"
        out.append(f"  d = {a} / {b} curves cross at {where}{_pct_ci(c['crossing_ci'])}")
    out.extend(f"warning: {w}" for w in fit.warnings)
    for label, bf in res.baselines.items():
        th = bf.get("threshold")
        out.append(f"  baseline {label}: threshold "
                   + (f"{th:.4%} [{bf['threshold_ci'][0]:.4%}, {bf['threshold_ci'][1]:.4%}]" if th
                      else bf.get("message", "n/a")))
    if fit.status != "ok":
        out.append(f"inconclusive: {fit.message}")
    out.append(f"{r.ran_shots:,} shots run, {r.reused_shots:,} reused, {r.seconds:.1f} s")
    return out


_CONVENTION = {
    "google": "google convention: 1 − 2 P_L(n) = A (1 − 2 ε_d)^n fitted over the round counts n, A free",
    "single-round-count": "single-round-count convention: 1 − 2 P_L = (1 − 2 ε_d)^rounds, one experiment per "
                          "distance, A = 1 (reads Λ high)",
}


def _epsilon_line(e) -> str:
    lo, hi = e.ci()
    val = f"{e.epsilon:.3e}" if e.epsilon is not None else "not measured"
    ci = f" [{lo:.3e}, {hi:.3e}]" if lo is not None and hi is not None else ""
    if e.convention != "google":
        return f"  ε_{e.distance} = {val}{ci} (rounds = {e.rounds[0]})"
    fit = f", A = {e.amplitude:.4f}, χ² = {e.chi2:.1f}/{len(e.points) - 2}" if e.chi2 is not None else ""
    return f"  ε_{e.distance} = {val}{ci} (n = {', '.join(map(str, e.rounds))}{fit})"


def lambda_lines(res, *, noise: str, basis: str, store_path: str = "") -> list:
    """A ``workflows.sweep.LambdaResult`` as the terminal shows it."""
    r, fit = res.sweep, res.fit
    out: list = [points_table(r, f"{r.decoder_name}: {noise} noise, p = {res.p:g}")]
    conf = f"{int(round(fit.confidence * 100))}%"
    if fit.lam is not None:
        lo, hi = fit.lam_ci
        ci = f" [{lo:.3f}, {hi:.3f}] ({conf} CI, parametric bootstrap)" if lo is not None else ""
        out.append(f"Λ = {fit.lam:.3f}{ci}")
    out.append(f"  {_CONVENTION.get(fit.convention, fit.convention)}; ε intervals {conf}")
    out.extend(_epsilon_line(e) for e in fit.estimates)
    for pr in fit.pairwise:
        if pr["lambda"] is not None:
            lo, hi = pr["lambda_ci"]
            out.append(f"  ε_{pr['from']} / ε_{pr['to']} = {pr['lambda']:.3f}"
                       + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""))
    for label, bf in res.baselines.items():
        if bf.lam is not None and bf.lam_ci[0] is not None:
            out.append(f"  baseline {label}: Λ = {bf.lam:.3f} [{bf.lam_ci[0]:.3f}, {bf.lam_ci[1]:.3f}] "
                       f"({bf.convention} convention)")
        else:
            out.append(f"  baseline {label}: Λ not measured ({bf.message})")
    if fit.status != "ok":
        out.append(f"inconclusive: {fit.message}")
    out.append(f"{r.ran_shots:,} shots run, {r.reused_shots:,} reused, {r.seconds:.1f} s")
    return out


# -- accept, drift, history, evidence -------------------------------------------------------

_COLOUR = {"pass": "green", "fail": "red", "inconclusive": "yellow"}


def table(title: str, columns, rows):
    """A plain rich table: a title, column names, rows of cells (strings)."""
    t = new_table(title=title, title_justify="left")
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
        for who, r in (("candidate", w.candidate), ("baseline", w.baseline)):
            if (line := fault_probe_line(r.figures.get("fault_probe"), who=who)) is not None:
                console.print(f"    {line}")
        if (b := w.best_open) is not None:
            lo, hi = b["ratio_ci"]
            ratio = f"{b['ratio']:.2f} [{lo:.2f}, {hi:.2f}]" if b["ratio"] is not None else "n/a"
            console.print(f"    best open decoder on these shots: {b['decoder']} ({b['errors']:,} failures, of "
                          f"{', '.join(b['considered'])}); candidate / it = {ratio}, "
                          f"non-inferiority {b['noninferiority']}")
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
            + (f"; p = {s.ler_p:.2g}" if s.ler_p is not None else "")
            + (f"; {s.latency_note}" if getattr(s, "latency_note", None) else ""))


def print_drift(console, report) -> None:
    """Each watched model checked: ok, DRIFT or INTEGRITY FAILURE, its series and what moved."""
    for m in report.models:
        colour = "red" if m.drift else "green"
        word = {"integrity": "INTEGRITY FAILURE", "drift": "DRIFT"}.get(m.status, "ok")
        console.print(f"[bold {colour}]{m.watched.name}: {word}[/]  ({m.watched.path})")
        for s in m.series:
            if not s.error:
                console.print(_series_line(s))
        for f in m.findings:
            console.print(f"  [{colour}]{'found' if m.integrity else 'moved'}: {f}[/]")
    b = report.budget
    level = (f"budget {b.per_year:.0%} false alarms a year over {b.checks_per_year:.0f} checks"
             if b else "explicit --alpha")
    console.print(f"[dim]level {report.alpha:.2g} per check (Holm over its tests; {level})[/]")


def history_table(rows):
    return table("sov history", ("run", "command", "status", "exit", "verdict", "started"),
                 [(r["run_id"], r["command"], r["status"], str(r["exit_code"]), r["verdict"] or "-",
                   str(r["started_at"])[:19].replace("T", " ")) for r in rows])


def print_run(console, d: dict) -> None:
    """One run of ``sov history show``: command line, results, verdicts (a verdict row that
    fails the evidence chain marked TAMPERED), drift checks."""
    from rich.markup import escape

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
        mark = "" if v.get("chain", "ok") == "ok" else f"  [bold red]{escape(v['chain'])}[/bold red]"
        console.print(f"  verdict ({v['kind']}): {v['verdict']} exit {v['exit_code']}, "
                      f"evidence {str(v['evidence_hash'])[:16]}{mark}")
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
    console.print(f"public key:  {pub}  (give it to verifiers: sov keys trust {pub.name})")
    for k in keys:
        console.print(f"  {k.alg:10s} key_id {k.key_id}")


# -- trusted keys and trusted verification ---------------------------------------------------

def print_trusted(console, keys, folder, action: str) -> None:
    """``keys trust`` / ``keys untrust``: one line per key."""
    for t in keys:
        note = "" if action != "trusted" or t.added else " (already trusted)"
        console.print(f"{action} {t.key.alg:10s} key_id {t.key.key_id}{note}")
    console.print(f"trust store: {folder}")


def trusted_keys_table(keys, folder):
    if not keys:
        return f"no trusted keys in {folder}: sov keys trust FILE.pub"
    return table(f"trusted keys ({folder})", ["alg", "key_id", "file"],
                 [(t.key.alg, t.key.key_id, t.path.name) for t in keys])


def print_trusted_verification(console, rep, what: str) -> None:
    """Every check of ``evidence verify``, then verified (the failure goes to stderr)."""
    for c in rep.checks:
        console.print(f"  {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
    if rep.ok:
        console.print(f"{what}: intact and signed by trusted keys"
                      + (f" (verdict {rep.verdict})" if rep.verdict else ""))



# -- calibration ----------------------------------------------------------------------------


def _cal_fmt(v, pct: bool = True) -> str:
    if v is None:
        return "-"
    if pct:
        return f"{v:.3%}" if abs(v) >= 1e-4 else f"{v:.2e}"
    return f"{v:.6g}"


def calib_result_table(result):
    """``sov calib run``: one model's figures against the simulated truth."""
    wl = result.workload
    t = new_table(title=f"{result.model} on {result.experiment}: {wl['repeats']} simulated qubits, seed {wl['seed']}, "
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
    """``sov calib replay``: per action and qubit, the candidate beside Qibocal's re-fit,
    its record, the truth and the signal verdict."""
    t = new_table(title=f"{report['model']} vs Qibocal on {report['folder']} (folder {report['folder_id'][:12]})",
                  title_justify="left")
    for c in ("action", "qubit", "parameter", "candidate", "qibocal re-fit", "recorded", "truth",
              "cand. vs qibocal", "cand. spread", "qibocal spread", "signal"):
        t.add_column(c)
    for a in report["actions"]:
        if a["status"] != "replayed":
            continue
        for q in a["qubits"]:
            for row in _replay_rows(q):
                t.add_row(a["action"], str(q["qubit"]), *row)
    return t


def _replay_rows(q: dict) -> list[tuple[str, ...]]:
    sig = (q.get("signal") or {}).get("verdict", "-")
    if "candidate_error" in q:
        return [("-", "error: " + q["candidate_error"][:60], "", "", "", "", "", "", sig)]
    if "candidate_fidelity" in q:
        return [("assignment fidelity", _cal_fmt(q["candidate_fidelity"], False),
                 _cal_fmt(q.get("qibocal_fidelity"), False),
                 _cal_fmt((q.get("qibocal_figures") or {}).get("assignment_fidelity"), False), "-",
                 f"labels agree {_cal_fmt(q.get('label_agreement'))}", "", "", "-")]
    rows = []
    for p, v in q["candidate"].items():
        st = (q.get("stability") or {}).get(p, {})
        rows.append((p, _cal_fmt(v, False), _cal_fmt((q["qibocal_refit"] or {}).get(p), False),
                     _cal_fmt((q["qibocal_recorded"] or {}).get(p), False),
                     _cal_fmt((q.get("truth") or {}).get(p), False),
                     _cal_fmt(q["candidate_vs_qibocal"].get(p)),
                     _cal_fmt(st.get("candidate_rel_spread")), _cal_fmt(st.get("qibocal_rel_spread")), sig))
    f = q.get("qubit_frequency_hz")
    if f:
        hz = [("-" if f.get(k) is None else f"{f[k]:.10g}") for k in ("candidate", "qibocal_recorded", "truth")]
        rows.append(("qubit frequency [Hz]", hz[0], "-", hz[1], hz[2], "", "", "", ""))
    return rows


def _replay_action_line(a: dict) -> str:
    head = f"  {a['action']} ({a.get('operation') or '?'}): {a['status']}"
    if a["status"] != "replayed":
        return head + (f": {a['reason']}" if a.get("reason") else "")
    return head + f"; Qibocal: {a.get('qibocal', '-')}"


def _recorded_fmt(name: str, v) -> str:
    if not isinstance(v, list):
        return f"{v:.10g}"
    if name.startswith("mean_"):  # an I/Q point, not a value and its error
        return f"({v[0]:.4g}, {v[1]:.4g})"
    return f"{v[0]:.10g} +- {v[1]:.3g}"


def calib_replay_lines(report: dict) -> list[str]:
    """``sov calib replay``: every action of the folder and what sov did with it, then the
    suspicious parameters, Qibocal's recorded figures, the signal verdicts and the flags."""
    from rich.markup import escape

    s = report.get("summary", {})
    by = ", ".join(f"{n} {k}" for k, n in s.get("by_status", {}).items())
    lines = [f"{s.get('actions', len(report['actions']))} actions: {by}"
             + (f"; truth from {report['truth_file']}" if report.get("truth_file") else "; no truth.json")]
    for a in report["actions"]:
        lines.append(escape(_replay_action_line(a)))
        for w in a.get("suspicious", []):
            lines.append(escape(f"    suspicious: {w}"))
        for q in a["qubits"]:
            figs = q.get("qibocal_figures") or {}
            if figs:
                shown = ", ".join(f"{k} {_recorded_fmt(k, v)}" for k, v in figs.items())
                lines.append(escape(f"    qubit {q['qubit']}: Qibocal recorded {shown}"))
            sig = q.get("signal")
            if sig:
                lines.append(escape(f"    qubit {q['qubit']}: signal test: {sig['verdict']} ({sig['detail']})"))
            if q.get("stability_skipped"):
                lines.append(escape(f"    qubit {q['qubit']}: no stability figures: {q['stability_skipped']}"))
            for fl in q.get("flags", []):
                lines.append(escape(f"    qubit {q['qubit']}: FLAG {fl}"))
    return lines


def calib_replay_gate_lines(verdict: dict) -> list[str]:
    """``sov calib replay --gate``: each experiment's verdict and what decided it."""
    from rich.markup import escape

    lines = [f"gate ({verdict['tolerance_text']}): {verdict['status'].upper()}"]
    for name, e in verdict["experiments"].items():
        parts = []
        for act in e["actions"]:
            for p, j in act["parameters"].items():
                if "candidate_error" in j:
                    ce, be = (_cal_fmt(v) if v is not None else "none (failed)"
                              for v in (j["candidate_error"], j["baseline_error"]))
                    fig = f"error {ce} vs Qibocal {be}, allowed {_cal_fmt(j['allowed'])}"
                elif "difference" in j:
                    fig = f"differs from Qibocal by {_cal_fmt(j['difference'])}, allowed {_cal_fmt(j.get('allowed'))}"
                else:
                    fig = j.get("why", "")
                parts.append(f"{p} ({j['decided_by']}): {j['status']}: {fig}")
        lines.append(escape(f"  {name}: {e['status']}: " + "; ".join(parts)))
    return lines


def calib_experiments_table(experiments):
    """``sov calib experiments``."""
    t = new_table(title="calibration experiments (units: Hz, ns, a.u.)", title_justify="left")
    for c in ("experiment", "params", "points", "sweep", "truth drawn from"):
        t.add_column(c)
    for e in experiments:
        t.add_row(e.name, ", ".join(f"{p.name} [{p.unit}]" for p in e.params), str(e.n_points), e.sweep,
                  "; ".join(f"{k}: {v}" for k, v in e.truth_ranges))
    return t


def calib_drift_message(sig: dict, prev: dict | None, cmp: dict | None) -> str:
    """``sov drift calib``: first signature, no shift, or the shift."""
    if prev is None:
        return f"{sig['model']} on {sig['experiment']}: first signature {sig['digest'][:16]} recorded"
    if not cmp["drift"]:
        return (f"{sig['model']} on {sig['experiment']}: no shift (signature {sig['digest'][:16]}, "
                f"previous {prev['digest'][:16]})")
    return (f"{sig['model']} on {sig['experiment']}: SHIFT against the signature of "
            f"{prev.get('model_sha256') or prev['fingerprint'][:16]}: {cmp['shift']}")


# -- models ---------------------------------------------------------------------------------


def model_table(info, contract: str | None, *, known: bool, source: str | None = None):
    """``sov models inspect``: one checked file, the contract it names and whether sov
    knows that contract (as ``adapters.contracts.inspection`` resolved them); ``source``
    "recognized" marks a contract read off a vendor's tensor layout."""
    from rich.markup import escape
    t = new_table(title=f"{info.file_name}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("sha256", info.sha256)
    t.add_row("size", f"{info.size_bytes:,} bytes, {info.parameters:,} parameters")
    t.add_row("contract", f"{contract or '(none: give --contract)'}"
              + ("" if known or not contract else "  (unknown)")
              + ("  (recognized from its tensors)" if source == "recognized" else ""))
    t.add_row("opset", ", ".join(f"{k} {v}" for k, v in info.opsets.items()))
    t.add_row("producer", info.producer or "-")
    # shapes such as [batch, 4, T, D, D] would read as rich markup and vanish
    t.add_row("inputs", escape("\n".join(f"{x.name}: {x.type_text}" for x in info.inputs)))
    t.add_row("outputs", escape("\n".join(f"{x.name}: {x.type_text}" for x in info.outputs)))
    t.add_row("operators", ", ".join(info.operators))
    t.add_row("metadata", escape("\n".join(f"{k} = {v if len(v) < 80 else v[:77] + '...'}"
                                    for k, v in info.metadata.items()) or "-"))
    t.add_row("integrity", "ok: parses, passes onnx.checker, standard operators only, no external "
                           "data outside its folder")
    return t


def builtin_models_table(models: list[dict[str, str]]):
    """``sov models list``: the shipped models."""
    t = new_table(title="built-in models", title_justify="left")
    for c in ("name", "contract", "description"):
        t.add_column(c)
    for m in models:
        t.add_row(m["name"], m["contract"], m["description"])
    return t


def signer_table(signer):
    """``sov models verify``: the verified signature (``adapters.provenance.Signer``)."""
    from rich.markup import escape
    t = new_table(title="signature verified", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("signer", escape(signer.identity))
    t.add_row("method", signer.method + (" (ECDSA public key)" if signer.method == "key" else " (X.509 chain)"))
    for k in ("subject", "issuer", "certificate_sha256", "not_after"):
        if k in signer.details:
            t.add_row(k.replace("_", " "), escape(str(signer.details[k])))
    t.add_row("sha256", signer.model_sha256)
    t.add_row("signed", escape(f"{signer.signed_name} {signer.signed_digest}"))
    t.add_row("tool", signer.tool)
    return t


def load_line(machine: dict | None) -> str | None:
    """A warning when the timing ran on a machine busier than its cores."""
    from verifier.environment import overloaded

    la, n = (machine or {}).get("load_average"), (machine or {}).get("cores") or 1
    if overloaded(la, n):
        return (f"note: load average {la[0]:g} on {n} cores while timing: shots/s and latency "
                "include other processes' work")
    return None
