"""The comparison report as ONE self-contained HTML file.

Inline CSS and inline SVG only: no script, font, stylesheet or image is loaded from
anywhere, so the file reads the same offline, archived, attached to an e-mail or printed.
Input is the payload of :func:`verifier.workflows.compare.run_compare` (or ``sov report``).
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from reports import compare_fmt as F
from reports.svg import Point, Series, colors_for, legend, line_chart, reset_ids

BASE_DASH = "6 4"

CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#e3e6eb; --soft:#f5f6f8; --accent:#0b5cad;
  --good:#1a7f37; --bad:#c62828; --warn:#9a6700; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: #eef0f3; color: var(--ink);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Liberation Sans", "DejaVu Sans", sans-serif; font-variant-numeric: tabular-nums; }
main { max-width: 1180px; margin: 24px auto; background: #fff; padding: 36px 44px 28px;
  border-radius: 10px; box-shadow: 0 1px 3px rgba(20,30,50,.08), 0 8px 24px rgba(20,30,50,.06); }
header { border-bottom: 3px solid var(--ink); padding-bottom: 16px; margin-bottom: 8px; }
.kicker { text-transform: uppercase; letter-spacing: .12em; font-size: 11.5px; color: var(--accent);
  font-weight: 700; }
h1 { font-size: 28px; line-height: 1.2; margin: 6px 0 8px; letter-spacing: -.01em; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0 10px; }
.meta { color: var(--muted); font-size: 13px; display: flex; flex-wrap: wrap; gap: 4px 22px; }
.meta b { color: var(--ink); font-weight: 600; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
  "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.findings { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: 12px;
  margin: 18px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff;
  border-left: 5px solid var(--c, #999); }
.card .name { font-weight: 700; font-size: 14.5px; overflow-wrap: break-word; }
.card .big { font-size: 24px; font-weight: 700; margin: 2px 0 0; letter-spacing: -.01em; }
.card .sub { color: var(--muted); font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; font-size: 13px; }
th, td { padding: 7px 9px; border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; }
thead th.grp { text-align: center; border-bottom: 1px solid #cfd4dc; }
thead th { background: var(--soft); font-weight: 600; font-size: 12px; color: #394150;
  border-bottom: 1px solid #cfd4dc; vertical-align: bottom; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:hover { background: #fafbfc; }
tr.base td { background: #f8f9fb; }
.sw { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 7px;
  vertical-align: -1px; background: var(--c); }
.dec { font-weight: 600; white-space: nowrap; }
.dec .small { font-weight: 400; }
td.grouped { background: #fff; border-right: 1px solid var(--line); }
tr.grpstart td { border-top: 1px solid #b9c0ca; }
.nowrap { white-space: nowrap; }
td.paired { min-width: 150px; max-width: 230px; }
table.summary { font-size: 12.5px; }
table.summary th, table.summary td { padding: 7px 6px; }
.scroll { overflow-x: auto; }
.small { font-size: 11.5px; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11.5px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.b-better { background: #dafbe1; color: var(--good); border-color: #aceebb; }
.b-worse { background: #ffebe9; color: var(--bad); border-color: #ffcecb; }
.b-same { background: #eef1f5; color: #394150; border-color: #d5dae2; }
.b-identical { background: #ddf4ff; color: #0550ae; border-color: #b6e3ff; }
.b-base { background: #f1f2f4; color: var(--muted); border-color: #dfe2e6; }
.b-fail { background: #ffebe9; color: var(--bad); border-color: #ff8182; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 6px 0 10px; font-size: 13px; }
.lg { display: inline-flex; align-items: center; gap: 6px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px 18px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px 8px 4px; background: #fff; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: var(--muted); padding: 2px 6px 4px; }
.models { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 14px; }
.model { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; border-top: 4px solid var(--c); }
.model h3 { margin: 0 0 6px; overflow-wrap: break-word; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0; font-size: 12.5px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.ops { display: flex; flex-wrap: wrap; gap: 4px; }
.ops span { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 0 5px;
  font-size: 11.5px; font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
pre.cmd { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
.note { background: #fff8c5; border: 1px solid #eedc82; border-radius: 6px; padding: 8px 12px; font-size: 13px; }
.alert { background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px; padding: 8px 12px; }
ul.method { padding-left: 18px; color: #394150; font-size: 13px; }
footer { margin-top: 30px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted);
  font-size: 12px; }
section.answers table { width: 100%; border-collapse: collapse; font-size: 13px; }
section.answers td, section.answers th { padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
@media (max-width: 760px) { main { padding: 18px; margin: 0; border-radius: 0; } }
@media print {
  @page { size: A4 landscape; margin: 10mm 10mm; }
  body { background: #fff; font-size: 10.5px; }
  main { box-shadow: none; margin: 0; padding: 0; max-width: none; border-radius: 0; }
  h1 { font-size: 22px; }
  h2 { font-size: 15px; margin-top: 18px; break-after: avoid; page-break-after: avoid; }
  table { font-size: 10.5px; }
  table.summary { font-size: 10px; }
  .scroll { overflow: visible; }
  section.plots { break-before: page; page-break-before: always; }
  tr, figure, .model, .card, pre, dl { break-inside: avoid; page-break-inside: avoid; }
  tbody tr:hover { background: none; }
  .charts { grid-template-columns: repeat(3, 1fr); }
  footer, ul.method { break-inside: avoid; }
  section.answers { break-after: avoid; }
  section.answers table, table.summary { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _badge(verdict: str) -> str:
    cls = {"better": "b-better", "worse": "b-worse", "no sig. difference": "b-same",
           "identical": "b-identical", "baseline": "b-base"}.get(verdict, "b-same")
    return f'<span class="badge {cls}">{escape(verdict)}</span>'


def _clip(text: str, n: int = 240) -> str:
    """Long metadata (a detector map, say) is shortened in the card; the JSON keeps it whole."""
    return text if len(text) <= n else f"{text[:n]}… ({len(text):,} characters; full value in the JSON report)"


def _split(text: str) -> tuple[str, str]:
    """``"3.50 [3.31, 3.70]·10⁻²"`` -> (``"3.50·10⁻²"``, ``"[3.31, 3.70]·10⁻²"``); no interval: (text, "")."""
    if " [" not in text:
        return text, ""
    head, rest = text.split(" [", 1)
    inside, _, tail = rest.partition("]")
    return head + tail, f"[{inside}]{tail}"


def _sw(color: str) -> str:
    return f'<span class="sw" style="--c:{color}"></span>'


def _ok(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def render_html(payload: dict[str, Any]) -> str:
    """The whole report as one HTML string."""
    reset_ids()
    dm = F.decoder_map(payload)
    base = payload["baseline"]
    base_label = dm[base]["label"] if base in dm else "baseline"
    colors = colors_for([d["key"] for d in payload["decoders"]], base)
    sweep = payload.get("sweep")
    n_dec, n_wl = len(payload["decoders"]), len(payload["workloads"])
    cal = payload.get("calibration")
    if n_dec:
        title = f"Decoder comparison: {n_dec} decoder{'s' * (n_dec != 1)} on {n_wl} workload{'s' * (n_wl != 1)}"
    else:
        n_cal = len([m for m in (cal or {}).get("models", []) if not m.get("baseline")])
        title = (f"Calibration model comparison: {n_cal} model{'s' * (n_cal != 1)} on "
                 f"{(cal or {}).get('experiment', 'calibration')}")
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f'<meta name="generator" content="sov {escape(str(payload["environment"]["packages"].get("sov-verifier")))}">',
             f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"]
    meta = [f'<span>Run <b class="mono">{escape(payload["run_id"])}</b></span>',
            f'<span>Created <b>{escape(payload["created_at"].replace("T", " "))}</b></span>']
    if sweep:
        rounds = "rounds = distance" if not sweep.get("rounds") else f"rounds = {sweep['rounds']}"
        meta += [f'<span>Rotated surface-code memory {escape(sweep["basis"].upper())}, {escape(sweep["noise"])} '
                 f'noise, {rounds}</span>',
                 f'<span>d ∈ {{{", ".join(str(d) for d in sweep["distances"])}}} · '
                 f'p ∈ {{{", ".join(f"{p:g}" for p in sweep["ps"])}}} · {sweep["shots"]:,} shots each · '
                 f'seed {sweep["seed"]}</span>',
                 f'<span>Baseline <b>{escape(base_label)}</b></span>']
    if cal:
        meta.append(f'<span>Calibration: <b>{escape(str(cal.get("experiment")))}</b>, baselines Qibocal and '
                    f'sov-reference</span>')
    parts.append(f'<header><div class="kicker">sov · procurement comparison</div><h1>{escape(title)}</h1>'
                 f'<div class="meta">{"".join(meta)}</div></header>')
    failures = [d for d in payload["decoders"] if d.get("integrity_failure")]
    for d in failures:
        parts.append(f'<p class="alert"><b>{escape(d["label"])}</b> failed an integrity check and has no '
                     f'score: {escape(d["integrity_failure"])}</p>')
    if n_dec:
        parts.append(_answers(payload, dm))
        parts.append(_findings(payload, dm, colors))
        parts.append(_summary_table(payload, dm, colors))
        parts.append(_charts(payload, dm, colors))
        parts.append(_by_workload(payload, dm, colors))
        parts.append(_paired_section(payload, dm, colors))
        parts.append(_suppression(payload, dm, colors))
    if cal:
        parts.append(_calibration(cal))
    if n_dec:
        parts.append(_models(payload, colors))
        parts.append(_workloads(payload))
    if cal:
        parts.append(_cal_models(cal))
    parts.append(_verdicts(payload))
    parts.append(_environment(payload))
    parts.append(_method(payload))
    parts.append(
        f'<footer>Generated by sov {escape(str(payload["environment"]["packages"].get("sov-verifier")))} '
        f'from store <span class="mono">{escape(str(payload.get("db")))}</span>. Re-render without re-running: '
        f'<code>sov report {escape(payload["run_id"])} --html report.html</code>. Regenerate every number: '
        f'<code>{escape(payload["command"])}</code>.</footer>')
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _answers(payload, dm) -> str:
    """First page: the question, each candidate's verdict, its worth in qubits and in real
    time, the models' sha256 prefixes; the evidence follows."""
    key = F.main_target(payload)
    rows = []
    for r in payload["summary"]:
        d = dm[r["decoder"]]
        verdict, detail = F.paired(r)
        rows.append(f'<tr><td class="dec">{escape(d["label"])}<div class="small mono">{escape(F.short_sha(d))}</div></td>'
                    f'<td>{_badge(verdict)}<div class="small">{escape(detail)}</div></td>'
                    f'<td class="num">{escape(F.qubits_text(r, key))}</td><td class="num">{escape(F.saved_text(r, key))}</td>'
                    f'<td>{escape(F.realtime_text(r))}</td></tr>')
    base = next((r for r in payload["summary"] if r.get("baseline")), {})
    q = base.get("qubits_per_logical") or {}
    rt = base.get("realtime") or {}
    notes = [f"Physical qubits per logical qubit to reach {escape(key)} logical errors per round: "
             f"{escape(q.get('assumptions') or q.get('message') or '')}; {escape(q.get('method', ''))}."]
    if rt.get("note"):
        notes.append(f"Real time: single-shot latency per round at d = {rt.get('distance')} against a "
                     f"{rt.get('cycle_time_us', 1):g} µs QEC cycle, on {escape(rt.get('measured_on', ''))}; "
                     f"{escape(rt['note'])}.")
    return ('<section class="answers"><h2>Is each candidate worth buying?</h2>'
            '<table><thead><tr><th>Decoder</th><th>Verdict vs baseline</th>'
            f'<th class="num">Physical qubits per logical [95% CI]</th><th class="num">vs baseline</th>'
            f'<th>Real time</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p class="small">{" ".join(notes)}</p></section>')


def _findings(payload, dm, colors) -> str:
    cards = []
    for r in payload["summary"]:
        d = dm[r["decoder"]]
        c = colors[r["decoder"]]
        if r.get("integrity_failure"):
            big, sub = "integrity failure", "no score"
        elif r["baseline"]:
            big = F.sci(r["pooled_ler"])
            sub = "pooled LER over all workloads (reference)"
        else:
            big = F.ratio(r["ratio_to_baseline"])
            verdict, detail = F.paired(r)
            sub = f"LER vs {dm[payload['baseline']]['label']} (geometric mean) · {_badge(verdict)}"
            if detail:
                sub += f'<br><span class="small">{escape(detail)}</span>'
            cards.append(f'<div class="card" style="--c:{c}"><div class="name">{"reference" if r["rank"] is None else "#" + str(r["rank"])} {escape(d["label"])}</div>'
                         f'<div class="big">{escape(big)}</div><div class="sub">{sub}</div></div>')
            continue
        cards.append(f'<div class="card" style="--c:{c}"><div class="name">{"reference" if r["rank"] is None else "#" + str(r["rank"])} {escape(d["label"])}</div>'
                     f'<div class="big">{escape(big)}</div><div class="sub">{escape(sub)}</div></div>')
    return f'<div class="findings">{"".join(cards)}</div>'


def _summary_table(payload, dm, colors) -> str:
    wl = {w["id"]: w for w in payload["workloads"]}
    lat_w = None
    rows = payload["summary"]
    if rows and rows[0].get("latency_workload") in wl:
        lat_w = wl[rows[0]["latency_workload"]]
    lam_p = next((r.get("lambda_p") for r in rows if r.get("lambda_p") is not None), None)
    lam_head = f"Λ<br><span class=\"small\">p = {lam_p:g}, rounds = d</span>" if lam_p is not None else "Λ"
    head = ('<thead><tr><th class="num" rowspan="2">#</th><th rowspan="2">Decoder</th>'
            '<th class="num" rowspan="2">Pooled LER<br><span class="small">[95% CI] · failures / shots</span></th>'
            f'<th class="num" rowspan="2">LER ÷<br>{escape(dm[payload["baseline"]]["label"])}</th>'
            '<th rowspan="2">Verdict vs baseline</th><th class="num" rowspan="2">Threshold<br>'
            '<span class="small">[95% CI]</span></th>'
            f'<th class="num" rowspan="2">{lam_head}</th>'
            '<th class="num grp" colspan="3">Latency, µs per round</th>'
            '<th class="num" rowspan="2">Throughput<br>shots/s</th></tr>'
            '<tr><th class="num">p50</th><th class="num">p99</th><th class="num">p99.9</th></tr></thead>')
    body = []
    for r in rows:
        d = dm[r["decoder"]]
        verdict, detail = F.paired(r)
        if r.get("integrity_failure"):
            verdict, detail = "integrity failure", r["integrity_failure"]
        badge = (f'<span class="badge b-fail">integrity failure</span>' if r.get("integrity_failure")
                 else _badge(verdict))
        ci = r.get("pooled_ler_ci") or [None, None]
        ler_main, ler_ci = _split(F.ler_ci(r["pooled_ler"], ci[0], ci[1]))
        th_main, th_ci = _split(F.threshold(r))
        lam_main, lam_ci = _split(F.lam(r))
        note = escape(r.get("threshold_note") or "")
        body.append(
            f'<tr class="{"base" if r["baseline"] else ""}"><td class="num">{F.rank(r)}</td>'
            f'<td class="dec">{_sw(colors[r["decoder"]])}{escape(d["label"])}'
            f'<div class="small mono">{escape(F.short_sha(d))}</div></td>'
            f'<td class="num">{escape(ler_main)}<div class="small">{escape(ler_ci)} · '
            f'{r["errors"]:,} / {r["shots"]:,}</div></td>'
            f'<td class="num"><b>{escape(F.ratio(r["ratio_to_baseline"]))}</b></td>'
            f'<td class="paired">{badge}<div class="small">{escape(detail)}</div></td>'
            f'<td class="num" title="{note}">{escape(th_main)}<div class="small">{escape(th_ci)}</div></td>'
            f'<td class="num" title="{note}">{escape(lam_main)}<div class="small">{escape(lam_ci)}</div></td>'
            f'<td class="num">{escape(F.micro(r["latency_p50"]))}</td>'
            f'<td class="num">{escape(F.micro(r["latency_p99"]))}</td>'
            f'<td class="num">{escape(F.micro(r["latency_p999"]))}</td>'
            f'<td class="num">{escape(F.rate(r["throughput"]))}</td></tr>')
    notes = []
    notes.append(f"The baseline {escape(dm[payload['baseline']]['label'])} is the reference. Candidates are "
                 "ranked by their verdict (better, non-inferior, inconclusive, worse), then by the geometric "
                 "mean of their LER ratio to the baseline on the same shots. A verdict comes from each "
                 "workload on its own: the non-inferiority test at the margin, and the exact McNemar test on "
                 "the shots where exactly one of the two fails, Holm-adjusted across the candidate's workloads "
                 f"at α = {payload.get('alpha', 0.05):g}. The detail names the worst significant workload.")
    if lat_w:
        notes.append(f"Latency: µs per QEC round to decode one shot, one shot at a time, at "
                     f"d={lat_w['distance']}, p={lat_w['p']:g} (rounds={lat_w['rounds']}). Throughput: "
                     f"batched replay over all workloads.")
    tn = {r.get("threshold_note") for r in rows if r.get("threshold_note")}
    if tn:
        notes.append("Threshold / Λ: " + escape("; ".join(sorted(tn))) + ".")
    return (f'<h2>Summary</h2><div class="scroll"><table class="summary">{head}<tbody>{"".join(body)}</tbody></table></div>'
            f'<p class="small">{" ".join(notes)}</p>')


def _series_of(base, dm, colors):
    """A Series maker: the baseline dashed, hollow and thinner than the candidates."""
    def make(key, pts, **kw):
        if key == base:
            kw.setdefault("dash", BASE_DASH)
            kw.setdefault("hollow", True)
            kw.setdefault("width", 1.6)
        else:
            kw.setdefault("width", 2.6)
        return Series(dm[key]["label"], colors[key], pts, **kw)

    return make


def _series(results, order, S, *, keep, x: str, point) -> list:
    """One series per decoder (in ``order``) of the results ``keep`` selects, sorted by ``x``."""
    out = []
    for key in order:
        pts = [point(r) for r in sorted(results, key=lambda r: r[x]) if r["decoder"] == key and keep(r)]
        if pts:
            out.append(S(key, pts))
    return out


def _ler_vs_p(payload, order, S) -> list[str]:
    """LER vs p, one panel per distance."""
    return [_ler_panel(payload, order, S, dist) for dist in payload["sweep"]["distances"]]


def _ler_panel(payload, order, S, dist) -> str:
    series = _series(payload["results"], order, S, keep=lambda r: r["distance"] == dist, x="p",
                     point=lambda r: Point(r["p"], r["ler"], r["ler_ci"][0], r["ler_ci"][1]))
    chart = line_chart(series, title=f"LER vs p · d = {dist}", xlabel="physical error rate p",
                       ylabel="logical error rate per shot", xlog=True, xticks=payload["sweep"]["ps"],
                       aria=f"Logical error rate against p at distance {dist}")
    return _fig(chart, f"Bands: 95% Clopper-Pearson intervals; rounds = {_rounds_text(payload, dist)}. "
                       "▽ marks an upper limit where no failure was seen.")


def _per_round_vs_d(payload, order, S) -> list[str]:
    """LER per round vs d, one panel per p."""
    return [_per_round_panel(payload, order, S, p) for p in payload["sweep"]["ps"]]


def _per_round_panel(payload, order, S, p) -> str:
    dists = payload["sweep"]["distances"]
    series = _series(payload["results"], order, S, keep=lambda r: r["p"] == p, x="distance",
                     point=lambda r: Point(r["distance"], r["ler_per_round"],
                                           *(r.get("ler_per_round_ci") or [None, None])))
    chart = line_chart(series, title=f"LER per round vs d · p = {p:g}", xlabel="code distance d",
                       ylabel="logical error rate per round", xlog=False, xticks=dists,
                       xtick_labels=[str(d) for d in dists], xrange=(min(dists) - 0.6, max(dists) + 0.6),
                       aria=f"Per-round logical error rate against distance at p {p:g}")
    return _fig(chart, "Per round: 1 − 2·P_L = (1 − 2ε)^rounds. Steeper descent = stronger suppression.")


def _single_workload(payload, order, S, dm) -> str:
    """A single workload: LER bars as points."""
    series = [S(k, [Point(i + 1, r["ler"], *r["ler_ci"])], band=True)
              for i, k in enumerate(order) for r in payload["results"] if r["decoder"] == k]
    return _fig(line_chart(series, title="Logical error rate", xlabel="decoder",
                           ylabel="logical error rate per shot", xticks=list(range(1, len(order) + 1)),
                           xtick_labels=[dm[k]["label"][:14] for k in order],
                           xrange=(0.4, len(order) + 0.6)), "95% Clopper-Pearson intervals.")


def _latency_survival(payload, order, S) -> list[str]:
    """The latency survival curve at the latency workload."""
    lat_id = payload["summary"][0].get("latency_workload") if payload["summary"] else None
    wl = {w["id"]: w for w in payload["workloads"]}
    lat_series = []
    for key in order:
        r = next((r for r in payload["results"] if r["decoder"] == key and r["workload_id"] == lat_id), None)
        tail = ((r or {}).get("latency") or {}).get("tail") or []
        if tail:
            lat_series.append(S(key, [Point(v, p) for p, v in sorted(tail, key=lambda t: t[1]) if v > 0],
                                marker="none", band=False, width=2.2))
    if not (lat_series and lat_id in wl):
        return []
    w = wl[lat_id]
    return [_fig(line_chart(lat_series, title=f"Decode latency · d = {w['distance']}, p = {w['p']:g}",
                            xlabel="µs per round (one shot at a time)",
                            ylabel="fraction of shots slower", xlog=True, ylog=True,
                            aria="Latency survival function per decoder"),
                 "Survival function: the height at x is the share of shots that took longer than x; "
                 "the tail on the right is what a real-time budget must cover.")]


def _charts(payload, dm, colors) -> str:
    dists, ps = payload["sweep"]["distances"], payload["sweep"]["ps"]
    base = payload["baseline"]
    # candidates first, the baseline last (drawn on top, dashed), so an identical candidate stays visible
    order = [d["key"] for d in payload["decoders"] if not d.get("integrity_failure") and d["key"] != base]
    order += [base] if base in dm and not dm[base].get("integrity_failure") else []
    S = _series_of(base, dm, colors)
    figs = []
    if len(ps) >= 2:
        figs += _ler_vs_p(payload, order, S)
    if len(dists) >= 2:
        figs += _per_round_vs_d(payload, order, S)
    if len(ps) < 2 and len(dists) < 2:
        figs.append(_single_workload(payload, order, S, dm))
    figs += _latency_survival(payload, order, S)
    if not figs:
        return ""
    items = [(dm[k]["label"] + (" (baseline)" if k == base else ""), colors[k]) for k in order]
    dashes = [BASE_DASH if k == base else None for k in order]
    return (f'<section class="plots"><h2>Plots</h2>{legend(items, dash=dashes)}'
            f'<div class="charts">{"".join(figs)}</div></section>')


def _rounds_text(payload, dist) -> str:
    r = payload["sweep"].get("rounds")
    return str(r) if r else str(dist)


def _fig(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _by_workload(payload, dm, colors) -> str:
    res = {(r["decoder"], r["workload_id"]): r for r in payload["results"]}
    order = [d["key"] for d in payload["decoders"]]
    base = payload["baseline"]
    head = "".join(f'<th class="num">{_sw(colors[k])}{escape(dm[k]["label"])}</th>' for k in order)
    rows = []
    for w in payload["workloads"]:
        cells = []
        b = res.get((base, w["id"]))
        for k in order:
            r = res.get((k, w["id"]))
            if r is None:
                cells.append('<td class="num">—</td>')
                continue
            extra = ""
            if k != base and b and b["shots"]:
                rr = ((r["errors"] + 0.5) / r["shots"]) / ((b["errors"] + 0.5) / b["shots"])
                extra = f" · {F.ratio(rr)}"
            cells.append(f'<td class="num">{escape(F.ler_ci(r["ler"], *r["ler_ci"]))}<div class="small">'
                         f'{r["errors"]:,} / {r["shots"]:,}{escape(extra)}</div></td>')
        rows.append(f'<tr><td class="nowrap"><b>{escape(F.workload_label(w))}</b><div class="small">'
                    f'rounds {w["rounds"]} · <span class="mono">{escape(w["id"][:12])}</span></div></td>'
                    f'{"".join(cells)}</tr>')
    return (f'<h2>Logical error rate by workload</h2><table><thead><tr><th>Workload</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table><p class="small">LER per shot with its 95% '
            f'Clopper-Pearson interval; below: failures / shots · ratio to the baseline.</p>')


def _paired_section(payload, dm, colors) -> str:
    if not payload["paired"]:
        return ""
    wl = {w["id"]: w for w in payload["workloads"]}
    rows = []
    counts: dict[str, int] = {}
    for pr in payload["paired"]:
        counts[pr["decoder"]] = counts.get(pr["decoder"], 0) + 1
    seen: set[str] = set()
    for pr in payload["paired"]:
        d = dm[pr["decoder"]]
        w = wl.get(pr["workload_id"], {})
        first = pr["decoder"] not in seen
        seen.add(pr["decoder"])
        name = (f'<td class="dec grouped" rowspan="{counts[pr["decoder"]]}">{_sw(colors[pr["decoder"]])}'
                f'{escape(d["label"])}</td>' if first else "")
        cls = ' class="grpstart"' if first else ""
        if not pr.get("available"):
            rows.append(f'<tr{cls}>{name}<td>{escape(F.workload_label(w))}</td>'
                        f'<td colspan="6">per-shot records missing</td></tr>')
            continue
        v = F.VERDICT_TEXT.get(pr["verdict"], pr["verdict"])
        rows.append(f'<tr{cls}>{name}<td>{escape(F.workload_label(w))}</td><td class="num">{pr["shots"]:,}</td>'
                    f'<td class="num">{pr["both_fail"]:,}</td><td class="num">{pr["only_candidate_fails"]:,}</td>'
                    f'<td class="num">{pr["only_baseline_fails"]:,}</td>'
                    f'<td class="num">{escape(F.pvalue(pr["p_value"]))}</td><td>{_badge(v)}</td></tr>')
    bl = escape(dm[payload["baseline"]]["label"])
    return (f'<h2>Paired comparison against {bl}</h2>'
            f'<p>Every decoder decoded the <em>same</em> shots, so each candidate is compared shot by shot with '
            f'{bl}. Only the shots where exactly one of the two fails carry information (exact McNemar test, '
            f'two-sided). Per-workload p-values are not adjusted for multiple comparisons; the verdict in the summary '
            f'comes from these per-workload tests, Holm-adjusted across its workloads.</p><table><thead><tr><th>Candidate</th><th>Workload</th><th class="num">Shots</th>'
            f'<th class="num">Both fail</th><th class="num">Only candidate fails</th>'
            f'<th class="num">Only {bl} fails</th><th class="num">p-value</th><th>Verdict</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _models(payload, colors) -> str:
    cards = []
    for d in payload["decoders"]:
        m = d.get("model")
        c = colors[d["key"]]
        kv = []
        if m:
            kv += [("file", f'<span class="mono">{escape(m["file_name"])}</span>'),
                   ("sha256", f'<span class="mono">{escape(m["sha256"])}</span>'),
                   ("contract", f'<span class="mono">{escape(str(m.get("contract")))}</span>'),
                   ("size", f"{escape(F.size(m.get('size_bytes')))} · {m.get('parameters', 0):,} parameters"),
                   ("opset / IR", f"{m.get('opset')} / {m.get('ir_version')}"),
                   ("producer", escape(m.get("producer") or "—")),
                   ("inputs", "<br>".join(f'<span class="mono">{escape(t)}</span>' for t in m.get("inputs", []))),
                   ("outputs", "<br>".join(f'<span class="mono">{escape(t)}</span>' for t in m.get("outputs", []))),
                   ("operators", '<div class="ops">' + "".join(f"<span>{escape(o)}</span>" for o in m.get("operators", []))
                    + "</div>")]
            md = m.get("metadata") or {}
            if md:
                kv.append(("metadata", "<br>".join(f'<span class="mono">{escape(k)}</span> = {escape(_clip(str(v)))}'
                                                   for k, v in sorted(md.items()))))
        elif d.get("members"):
            kv += [("kind", "model family (one file per distance, rounds and basis)"),
                   ("members", "<br>".join(f'd={f["distance"]} rounds={f["rounds"]} basis {f["basis"]}: '
                                           f'<span class="mono">{escape(f["file"])}</span> '
                                           f'<span class="mono">{escape(f["sha256"][:16])}</span>'
                                           for f in d["members"]))]
        else:
            spec = d.get("fingerprint_spec") or {}
            kv += [("kind", "open baseline (no model file)"),
                   ("spec", "<br>".join(f'<span class="mono">{escape(str(k))}</span> = {escape(json.dumps(v))}'
                                        for k, v in sorted(spec.items())))]
        kv += [("given as", f'<span class="mono">{escape(d["spec"])}</span>'),
               ("fingerprint", f'<span class="mono">{escape(d["fingerprint"])}</span>')]
        if d.get("integrity_failure"):
            kv.append(("integrity", f'<span class="badge b-fail">failed</span> {escape(d["integrity_failure"])}'))
        role = " · baseline" if d["baseline"] else ""
        cards.append(f'<div class="model" style="--c:{c}"><h3>{_sw(c)}{escape(d["label"])}'
                     f'<span class="small">{role}</span></h3><dl class="kv">'
                     + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in kv) + "</dl></div>")
    return f'<h2>Models</h2><div class="models">{"".join(cards)}</div>'


def _workloads(payload) -> str:
    rows = []
    for w in payload["workloads"]:
        rows.append(f'<tr><td class="mono" title="{escape(w["id"])}">{escape(w["id"][:16])}</td>'
                    f'<td class="num">{w["distance"]}</td><td class="num">{w["rounds"]}</td>'
                    f'<td>{escape(w["basis"].upper())}</td><td>{escape(w["noise"])}</td>'
                    f'<td class="num">{w["p"]:g}</td><td class="num">{w["shots"]:,}</td><td class="num">{w["seed"]}</td>'
                    f'<td class="num">{w.get("num_detectors", "")}</td>'
                    f'<td><code>{escape(w["command"])}</code></td></tr>')
    return (f'<h2>Workloads</h2><p>Each workload is a stim-generated rotated surface-code memory circuit; its id is '
            f'the sha256 of its canonical specification, so the same id always means the same shots. '
            f'Replace <code>--decoder pymatching</code> by any model to replay it alone.</p>'
            f'<table><thead><tr><th>Workload id</th><th class="num">d</th><th class="num">Rounds</th><th>Basis</th>'
            f'<th>Noise</th><th class="num">p</th><th class="num">Shots</th><th class="num">Seed</th>'
            f'<th class="num">Detectors</th><th>Regenerate</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<h3>The whole comparison</h3><pre class="cmd mono">{escape(payload["command"])}</pre>')


def _verdicts(payload) -> str:
    vs = payload.get("verdicts") or []
    if not vs:
        return ('<h2>Verdicts</h2><p class="small">No gate verdicts are recorded in the store for these models. '
                '<code>sov accept</code> with a policy adds acceptance verdicts with hash-chained evidence; they '
                'appear here in the next report.</p>')
    cls = {"pass": "better", "ok": "better", "fail": "worse", "drift": "worse"}
    rows = []
    for v in vs:
        word = str(v.get("verdict"))
        badge = f'<span class="badge b-{ {"better": "better", "worse": "worse"}.get(cls.get(word, ""), "same") }">{escape(word)}</span>'
        rows.append(f'<tr><td>{escape(str(v.get("recorded_at", ""))[:19])}</td><td>{escape(str(v.get("kind")))}</td>'
                    f'<td>{escape(str(v.get("subject")))}</td><td>{badge}</td>'
                    f'<td class="small">{escape("; ".join(v.get("gates") or []))}</td>'
                    f'<td class="mono" title="{escape(str(v.get("evidence_hash")))}">{escape(str(v.get("evidence_hash") or "")[:16])}</td>'
                    f'<td class="mono">{escape(str(v.get("run_id")))}</td></tr>')
    return ('<h2>Verdicts</h2><p>Gate verdicts recorded in the store for these models, newest first; the evidence '
            'hash identifies the signed, hash-chained record (<code>sov evidence</code> exports and verifies it).</p>'
            '<table><thead><tr><th>Recorded</th><th>Kind</th><th>Subject</th><th>Verdict</th><th>Gates</th>'
            f'<th>Evidence hash</th><th>Run</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _suppression(payload, dm, colors) -> str:
    """Threshold and Λ per decoder, when the sweep has them."""
    rows = [r for r in payload["summary"] if r.get("lambda_by_p") or r.get("threshold_fit")]
    if not rows:
        return ""
    ps = sorted({x["p"] for r in rows for x in (r.get("lambda_by_p") or [])})
    head = "".join(f'<th class="num">Λ at p = {p:g}</th>' for p in ps)
    body = []
    for r in rows:
        lam = {x["p"]: x for x in r.get("lambda_by_p") or []}
        cells = []
        for p in ps:
            x = lam.get(p)
            if not x or x.get("lambda") is None:
                cells.append(f'<td class="num" title="{escape((x or {}).get("message") or "")}">n/a</td>')
                continue
            ci = x.get("lambda_ci") or [None, None]
            txt = F.lam({"lambda": x["lambda"], "lambda_ci": ci})
            warn = f'<div class="small">{escape(x["message"])}</div>' if x.get("status") != "ok" and x.get("message") else ""
            cells.append(f'<td class="num">{escape(txt)}{warn}</td>')
        tf = r.get("threshold_fit") or {}
        th = F.threshold(r) if r.get("threshold") is not None else "n/a"
        th_note = "" if r.get("threshold") is not None else escape(tf.get("message") or "")
        cross = "; ".join(f'd{c["distances"][0]}/d{c["distances"][1]}: {c["crossing"] * 100:.2f} %'
                          for c in tf.get("crossings") or [] if c.get("crossing") is not None)
        body.append(f'<tr><td class="dec">{_sw(colors[r["decoder"]])}{escape(dm[r["decoder"]]["label"])}</td>'
                    f'<td class="num">{escape(th)}<div class="small">{th_note}</div></td>'
                    f'<td class="small">{escape(cross or "—")}</td>{"".join(cells)}</tr>')
    return ('<h2>Threshold and error suppression</h2><table><thead><tr><th>Decoder</th>'
            '<th class="num">Threshold p<sub>th</sub> [95% CI]</th><th>Pairwise crossings</th>'
            f'{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            '<p class="small">Threshold: finite-size-scaling fit (without the smallest distance when three or more '
            'are swept), interval from a parametric bootstrap with the spread over the fit choices (needs ≥ 2 '
            'distances and ≥ 3 rates). Λ = ε<sub>d</sub> / ε<sub>d+2</sub> from a weighted fit of the per-round '
            'error ε against d, bootstrap interval; ε from rounds = d alone with A = 1 (single-round-count '
            'convention, which reads Λ higher than <code>sov qec lambda</code>\'s fit over several round '
            'counts).</p>')


def _environment(payload) -> str:
    env = payload["environment"]
    pk = env.get("packages", {})
    load = env.get("load_average")
    kv = [("CPU", f'{escape(str(env.get("cpu")))} · {env.get("cores")} cores'
                  + (f' · load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) when measured'
                     if load else "")),
          ("Platform", escape(str(env.get("platform")))), ("Python", escape(str(env.get("python"))))]
    kv += [(escape(k), f'<span class="mono">{escape(v) if v else "not installed"}</span>') for k, v in pk.items()]
    return ('<h2>Environment</h2><dl class="kv">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in kv)
            + (f'</dl><p class="small">Wall time of the comparison: {payload["elapsed_seconds"]:.1f} s.</p>'
               if _ok(payload.get("elapsed_seconds")) else "</dl>"))


def _cal_models(cal: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td class="dec">{escape(m["model"])}</td><td class="mono">{escape(m["spec"])}</td>'
                   f'<td class="mono">{escape(m.get("model_sha256") or "— (open baseline)")}</td>'
                   f'<td class="mono">{escape(m["fingerprint"][:16])}</td></tr>' for m in cal.get("models", []))
    return ('<h2>Calibration models</h2><table><thead><tr><th>Model</th><th>Given as</th><th>sha256</th>'
            f'<th>Fingerprint</th></tr></thead><tbody>{rows}</tbody></table>')


CAL_BASE_COLORS = {"qibocal": "#3b3f45", "sov-reference": "#8a94a6"}


def _calibration(cal: dict[str, Any]) -> str:
    """Calibration models next to Qibocal and sov's reference estimator: figures and the
    distribution of every repeat's error (empirical CDF)."""
    head, rows = F.calibration_rows(cal)
    names = []
    for d in cal.get("distributions", []):
        if d["model"] not in names:
            names.append(d["model"])
    for r in cal.get("rows", []):
        if r["model"] not in names:
            names.append(r["model"])
    colors, k = {}, 0
    from reports.svg import PALETTE

    for n in names:
        if n in CAL_BASE_COLORS:
            colors[n] = CAL_BASE_COLORS[n]
        else:
            colors[n] = PALETTE[k % len(PALETTE)]
            k += 1
    body = []
    for raw, r in zip(cal.get("rows", []), rows):
        c = colors.get(raw["model"], "#999")
        body.append(f'<tr class="{"base" if raw.get("baseline") else ""}"><td class="dec">{_sw(c)}{escape(r[0])}</td>'
                    + "".join(f'<td class="{"num" if i >= 2 else ""}">{escape(v)}</td>' for i, v in enumerate(r[1:], 1))
                    + "</tr>")
    table = ("<table><thead><tr>" + "".join(f'<th class="{"num" if i >= 2 else ""}">{escape(h)}</th>'
                                            for i, h in enumerate(head))
             + f'</tr></thead><tbody>{"".join(body)}</tbody></table>')
    figs = []
    params = []
    for d in cal.get("distributions", []):
        if d["parameter"] not in params:
            params.append(d["parameter"])
    for p in params:
        series, metric = [], ""
        for d in cal.get("distributions", []):
            if d["parameter"] != p:
                continue
            metric = d.get("metric", "error")
            v = [x for x in d["values"] if x > 0]
            n = len(d["values"]) + int(d.get("failures", 0))
            if not v or not n:
                continue
            pts = [Point(x, (i + 1) / n) for i, x in enumerate(v)]
            base = d["model"] in CAL_BASE_COLORS
            series.append(Series(d["model"], colors[d["model"]], pts, band=False, marker="none",
                                 dash=BASE_DASH if base else None, width=1.8 if base else 2.6))
        if series:
            figs.append(_fig(line_chart(series, title=f"{p}: error distribution", xlabel=metric, xlog=True,
                                        ylog=False, ylabel="fraction of repeats within", yrange=(0.0, 1.02),
                                        aria=f"Empirical CDF of the {metric} of {p}"),
                             "Empirical CDF over the simulated qubits: further left and steeper is better; a curve "
                             "that stops below 1 has failed repeats."))
    wl = cal.get("workload") or {}
    wl_txt = ", ".join(f"{k} {v}" for k, v in wl.items() if k in ("experiment", "repeats", "seed", "shots"))
    notes = "".join(f'<p class="small">{escape(n)}</p>' for m in cal.get("models", []) for n in m.get("notes", []))
    items = [(n + (" (baseline)" if n in CAL_BASE_COLORS else ""), colors[n]) for n in names]
    dashes = [BASE_DASH if n in CAL_BASE_COLORS else None for n in names]
    return (f'<section class="calib"><h2>{escape(cal.get("title", "Calibration models"))}</h2>'
            f'<p>Every model estimates the parameters of the same simulated qubits, whose true values are known '
            f'({escape(wl_txt)}; workload <span class="mono">{escape(str(cal.get("workload_id", ""))[:16])}</span>). '
            f'Qibocal\'s fit routines and sov\'s reference estimator are the open baselines.</p>{table}{notes}'
            f'{legend(items, dash=dashes) if figs else ""}<div class="charts">{"".join(figs)}</div></section>')


def _method(payload) -> str:
    from verifier.stats.binomial import CONFIDENCE

    conf = payload.get("confidence", CONFIDENCE)
    if not payload.get("decoders"):
        return ('<h2>Method</h2><ul class="method"><li>Ground truth: qubits are simulated with known parameters '
                '(binomial shot noise, readout errors); every model sees exactly the same data.</li><li>Errors: '
                '|estimate − truth| / |truth| per repeat (resonator frequency: in linewidths); readout: '
                'assignment fidelity on held-out shots.</li></ul>')
    return (
        '<h2>Method</h2><ul class="method">'
        '<li>Ground truth: every shot is sampled by stim from the workload circuit with a per-block seed, so all '
        'decoders see the same detection events and the true observable flips are known.</li>'
        f'<li>Logical error rate: failures / shots, with the exact {conf:.0%} Clopper-Pearson interval. Per round: '
        '1 − 2·P<sub>L</sub> = (1 − 2ε)<sup>rounds</sup>.</li>'
        '<li>Paired significance: per-shot failures of both decoders are read from the store; the exact McNemar '
        'test (two-sided binomial test on the discordant shots) decides whether the difference is real.</li>'
        '<li>Ranking: geometric mean over workloads of the LER ratio to the baseline (+0.5 failures on both '
        'sides keeps zero-failure workloads finite).</li>'
        '<li>Latency: wall time of one single-shot decode call (bit-packed events in, predictions out; for ONNX '
        'models without sov\'s sandbox transport) after a warm-up, garbage collector paused, divided by the '
        'number of rounds; measured on a shared, non-real-time OS, so the tail includes scheduler noise. '
        'Throughput: shots per second of batched replay (decoding only, sampling excluded).</li>'
        '<li>Results are recorded in DuckDB by (decoder fingerprint, workload); rerunning reuses them.</li></ul>')
