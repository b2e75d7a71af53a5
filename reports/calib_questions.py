"""``sov calib ask``'s tables: per question type the model's accuracy with its interval
beside chance, the majority answer and sov-reference; per fault scenario the counts."""

from __future__ import annotations

from reports.tables import new_table


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _ci(ci) -> str:
    return "-" if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] %"


def questions_table(card: dict):
    sel = card.get("selection", {})
    where = []
    if sel.get("scenarios"):
        where.append(f"fault scenarios at seed {sel.get('seed')}, {sel.get('repeats')} per variant")
    if sel.get("replay"):
        where.append(f"the recorded folder {sel['replay']}")
    t = new_table(title=f"{card['model']} on the calibration question set (v{card['question_version']}): "
                        f"{card['items']} items ({' and '.join(where)}); 95 % Clopper-Pearson intervals",
                  title_justify="left")
    for c in ("question type", "correct", "accuracy", "95 % interval", "unparsed", "chance", "majority",
              "sov-reference"):
        t.add_column(c, justify="left" if c == "question type" else "right")
    for qtype, row in card["types"].items():
        ref = row.get("reference")
        t.add_row(qtype, f"{row['correct']}/{row['n']}", _pct(row["accuracy"]), _ci(row["ci95"]),
                  str(row["unparsed"]), _pct(row["chance"]), _pct(row["majority"]),
                  "-" if ref is None else f"{ref['correct']}/{ref['n']} ({_pct(ref['accuracy'])})")
    return t


def scenarios_table(card: dict):
    types = list(card["types"])
    t = new_table(title="per fault scenario: correct/asked (unparsed)", title_justify="left")
    t.add_column("scenario")
    for q in types:
        t.add_column(q, justify="right")
    for label, by_type in card["scenarios"].items():
        cells = []
        for q in types:
            c = by_type.get(q)
            cells.append("-" if c is None else f"{c['correct']}/{c['n']}" + (f" ({c['unparsed']})" if c["unparsed"] else ""))
        t.add_row(label, *cells)
    return t


def questions_lines(card: dict) -> list[str]:
    lines = [f"parameters and drawn fits are scored within {100 * card['tolerance']:.0f} % (relative) of the truth; "
             "chance: uniform over the allowed answers (exact); majority: always the most common expected answer"]
    lines += [f"note: {n}" for n in card["notes"][:5]]
    g = card.get("gate")
    if g:
        lines.append(f"gate --min-accuracy {g['min_accuracy']:g}: {g['status']}"
                     + (f" ({', '.join(g['failed_types'])} below it)" if g["failed_types"] else ""))
    return lines
