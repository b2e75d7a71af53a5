"""Scoring a plot-reading model on the question set (``verifier.calib.questions``), with
two reference answerers on the same items to place it.

Per question type: the model's accuracy ``k / n`` with a two-sided 95 % Clopper-Pearson
interval (``verifier.stats.binomial``), its unparsed answers, and on the same items:

- **chance**: uniform over the allowed answers, its expected accuracy computed exactly
  (a choice item: 1 / number of choices; a parameter item: the probability that a value
  drawn uniformly over the parameter's plotted range lands within the tolerance of the
  truth, :func:`chance_of`; several parameters: the product);
- **majority**: the share of the most common expected answer (what always giving that one
  answer scores);
- **sov-reference**: sov's own pipeline (:class:`ReferenceAnswerer`: the signal test and
  the reference fit, reading the sweep's numbers rather than the plot), answering through
  the same strict parser.

A per-scenario breakdown gives the same counts per fault label.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.question_items import Fits, reference_params
from verifier.calib.questions import (QUESTION_TYPES, QUESTION_VERSION, STATUS_OF_LABEL, TOLERANCE, Item, NoAnswer,
                                      Prompt, is_correct, parse, within)
from verifier.stats.binomial import CONFIDENCE, clopper_pearson

OSCILLATIONS = ("rabi_amplitude", "rabi_length")
DECAYS = ("t1", "spin_echo")


class Answerer(Protocol):
    name: str

    def answer(self, prompt: Prompt) -> str: ...


@dataclass
class Answer:
    item: Item
    raw: str | None
    parsed: Any
    correct: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.item.to_json() | {"raw_answer": self.raw, "parsed": self.parsed, "correct": self.correct,
                                      "unparsed": self.parsed is None, "error": self.error}


def ask(items: list[Item], answerer: Answerer) -> list[Answer]:
    """Every item's prompt (never its expected answer) to the answerer, parsed and scored."""
    out = []
    for item in items:
        try:
            raw, error = answerer.answer(item.prompt), None
        except NoAnswer as e:
            raw, error = None, str(e)
        parsed = parse(item.prompt, raw)
        out.append(Answer(item, raw, parsed, is_correct(item, parsed), error))
    return out


# -- the reference answerers ----------------------------------------------------------------

@dataclass
class ReferenceAnswerer:
    """sov's pipeline: the signal test, then the reference fit, named by the same codes."""

    fits: Fits
    name: str = "sov-reference"
    _seen: dict = field(default_factory=dict, repr=False)  # a sweep is asked about by up to five items

    def diagnose(self, p: Prompt) -> str:
        key = (p.experiment, p.x, p.y, p.units, p.nshots)
        if key not in self._seen:
            self._seen[key] = self._diagnose(p)
        return self._seen[key]

    def _diagnose(self, p: Prompt) -> str:
        from verifier.calib.signal import check_signal

        x, y = np.asarray(p.x), np.asarray(p.y)
        check = check_signal(p.experiment, x, y, p.nshots if p.units == "probability" else None)
        verdict = check.verdict if check is not None else "signal"
        if verdict == "no signal":
            return "too_short" if p.experiment in DECAYS else "no_signal"
        if verdict == "poor fit":
            return "beating" if p.experiment == "ramsey" else "drifting"
        ref = self.params(p)
        if ref is None:
            return "no_signal"
        first = next(iter(ref.values()))
        if p.experiment in OSCILLATIONS and first >= 0.9 * x.max():
            return "under_driven"  # the first maximum is at or past the end of the sweep
        if p.experiment in DECAYS and first >= x.max():
            return "too_short"
        return "healthy"

    def params(self, p: Prompt) -> dict[str, float] | None:
        key = ("fit", p.experiment, p.x, p.y)
        if key not in self._seen:
            self._seen[key] = reference_params(self.fits, p.experiment, np.asarray(p.x), np.asarray(p.y))
        return self._seen[key]

    def answer(self, p: Prompt) -> str:
        if p.qtype == "parameter":
            ref = self.params(p)
            return json.dumps(ref) if ref is not None else "no fit"
        label = self.diagnose(p)
        if p.qtype == "status":
            return json.dumps({"status": STATUS_OF_LABEL[label]})
        if p.qtype == "diagnosis":
            return json.dumps({"diagnosis": label})
        ref = self.params(p)
        ok = (label == "healthy" and ref is not None and p.fit is not None
              and all(within(v, ref[k]) for k, v in p.fit.params.items()))
        return json.dumps({"fit_reliable": "yes" if ok else "no"})


def _param_range(p: Prompt, name: str) -> tuple[float, float]:
    """The range a parameter could be read from on the plot: the x axis in the x axis's
    unit; a frequency on a time axis: 0 .. the sweep's Nyquist frequency."""
    exp = get_experiment(p.experiment)
    unit = next(q.unit for q in exp.params if q.name == name)
    x = np.asarray(p.x)
    if unit == "Hz" and exp.x_unit == "ns":
        return 0.0, 0.5e9 / float(np.median(np.diff(np.sort(x))))
    return float(x.min()), float(x.max())


def chance_of(item: Item) -> float:
    """The exact probability that a uniform answer is correct."""
    p = item.prompt
    if p.choices:
        return 1.0 / len(p.choices)
    prob = 1.0
    for name, truth in item.expected.items():
        lo, hi = _param_range(p, name)
        a, b = truth - TOLERANCE * abs(truth), truth + TOLERANCE * abs(truth)
        prob *= max(0.0, min(b, hi) - max(a, lo)) / (hi - lo) if hi > lo else 0.0
    return prob


# -- scoring --------------------------------------------------------------------------------

def _counts(answers: list[Answer]) -> dict[str, Any]:
    n, k = len(answers), sum(a.correct for a in answers)
    lo, hi = clopper_pearson(k, n)
    return {"n": n, "correct": k, "unparsed": sum(a.parsed is None for a in answers),
            "accuracy": k / n if n else None, "ci95": [lo, hi] if n else None}


def _majority(items: list[Item]) -> float | None:
    if not items or not items[0].prompt.choices:
        return None
    return Counter(i.expected for i in items).most_common(1)[0][1] / len(items)


def score(answers: list[Answer], reference: list[Answer] | None = None) -> dict[str, Any]:
    """Per type and per scenario: the counts, the interval, and the reference answerers."""
    ref_by_id = {a.item.item_id: a for a in reference or []}
    types: dict[str, Any] = {}
    for qtype in QUESTION_TYPES:
        mine = [a for a in answers if a.item.prompt.qtype == qtype]
        if not mine:
            continue
        items = [a.item for a in mine]
        row = _counts(mine)
        row["chance"] = sum(chance_of(i) for i in items) / len(items)
        row["majority"] = _majority(items)
        refs = [ref_by_id[i.item_id] for i in items if i.item_id in ref_by_id]
        if refs:
            r = _counts(refs)
            row["reference"] = {"correct": r["correct"], "n": r["n"], "accuracy": r["accuracy"], "ci95": r["ci95"]}
        types[qtype] = row
    scenarios: dict[str, dict[str, Any]] = {}
    for a in answers:
        scenarios.setdefault(a.item.scenario, {}).setdefault(a.item.prompt.qtype, []).append(a)
    def cell(mine: list[Answer]) -> dict[str, Any]:
        c = _counts(mine)
        out = {"n": c["n"], "correct": c["correct"], "unparsed": c["unparsed"]}
        if ref_by_id:
            out["reference_correct"] = sum(ref_by_id[a.item.item_id].correct for a in mine
                                           if a.item.item_id in ref_by_id)
        return out

    per_scenario = {s: {t: cell(v) for t, v in by_type.items()} for s, by_type in scenarios.items()}
    return {"confidence": CONFIDENCE, "interval": "Clopper-Pearson (exact, two-sided)",
            "types": types, "scenarios": per_scenario}


def gate(types: dict[str, Any], min_accuracy: float | None) -> dict[str, Any] | None:
    """``--min-accuracy``: every question type's accuracy (the point estimate) at least it."""
    if min_accuracy is None:
        return None
    failed = [t for t, row in types.items() if row["accuracy"] is not None and row["accuracy"] < min_accuracy]
    return {"min_accuracy": min_accuracy, "failed_types": failed, "status": "fail" if failed else "pass",
            "exit_code": 1 if failed else 0}


def scorecard(answers: list[Answer], reference: list[Answer] | None, *, model: str, notes: list[str],
              min_accuracy: float | None = None) -> dict[str, Any]:
    s = score(answers, reference)
    return {"model": model, "question_version": QUESTION_VERSION, "tolerance": TOLERANCE, "items": len(answers),
            **s, "gate": gate(s["types"], min_accuracy), "notes": notes,
            "answers": [a.to_json() for a in answers]}
