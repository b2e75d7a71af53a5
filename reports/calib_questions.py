"""``sov calib ask``'s tables: per question type the model's accuracy with its interval
beside chance, the majority answer and sov-reference; per fault scenario the counts."""

from __future__ import annotations

from reports.tables import new_table


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _ci(ci) -> str:  # one word: a narrow terminal wraps around it, never inside it
    return "-" if ci is None else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}"


def questions_table(card: dict):
    sel = card.get("selection", {})
    where = []
    if sel.get("scenarios"):
        where.append(f"fault scenarios at seed {sel.get('seed')}, {sel.get('repeats')} per variant")
    if sel.get("replay"):
        where.append(f"the recorded folder {sel['replay']}")
    from rich.markup import escape  # a model name or a folder may hold square brackets

    t = new_table(title=escape(f"{card['model']} on the calibration question set (v{card['question_version']}): "
                               f"{card['items']} items ({' and '.join(where)}); accuracy in %, 95 % "
                               "Clopper-Pearson interval"), title_justify="left")
    types = card["types"]
    t.add_column("")  # one column per question type: four types fit 80 columns, eight measures would not
    for qtype in types:
        t.add_column(qtype, justify="right")
    rows = [("correct", lambda r: f"{r['correct']}/{r['n']}"), ("accuracy %", lambda r: _pct(r["accuracy"])),
            ("95 % interval", lambda r: _ci(r["ci95"])), ("unparsed", lambda r: str(r["unparsed"])),
            ("chance %", lambda r: _pct(r["chance"])), ("majority %", lambda r: _pct(r["majority"])),
            ("sov-reference %", lambda r: _pct(r["reference"]["accuracy"]) if r.get("reference") else "-")]
    for name, cell in rows:
        t.add_row(name, *(cell(r) for r in types.values()))
    return t


def scenarios_table(card: dict):
    from rich.markup import escape  # square brackets are rich markup

    types = list(card["types"])
    t = new_table(title=escape("per fault scenario: correct/asked [sov-reference correct] (unparsed)"),
                  title_justify="left")
    t.add_column("scenario")
    for q in types:
        t.add_column(q, justify="right")
    for label, by_type in card["scenarios"].items():
        cells = []
        for q in types:
            c = by_type.get(q)
            cells.append("-" if c is None else escape(f"{c['correct']}/{c['n']}"
                         + (f" [{c['reference_correct']}]" if "reference_correct" in c else "")
                         + (f" ({c['unparsed']})" if c["unparsed"] else "")))
        t.add_row(label, *cells)
    return t


def questions_lines(card: dict) -> list[str]:
    lines = [f"parameters and drawn fits are scored within {100 * card['tolerance']:.0f} % (relative) of the truth; "
             "chance: uniform over the allowed answers (exact); majority: always the most common expected answer"]
    from rich.markup import escape

    lines += [escape(f"note: {n}") for n in card["notes"][:5]]
    g = card.get("gate")
    if g:
        lines.append(f"gate --min-accuracy {g['min_accuracy']:g}: {g['status']}"
                     + (f" ({', '.join(g['failed_types'])} below it)" if g["failed_types"] else ""))
    return lines
