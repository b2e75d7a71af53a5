"""Drift signatures on a recorded Qibocal folder (``sov drift calib --model M --replay DIR``):
what the model returns on the folder's own sweeps (fits: its estimates per action and qubit;
discriminators: the predicted state of every recorded shot, bit-packed), with a digest. The
folder's content hash is the reference data set, so a signature is compared only with the
last one taken on the same folder (``verifier.calib.accept.compare_signatures``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.replay import folder_id, plan_folder
from verifier.calib.replay_rows import classify, estimate
from verifier.calib.run import ModelFactory, close, fingerprint
from verifier.errors import UsageError


def folder_signature(model_spec: Any, folder: str | Path, *, records, experiment: str | None = None,
                     contract: str | None = None, resolve: ModelFactory | None = None) -> dict[str, Any]:
    root = Path(folder)
    plan, models = plan_folder(root, records, model_spec, experiment, resolve, contract, None)
    served = [(a, m) for _, a, m in plan if a is not None and m is not None and not isinstance(m, UsageError)]
    exps = sorted({a.experiment for a, _ in served})
    try:
        if len(exps) > 1:
            raise UsageError(f"{root}: the model serves {', '.join(exps)} here: give --experiment for one drift signature")
        exp = get_experiment(exps[0])
        model = served[0][1]
        values: Any = []
        for a, _ in served:
            for q in a.qubits:
                if exp.kind == "readout":
                    iq, states = a.shots(q)
                    values.append(np.packbits(np.asarray(classify(model, iq, states), np.uint8)).tobytes().hex())
                else:
                    x, y = a.sweep(q)
                    values.append(np.asarray(estimate(model, exp.name, x, y, a.nshots, a.context(q))[0], float).tolist())
        sig = {"experiment": exp.name, "reference_id": "folder:" + folder_id([Path(a.path) for a, _ in served]),
               "folder": str(root), "actions": [a.action_id for a, _ in served],
               "model": getattr(model, "name", str(model_spec)), "fingerprint": fingerprint(model),
               "model_sha256": getattr(model, "sha256", None), "params": exp.param_names,
               "values": "".join(values) if exp.kind == "readout" else values}
    finally:
        for m in models.values():
            if not isinstance(m, UsageError):
                close(m)
    sig["digest"] = hashlib.sha256(json.dumps([sig["reference_id"], sig["values"]], default=str).encode()).hexdigest()
    return sig
