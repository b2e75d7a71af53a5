"""The comparison report in Markdown: the same summary table as the HTML report, for pull
requests and wikis (GitHub-flavoured tables, no HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports import compare_fmt as F


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in head) + " |",
           "|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def render_markdown(payload: dict[str, Any]) -> str:
    if not payload.get("decoders"):
        return _calibration_only(payload)
    out = _qec(payload)
    if payload.get("calibration"):
        out += "\n" + "\n".join(_calibration(payload["calibration"]))
    return out


def _calibration(cal: dict[str, Any]) -> list[str]:
    head, rows = F.calibration_rows(cal)
    return [f"### {cal.get('title', 'Calibration models')}", ""] + _table(head, rows, ["l", "l"] + ["r"] * (len(head) - 2)) + [""]


def _calibration_only(payload: dict[str, Any]) -> str:
    cal = payload["calibration"]
    lines = [f"## Calibration model comparison ({cal.get('experiment')})", "", f"Run `{payload['run_id']}`", ""]
    lines += _calibration(cal)
    for m in cal.get("models", []):
        lines.append(f"- **{m['model']}**: " + (f"sha256 `{m['model_sha256']}`" if m.get("model_sha256") else "open baseline"))
    lines += ["", "### Reproduce", "", "```", payload["command"], "```", ""]
    return "\n".join(lines)


def _qec(payload: dict[str, Any]) -> str:
    dm = F.decoder_map(payload)
    base = payload["baseline"]
    bl = dm[base]["label"]
    sweep = payload["sweep"]
    lines = [f"## Decoder comparison ({len(payload['decoders'])} decoders, {len(payload['workloads'])} workloads)", "",
             f"Run `{payload['run_id']}` · rotated surface-code memory {sweep['basis'].upper()}, {sweep['noise']} noise, "
             f"d ∈ {{{', '.join(str(d) for d in sweep['distances'])}}}, p ∈ {{{', '.join(f'{p:g}' for p in sweep['ps'])}}}, "
             f"{sweep['shots']:,} shots per workload, seed {sweep['seed']} · baseline **{bl}**", ""]
    for d in payload["decoders"]:
        if d.get("integrity_failure"):
            lines += [f"> **{d['label']}** failed an integrity check and has no score: {d['integrity_failure']}", ""]
    lam_p = next((r.get("lambda_p") for r in payload["summary"] if r.get("lambda_p") is not None), None)
    head = ["#", "Decoder", "sha256", "Failures / shots", "Pooled LER [95% CI]", f"LER ÷ {bl}",
            "Verdict vs baseline", "Threshold", f"Λ (p = {lam_p:g}, rounds = d)" if lam_p is not None else "Λ (rounds = d)", "p50 µs/round", "p99 µs/round", "p99.9 µs/round", "Shots/s"]
    rows = []
    for r in payload["summary"]:
        d = dm[r["decoder"]]
        verdict, detail = F.paired(r)
        if r.get("integrity_failure"):
            verdict, detail = "integrity failure", ""
        ci = r.get("pooled_ler_ci") or [None, None]
        rows.append([F.rank(r), f"**{d['label']}**", f"`{F.short_sha(d)}`",
                     f"{r['errors']:,} / {r['shots']:,}", F.ler_ci(r["pooled_ler"], ci[0], ci[1]),
                     F.ratio(r["ratio_to_baseline"]), f"{verdict}" + (f" ({detail})" if detail else ""),
                     F.threshold(r), F.lam(r), F.micro(r["latency_p50"]), F.micro(r["latency_p99"]),
                     F.micro(r["latency_p999"]), F.rate(r["throughput"])])
    key = F.main_target(payload)
    best = any(r.get("vs_best_open") for r in payload["summary"])
    ans = [[f"**{dm[r['decoder']]['label']}**", F.paired(r)[0], *([F.best_open_text(r)] if best else []),
            F.qubits_text(r, key), F.saved_text(r, key), F.realtime_text(r)] for r in payload["summary"]]
    lines += ["### What each decoder is worth", "",
              *_table(["Decoder", "Verdict vs baseline", *(["vs best open decoder"] if best else []),
                       f"Physical qubits per logical at {key} [95% CI]", "vs baseline", "Real time"], ans,
                      ["l", "l", *(["l"] if best else []), "r", "r", "l"]), ""]
    lines += ["### Summary", ""] + _table(head, rows, ["r", "l", "l", "r", "r", "r", "l", "r", "r", "r", "r", "r", "r"])
    lines += ["", f"{bl} is the reference. Candidates are ranked by verdict (better, non-inferior, "
              "inconclusive, worse), then by the geometric mean of the LER ratio to it. Each workload is "
              "tested on its own (non-inferiority at the margin; exact McNemar on the same shots, "
              f"Holm-adjusted across the candidate's workloads, α = {payload.get('alpha', 0.05):g}).", ""]

    order = [d["key"] for d in payload["decoders"]]
    res = {(r["decoder"], r["workload_id"]): r for r in payload["results"]}
    rows = []
    for w in payload["workloads"]:
        row = [F.workload_label(w), f"`{w['id'][:12]}`"]
        for k in order:
            r = res.get((k, w["id"]))
            row.append(F.ler_ci(r["ler"], *r["ler_ci"]) + f" ({r['errors']:,})" if r else "—")
        rows.append(row)
    lines += ["### Logical error rate by workload", ""]
    lines += _table(["Workload", "Id"] + [dm[k]["label"] for k in order], rows, ["l", "l"] + ["r"] * len(order))
    lines += ["", "LER per shot [95% Clopper-Pearson] (failures).", "", "### Models", ""]
    for d in payload["decoders"]:
        m = d.get("model")
        if m:
            lines.append(f"- **{d['label']}**: `{m['file_name']}` sha256 `{m['sha256']}`, contract `{m.get('contract')}`, "
                         f"{F.size(m.get('size_bytes'))}, operators {', '.join(m.get('operators', []))}")
        elif d.get("members"):
            lines.append(f"- **{d['label']}**: model family of {len(d['members'])} files: " + ", ".join(
                f"`{Path(f['file']).name}` sha256 `{f['sha256'][:16]}`" for f in d["members"]))
        else:
            lines.append(f"- **{d['label']}**: open baseline, fingerprint `{d['fingerprint'][:16]}`")
    vs = payload.get("verdicts") or []
    if vs:
        lines += ["", "### Verdicts", ""]
        lines += _table(["Recorded", "Kind", "Subject", "Verdict", "Gates", "Evidence hash"],
                        [[str(v.get("recorded_at", ""))[:19], str(v.get("kind")), str(v.get("subject")),
                          f"**{v.get('verdict')}**", "; ".join(v.get("gates") or []),
                          f"`{str(v.get('evidence_hash') or '')[:16]}`"] for v in vs],
                        ["l", "l", "l", "l", "l", "l"])
    env = payload["environment"]
    pk = env.get("packages", {})
    lines += ["", "### Reproduce", "", "```", payload["command"], "```", "",
              f"Environment: {env.get('cpu')} ({env.get('cores')} cores), Python {env.get('python')}, "
              + ", ".join(f"{k} {v}" for k, v in pk.items() if v), ""]
    return "\n".join(lines)
