"""The question set a plot-reading (vision-language) calibration model is scored on: the
question types of QCalEval that a known truth can score without a judge model.

=============  ================================  ===========================================
type           answer (one JSON object)          expected answer
=============  ================================  ===========================================
status         ``{"status": CODE}``              :data:`STATUS_OF_LABEL` of the scenario label
diagnosis      ``{"diagnosis": LABEL}``          the scenario label
fit_reliable   ``{"fit_reliable": "yes"|"no"}``  yes iff the scenario is healthy and every drawn
                                                 parameter is within :data:`TOLERANCE` of the truth
parameter      ``{NAME: number, ...}``           correct iff every parameter is within
                                                 :data:`TOLERANCE` (relative) of the truth
=============  ================================  ===========================================

A :class:`Prompt` is what an answerer may see: the sweep (and a fit curve, for the
``fit_reliable`` type), the question text and the allowed answers. The expected answer
lives beside it in the :class:`Item`, never in the prompt. An endpoint gets only the plot
of the prompt and its text (``adapters.vlm_questions``); sov's reference answerer reads the
prompt's numbers (``verifier.calib.question_scores``).

Answers are parsed strictly (:func:`parse`): the whole answer must be one JSON object
(surrounding white space and one Markdown code fence allowed, extra keys ignored) with the
asked key(s), a choice value exactly one of the allowed codes, a parameter a finite JSON
number. Anything else is ``unparsed``: scored wrong and counted separately.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

QUESTION_VERSION = "1"
QUESTION_TYPES = ("status", "diagnosis", "fit_reliable", "parameter")
TOLERANCE = 0.10  # relative: |answer - truth| <= 0.10 |truth|, for parameters and drawn fits

# status codes, in the order they are offered
STATUS_CHOICES: dict[str, str] = {
    "worked": "the experiment worked: the expected feature is clear and its parameter can be read",
    "no_signal": "no signal: the expected feature is absent, the data are flat noise",
    "widen_sweep": "the sweep is too narrow or too short to show the feature: widen or lengthen it",
    "more_drive": "the drive is too weak over the sweep: more drive amplitude is needed",
    "other_fault": "another fault: a feature is there but distorted (aliasing, detuning, beating, drift)",
}

# the one mapping of a fault label (verifier.calib.faults) to the status it calls for
STATUS_OF_LABEL: dict[str, str] = {
    "healthy": "worked",
    "no_signal": "no_signal",
    "under_driven": "more_drive",
    "over_driven": "other_fault",
    "wrong_frequency": "other_fault",
    "too_short": "widen_sweep",
    "beating": "other_fault",
    "drifting": "other_fault",
}

# the diagnosis codes, as a multiple choice offers them
DIAGNOSIS_CHOICES: dict[str, str] = {
    "healthy": "nothing went wrong",
    "no_signal": "the drive never reaches the qubit: flat population",
    "under_driven": "the drive amplitude sweep ends well below the pi amplitude: only a slow rise",
    "over_driven": "the pi amplitude is near the sweep step: the oscillation is aliased",
    "wrong_frequency": "the drive is detuned from the qubit: low contrast, faster oscillation",
    "too_short": "the wait-time sweep ends long before the decay has started",
    "beating": "two frequencies beat (a two-level system nearby)",
    "drifting": "a parameter drifts during the sweep",
}

# the labels whose sweep shows its parameter as it is: the only ones a fit can be reliable on
HEALTHY_LIKE = ("healthy",)

FIT_CHOICES: dict[str, str] = {"yes": "the drawn fit follows the data and its parameter can be trusted",
                               "no": "the fit cannot be trusted (wrong curve, or nothing to fit)"}


class NoAnswer(Exception):
    """An answerer got no answer for one item (an HTTP error, a reply that is not a chat
    completion): the item is scored as unparsed, with this reason."""


@dataclass(frozen=True)
class FitCurve:
    """A fit drawn over the data: the curve and the parameter values it stands for."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    params: dict[str, float]  # shown in the plot's legend


@dataclass(frozen=True)
class Prompt:
    """What an answerer may see of an item (no truth, no label)."""

    qtype: str
    experiment: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    units: str  # probability | au
    text: str
    key: str  # the JSON key of a choice answer ("" for parameter questions)
    choices: tuple[str, ...]  # allowed codes of a choice answer; () for a parameter question
    params: tuple[str, ...] = ()  # the parameters asked for (parameter questions)
    nshots: int | None = None  # not shown on the plot; sov's reference answerer uses it
    fit: FitCurve | None = None


@dataclass(frozen=True)
class Item:
    item_id: str
    scenario: str  # the fault label (simulated healthy qubits: healthy)
    source: str  # fault:<label> | simulated:<experiment> | recorded:<action>
    prompt: Prompt
    expected: Any  # a choice code, or {param: truth}
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "type": self.prompt.qtype, "scenario": self.scenario,
                "source": self.source, "experiment": self.prompt.experiment, "question": self.prompt.text,
                "choices": list(self.prompt.choices), "expected": self.expected, **self.detail}


def _choice_list(choices: dict[str, str]) -> str:
    return "; ".join(f'"{code}" ({what})' for code, what in choices.items())


def question_text(qtype: str, experiment_plot: str, y_label: str, x_unit: str,
                  params: tuple[tuple[str, str], ...] = ()) -> str:
    """The question of one type about a plot of an experiment (``params``: (name, what) of
    the parameters a parameter question asks for)."""
    head = f"The plot shows {experiment_plot}. The x axis is in {x_unit}; the y axis is {y_label}. "
    if qtype == "status":
        return head + ("What is the status of this calibration experiment? Answer with one JSON object only: "
                       '{"status": CODE} where CODE is one of: ' + _choice_list(STATUS_CHOICES) + ".")
    if qtype == "diagnosis":
        return head + ("What happened in this experiment? Answer with one JSON object only: "
                       '{"diagnosis": CODE} where CODE is one of: ' + _choice_list(DIAGNOSIS_CHOICES) + ".")
    if qtype == "fit_reliable":
        return head + ("A fit is drawn over the data (its parameters in the legend). Is the fit reliable? "
                       'Answer with one JSON object only: {"fit_reliable": "yes"} or {"fit_reliable": "no"}.')
    if qtype == "parameter":
        keys = ", ".join(f'"{name}": <{what}>' for name, what in params)
        return head + f"Read the fitted value(s) from the plot and answer with one JSON object only: {{{keys}}}."
    raise ValueError(f"unknown question type {qtype!r}")


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse(prompt: Prompt, raw: str | None) -> Any:
    """The answer as a choice code or ``{param: value}``; None when it does not parse."""
    if raw is None:
        return None
    text = raw.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1)
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    if prompt.choices:
        value = obj.get(prompt.key)
        return value if isinstance(value, str) and value in prompt.choices else None
    out = {}
    for name in prompt.params:
        v = obj.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        out[name] = float(v)
    return out


def within(value: float, truth: float, tolerance: float = TOLERANCE) -> bool:
    return abs(value - truth) <= tolerance * abs(truth)


def is_correct(item: Item, parsed: Any) -> bool:
    if parsed is None:
        return False
    if item.prompt.choices:
        return parsed == item.expected
    return all(within(parsed[n], t) for n, t in item.expected.items())
