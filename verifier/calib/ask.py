"""``sov calib ask``: a plot-reading calibration model asked the question set
(``verifier.calib.questions``) on fault scenarios and simulated healthy qubits, scored per
question type beside chance and sov's own pipeline, every answer recorded."""

from __future__ import annotations

from typing import Any

from verifier.calib.question_items import N_POINTS, SIMULATED, UNITS, Fits, build_items
from verifier.calib.question_scores import Answerer, ReferenceAnswerer, ask, scorecard
from verifier.calib.questions import QUESTION_VERSION
from verifier.errors import UsageError


def ask_model(answerer: Answerer, fits: Fits, *, scenarios=("all",), seed: int = 0, repeats: int = 2,
              n_points=N_POINTS, units=UNITS, simulated=SIMULATED, replay=None, records=None, store=None,
              run_id: str | None = None, min_accuracy: float | None = None) -> dict[str, Any]:
    """Build the items (of the fault ``scenarios``, and of a recorded folder ``replay`` read
    through ``records``), ask the model and sov-reference, score, and (with a store)
    record the model's answers in ``cal_answers``."""
    items, notes = [], []
    if scenarios:
        items, notes = build_items(list(scenarios), fits, seed=seed, repeats=repeats, n_points=n_points,
                                   units=units, simulated=simulated)
    if replay is not None:
        from verifier.calib.question_folder import recorded_items

        more, no = recorded_items(replay, records)
        items, notes = items + more, notes + no
    if not items:
        raise UsageError("no item to ask about: give --scenario, or a --replay folder with a truth.json")
    answers = ask(items, answerer)
    reference = ask(items, ReferenceAnswerer(fits))
    model = getattr(answerer, "name", type(answerer).__name__)
    card = scorecard(answers, reference, model=model, notes=notes, min_accuracy=min_accuracy)
    card["selection"] = {"scenarios": list(scenarios or []), "seed": seed, "repeats": repeats,
                         "n_points": list(n_points), "units": list(units), "simulated": list(simulated),
                         "replay": None if replay is None else str(replay)}
    if store is not None:
        from verifier.store.calib_answers import insert_answers

        insert_answers(store, card["answers"], run_id=run_id, model=model, question_version=QUESTION_VERSION)
    return card
