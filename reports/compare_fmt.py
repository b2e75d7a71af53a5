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


VERDICT_TEXT = {"identical": "identical", "no significant difference": "no sig. difference",
                "better": "better", "worse": "worse"}


def paired(row: dict[str, Any]) -> tuple[str, str]:
    """(verdict word, detail) of a summary row's pooled paired test."""
    pr = row.get("paired")
    if row.get("baseline"):
        return ("baseline", "")
    if not pr:
        return ("n/a", "")
    v = VERDICT_TEXT.get(pr["verdict"], pr["verdict"])
    if pr["verdict"] == "identical":
        return (v, "same failures on every shot")
    return (v, f"p = {pvalue(pr['p_value'])} · discordant shots: {pr['only_candidate_fails']:,} "
               f"fail only here, {pr['only_baseline_fails']:,} only in the baseline")


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
                       ("pooled LER [95% CI]", True), (f"÷ {bl}", True), ("paired vs baseline", False),
                       ("thr.", True), ("Λ", True), ("p50", True), ("p99", True), ("p99.9 µs/rnd", True),
                       ("shots/s", True)):
        t.add_column(col, justify="right" if right else "left")
    for r in payload["summary"]:
        d = dm[r["decoder"]]
        verdict, detail = paired(r)
        if r.get("integrity_failure"):
            verdict = "INTEGRITY FAILURE"
        ci = r.get("pooled_ler_ci") or [None, None]
        t.add_row(str(r["rank"]), d["label"], short_sha(d), f"{r['errors']:,}/{r['shots']:,}",
                  ler_ci(r["pooled_ler"], ci[0], ci[1], plain=True), ratio(r["ratio_to_baseline"]),
                  verdict + (f" (p={pvalue(r['paired']['p_value'])})" if r.get("paired") and verdict not in ("identical",) else ""),
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
