"""Number formatting and row building shared by the comparison renderers (HTML, Markdown,
terminal), so every output shows the same figures the same way."""

from __future__ import annotations

import math
from typing import Any

SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def sci(x: float | None, digits: int = 2, *, plain: bool = False) -> str:
    """``3.20·10⁻³`` (or ``3.20e-03`` with ``plain``); ``0`` and ``n/a`` as such."""
    if not _finite(x):
        return "n/a"
    if x == 0:
        return "0"
    if plain:
        return f"{x:.{digits}e}"
    e = math.floor(math.log10(abs(x)))
    m = x / 10 ** e
    if round(m, digits) >= 10:
        m, e = m / 10, e + 1
    return f"{m:.{digits}f}·10{str(e).translate(SUP)}"


def ler_ci(x: float | None, lo: float | None, hi: float | None, *, plain: bool = False) -> str:
    """``3.20·10⁻³ [2.71, 3.76]·10⁻³``: the interval shares the estimate's exponent."""
    if not _finite(x):
        return "n/a"
    if not (_finite(lo) and _finite(hi)):
        return sci(x, plain=plain)
    if plain:
        return f"{x:.2e} [{lo:.2e}, {hi:.2e}]"
    ref = x if x > 0 else hi
    if not ref:
        return "0"
    e = math.floor(math.log10(abs(ref)))
    if x > 0 and round(x / 10 ** e, 2) >= 10:
        e += 1
    k = 10 ** e
    if x == 0:
        return f"0 [0, {hi / k:.2f}]·10{str(e).translate(SUP)}"
    return f"{x / k:.2f} [{lo / k:.2f}, {hi / k:.2f}]·10{str(e).translate(SUP)}"


def ratio(x: float | None) -> str:
    if not _finite(x):
        return "n/a"
    return f"{x:.2f}×" if x < 100 else f"{x:.3g}×"


def pvalue(p: float | None) -> str:
    if not _finite(p):
        return "n/a"
    if p >= 0.001:
        return f"{p:.3f}" if p < 0.995 else "1"
    return f"{sci(p, 1)}" if p > 0 else "< 10⁻³⁰⁰"


def _by_size(x: float | None, rungs: tuple, last: str) -> str:
    """``x`` in the format of the first rung (lower bound, divisor, format) it reaches."""
    if not _finite(x):
        return "n/a"
    for bound, divisor, fmt in rungs:
        if x >= bound:
            return fmt.format(x / divisor)
    return last.format(x)


_MICRO = ((1000, 1, "{:,.0f}"), (100, 1, "{:.0f}"), (10, 1, "{:.1f}"))
_RATE = ((1e6, 1e6, "{:.2f} M"), (1e4, 1e3, "{:.0f} k"), (1e3, 1e3, "{:.1f} k"))


def micro(x: float | None) -> str:
    return _by_size(x, _MICRO, "{:.2f}")


def rate(x: float | None) -> str:
    return _by_size(x, _RATE, "{:.0f}")


def size(n: int | None) -> str:
    if not isinstance(n, int):
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} B" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _with_ci(row: dict[str, Any], key: str, fmt: str) -> str:
    """``row[key]`` and, when finite, its interval ``row[key + "_ci"]``, both in ``fmt``."""
    v = row.get(key)
    if not _finite(v):
        return "n/a"
    ci = row.get(f"{key}_ci")
    s = fmt.format(v)
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_finite(x) for x in ci):
        s += f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]"
    return s


def threshold(row: dict[str, Any]) -> str:
    return _with_ci(row, "threshold", "{:.2%}").replace("%", " %")


def lam(row: dict[str, Any]) -> str:
    return _with_ci(row, "lambda", "{:.2f}")


VERDICT_TEXT = {"better": "better", "non-inferior": "non-inferior", "worse": "WORSE",
                "inconclusive": "inconclusive"}


def rank(row: dict[str, Any]) -> str:
    return "ref." if row.get("rank") is None else str(row["rank"])


def paired(row: dict[str, Any]) -> tuple[str, str]:
    """(verdict word, detail) of a candidate's verdict against the baseline: the verdict
    from the per-workload tests, and its deciding (worst significant) workload."""
    pr = row.get("paired")
    if row.get("baseline"):
        return ("reference", "")
    if not pr:
        return ("n/a", "")
    v = VERDICT_TEXT.get(pr["verdict"], pr["verdict"])
    if pr.get("identical"):
        return (f"{v} (identical)", "same failures on every shot")
    dc = pr["deciding"]
    r = dc.get("ratio")
    lo, hi = dc.get("ratio_ci") or [None, None]
    rt = (f"{r:.2f}× [{lo:.2f}, {hi:.2f}]" if r is not None and lo is not None and math.isfinite(hi)
          else "ratio n/a")
    which = ("worst" if pr["significantly_worse"] else "best" if pr["significantly_better"] else "closest call")
    return (v, f"{which}: {dc['label']} {rt}, Holm p = {pvalue(dc['p_holm'])}; "
               f"margin {pr['margin']:.0%} over {pr['workloads']} workloads")


def decoder_map(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["key"]: d for d in payload["decoders"]}


def short_sha(d: dict[str, Any]) -> str:
    if d.get("members"):  # a model family: each point has its member's sha256
        return f"{len(d['members'])} files"
    return (d.get("model_sha256") or "")[:12] or "— (open)"


def workload_label(w: dict[str, Any]) -> str:
    return f"d={w['distance']}, p={w['p']:g}"


def terminal_table(payload: dict[str, Any]):
    """The summary as a rich table for the terminal."""
    dm = decoder_map(payload)
    bl = dm[payload["baseline"]]["label"]
    from reports.tables import new_table

    t = new_table(title=f"Decoder comparison · run {payload['run_id']}", title_justify="left")
    for col, right in (("#", True), ("decoder", False), ("sha256", False), ("failures/shots", True),
                       ("pooled LER [95% CI]", True), (f"÷ {bl}", True), ("verdict vs baseline", False),
                       ("thr.", True), ("Λ (r=d)", True), ("p50", True), ("p99", True), ("p99.9 µs/rnd", True),
                       ("shots/s", True)):
        t.add_column(col, justify="right" if right else "left")
    for r in payload["summary"]:
        d = dm[r["decoder"]]
        verdict, detail = paired(r)
        if r.get("integrity_failure"):
            verdict = "INTEGRITY FAILURE"
        ci = r.get("pooled_ler_ci") or [None, None]
        t.add_row(rank(r), d["label"], short_sha(d), f"{r['errors']:,}/{r['shots']:,}",
                  ler_ci(r["pooled_ler"], ci[0], ci[1], plain=True), ratio(r["ratio_to_baseline"]),
                  verdict + (f": {detail}" if detail and "identical" not in verdict else ""),
                  threshold(r), lam(r), micro(r["latency_p50"]), micro(r["latency_p99"]),
                  micro(r["latency_p999"]), rate(r["throughput"]))
    return t


def pct(x: float | None) -> str:
    """A relative error as a percentage with sensible digits."""
    if not _finite(x):
        return "n/a"
    v = 100 * x
    if abs(v) >= 10:
        return f"{v:.1f} %"
    if abs(v) >= 0.1:
        return f"{v:.2f} %"
    return f"{v:.3f} %"


def calibration_rows(cal: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the calibration table, shared by every renderer."""
    rows = cal.get("rows") or []
    if cal.get("kind") == "readout":
        head = ["Model", "Parameter", "Median", "5th percentile", "Mean", "Worst", "Failures / repeats", "Time"]
        out = [[r["model"] + (" (baseline)" if r.get("baseline") else ""), r["parameter"],
                f"{r.get('assignment_fidelity_median', float('nan')):.4f}" if _finite(r.get("assignment_fidelity_median")) else "n/a",
                f"{r.get('assignment_fidelity_p05'):.4f}" if _finite(r.get("assignment_fidelity_p05")) else "n/a",
                f"{r.get('assignment_fidelity_mean'):.4f}" if _finite(r.get("assignment_fidelity_mean")) else "n/a",
                f"{r.get('assignment_fidelity_min'):.4f}" if _finite(r.get("assignment_fidelity_min")) else "n/a",
                f"{r.get('failures', 0)} / {r.get('repeats', '?')}", f"{r.get('seconds', 0):.2f} s"] for r in rows]
        return head, out
    head = ["Model", "Parameter", "Median |rel. error|", "95th pct |rel. error|", "Bias (median signed)",
            "Failures / repeats", "Time"]
    out = [[r["model"] + (" (baseline)" if r.get("baseline") else ""), r["parameter"], pct(r.get("rel_error_median")),
            pct(r.get("rel_error_p95")), pct(r.get("bias")), f"{r.get('failures', 0)} / {r.get('repeats', '?')}",
            f"{r.get('seconds', 0):.2f} s"] for r in rows]
    return head, out


def calibration_table(cal: dict[str, Any]):
    head, rows = calibration_rows(cal)
    from reports.tables import new_table

    t = new_table(title=cal.get("title", "Calibration models"), title_justify="left")
    for i, h in enumerate(head):
        t.add_column(h, justify="left" if i < 2 else "right")
    for r in rows:
        t.add_row(*r)
    return t


# -- procurement answers: qubits per logical qubit, real time ---------------------------------

MAIN_TARGET = "1e-09"


def main_target(payload: dict[str, Any]) -> str:
    targets = [f"{t:g}" for t in (payload.get("procurement") or {}).get("targets") or []]
    return MAIN_TARGET if MAIN_TARGET in targets or not targets else targets[len(targets) // 2]


def qubits_text(row: dict[str, Any], key: str) -> str:
    q = row.get("qubits_per_logical") or {}
    if q.get("status") != "ok":
        return f"not projected: {q.get('message', 'n/a')}"
    t = (q.get("targets") or {}).get(key) or {}
    if t.get("qubits") is None:
        return "out of reach (d > 999)"
    lo, hi = t.get("qubits_ci") or [None, None]
    span = f"[{lo:,}, {hi:,}]" if lo is not None and hi is not None else "[?, ?]"
    return f"{t['qubits']:,} {span} (d = {int(t['distance'])})"


def saved_text(row: dict[str, Any], key: str) -> str:
    s = (row.get("qubits_saved") or {}).get(key)
    if row.get("baseline"):
        return "reference"
    if not s:
        return "n/a"
    lo, hi = s.get("saved_ci") or [None, None]
    word = "saves" if s["saved"] >= 0 else "costs"
    span = f" [{lo:,.0f}, {hi:,.0f}]" if lo is not None and hi is not None else ""
    return f"{word} {abs(s['saved']):,}{span}"


def realtime_text(row: dict[str, Any]) -> str:
    rt = row.get("realtime") or {}
    if rt.get("status") != "ok":
        return rt.get("message", "n/a")
    cyc = rt["cycle_time_us"]
    head = f"p99 {micro(rt['p99_us_per_round'])} µs/round vs {cyc:g} µs cycle: "
    if rt["keeps_up_p99"]:
        return head + "keeps up"
    if rt["keeps_up_mean"]:
        return head + "keeps up on average, not at p99"
    return head + f"falls behind, backlog {rate(rt['backlog_rounds_per_second'])} rounds/s"


def procurement_table(payload: dict[str, Any]):
    """Per decoder: its verdict, what it is worth in qubits, whether it keeps up in real time."""
    from reports.tables import new_table

    dm = decoder_map(payload)
    key = main_target(payload)
    t = new_table(title=f"What each decoder is worth (target {key} logical errors per round)", title_justify="left")
    best = any(r.get("vs_best_open") for r in payload["summary"])
    for col in ("decoder", "verdict", *(["vs best open decoder"] if best else []),
                "physical qubits per logical [95% CI]", "vs baseline", "real time"):
        t.add_column(col)
    for r in payload["summary"]:
        t.add_row(dm[r["decoder"]]["label"], paired(r)[0], *([best_open_text(r)] if best else []),
                  qubits_text(r, key), saved_text(r, key), realtime_text(r))
    return t


def best_open_text(row: dict[str, Any]) -> str:
    """The candidate's verdict against the best open decoder of each workload."""
    v = row.get("vs_best_open")
    if not v:
        model = row.get("model_sha256") or str(row.get("label", "")).endswith(".onnx")
        return "the baseline is the best open decoder" if model and row.get("paired") else "—"
    names = sorted(set((v.get("best_open") or {}).values()))
    dc = v["deciding"]
    return f"{VERDICT_TEXT.get(v['verdict'], v['verdict'])} vs {', '.join(names)} ({dc['label']})"
