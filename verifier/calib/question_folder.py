"""Items of the question set (``verifier.calib.questions``) from a recorded Qibocal output
folder: each replayed sweep as a plot, with ``status``, ``diagnosis`` and ``parameter``
questions (no drawn fit: ``fit_reliable`` is asked on simulated sweeps only), and only
where the folder's truth (a ``truth.json`` in or beside it,
``verifier.calib.folder.load_truth``) says what the answer is.

An action's label is the ``label`` its truth.json entry names (``sov calib export
--scenario`` writes one); an action whose truth gives parameters and no label is taken as
healthy (its parameters are the physics it ran with). Actions without any truth are not
asked about, and say so in the notes. The parameter question needs the truth of every
parameter of the experiment.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.folder import load_truth, scan_folder, truth_of
from verifier.calib.question_items import prompt_for
from verifier.calib.questions import HEALTHY_LIKE, STATUS_OF_LABEL, Item
from verifier.calib.sweep_shape import SPECTROSCOPIES
from verifier.errors import UsageError


def _labels(truth_file: str | None) -> dict[str, str]:
    if truth_file is None:
        return {}
    raw = json.loads(Path(truth_file).read_text())  # load_truth has already refused a bad file
    return {k: v["label"] for k, v in raw.items()
            if isinstance(v, dict) and v.get("label") in STATUS_OF_LABEL}


def recorded_items(root, records) -> tuple[list[Item], list[str]]:
    """``records``: Qibocal's loaders (``verifier.cli.wiring.qibocal_records()``)."""
    root = Path(root)
    entries = scan_folder(root)
    if not entries:
        raise UsageError(f"{root}: no Qibocal action (action.yml, data.npz) found")
    truth, truth_file = load_truth(root)
    labels = _labels(truth_file)
    items: list[Item] = []
    notes: list[str] = []
    for e in entries:
        action = records.load(e.path) if e.status == "replayable" else None
        if action is None or get_experiment(action.experiment).kind != "fit":
            notes.append(f"{root.name}/{e.action_id}: not asked ({e.status}"
                         f"{', ' + e.experiment if e.experiment else ''})")
            continue
        t = truth_of(truth, action.action_id, action.experiment)
        label = labels.get(action.action_id) or ("healthy" if t else None)
        if label is None:
            notes.append(f"{root.name}/{action.action_id}: no truth in a truth.json: not asked")
            continue
        units = "au" if action.experiment in SPECTROSCOPIES else "probability"
        names = get_experiment(action.experiment).param_names
        for q in action.qubits:
            x, y = action.sweep(q)
            if x.shape != y.shape or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                raise UsageError(f"{root}: action {action.action_id}: qubit {q}: the sweep has non-finite "
                                 "or mismatched values")
            base = f"recorded/{root.name}/{action.action_id}/q{q}"
            src = f"recorded:{action.action_id}"
            items.append(Item(f"{base}/status", label, src,
                              prompt_for("status", action.experiment, x, y, units, action.nshots),
                              STATUS_OF_LABEL[label]))
            items.append(Item(f"{base}/diagnosis", label, src,
                              prompt_for("diagnosis", action.experiment, x, y, units, action.nshots), label))
            if label in HEALTHY_LIKE and all(n in t for n in names):
                items.append(Item(f"{base}/parameter", label, src,
                                  prompt_for("parameter", action.experiment, x, y, units, action.nshots),
                                  {n: t[n] for n in names}))
    return items, notes
