"""The calibration gate on a recorded folder (``sov calib replay DIR --gate``, ``sov accept
--candidate M --baseline qibocal --replay DIR``): one verdict per experiment of the folder.

Per replayed qubit and parameter, with the tolerance ``t`` (``verifier.calib.tolerance``:
candidate error <= factor x baseline error + floor):

- **with the truth** (a truth.json in or beside the folder names the parameter), the errors
  against the truth decide: candidate ``|c - truth| / |truth|`` against the baseline's (Qibocal's
  re-fit, else its recorded value). Where Qibocal failed there is no baseline error to
  scale the tolerance by: the candidate passes within the tolerance's floor of the truth,
  is ``inconclusive`` beyond it, and ``fail`` if it fails too;
- **without it**, agreement and stability: the candidate's difference from the baseline
  must lie within the tolerance of the baseline's own resampling spread
  (``|c - b| / |b| <= factor x spread_b + floor``), and the candidate's spread within the
  tolerance of the baseline's; without spreads (no resampling, an unknown shot count)
  the parameter is ``inconclusive``.

A sweep whose signal test says ``no signal`` is ``inconclusive`` unless the truth decides (a
parameter read off noise cannot be judged by agreement). A candidate that fails where the
baseline fits is ``fail``. Readout: ``1 - assignment
fidelity`` on the recorded shots, the candidate's against Qibocal's re-fit scored the same
way. An experiment's verdict is the worst of its qubits and parameters; the folder's is
``fail`` if any experiment fails, else ``inconclusive`` if any is, else ``pass`` (exit 0 / 1 / 3).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from verifier.calib.tolerance import Tolerance
from verifier.jsonsafe import json_safe

GATE_NAME = "calibration_replay"
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3}


def _err(v, ref) -> float:
    if v is None or ref is None or not np.isfinite(v):
        return float("inf")
    return float(abs(v - ref) / abs(ref))


def _judge_truth(c, b, truth: float, tol: Tolerance) -> dict[str, Any]:
    ce, be = _err(c, truth), _err(b, truth)
    if not np.isfinite(be):  # no baseline error to scale the tolerance by: only the floor is sure
        status = "pass" if ce <= tol.floor else "fail" if not np.isfinite(ce) else "inconclusive"
        return {"decided_by": "truth", "candidate_error": ce, "baseline_error": be, "allowed": tol.floor,
                "status": status, "why": "Qibocal failed: the candidate must lie within the tolerance's floor "
                                         "of the truth to pass"}
    allowed = tol.factor * be + tol.floor
    status = "pass" if np.isfinite(ce) and ce <= allowed else "fail"
    return {"decided_by": "truth", "candidate_error": ce, "baseline_error": be, "allowed": allowed,
            "status": status}


def _judge_agreement(c, b, st: dict, tol: Tolerance) -> dict[str, Any]:
    if b is None or not np.isfinite(b):
        return {"decided_by": "agreement", "status": "inconclusive",
                "why": "the baseline has no value to agree with and there is no truth"}
    if c is None or not np.isfinite(c):
        return {"decided_by": "agreement", "status": "fail", "why": "the candidate failed where the baseline fits"}
    sb, sc = st.get("qibocal_rel_spread"), st.get("candidate_rel_spread")
    d = _err(c, b)
    if sb is None or sc is None:
        return {"decided_by": "agreement", "difference": d, "status": "inconclusive",
                "why": "no resampling spread to judge the difference against (--bootstrap 0 or no shot count)"}
    allowed = tol.factor * sb + tol.floor
    stable = sc <= tol.factor * sb + tol.floor
    return {"decided_by": "agreement", "difference": d, "allowed": allowed, "candidate_spread": sc,
            "baseline_spread": sb, "status": "pass" if d <= allowed and stable else "fail",
            **({} if stable else {"why": "the candidate is less stable under resampling than allowed"})}


def _judge_fit(q: dict, tol: Tolerance) -> dict[str, dict]:
    out = {}
    cand = q.get("candidate") or {}
    base = q.get("qibocal_refit") or q.get("qibocal_recorded") or {}
    truth = q.get("truth") or {}
    no_signal = (q.get("signal") or {}).get("verdict") == "no signal"
    for p in (cand or base or truth):
        c, b = cand.get(p), base.get(p)
        if p in truth:
            out[p] = _judge_truth(c, b, truth[p], tol)
        elif no_signal:
            out[p] = {"decided_by": "signal test", "status": "inconclusive",
                      "why": "no signal in the sweep and no truth"}
        else:
            out[p] = _judge_agreement(c, b, (q.get("stability") or {}).get(p, {}), tol)
    if not out and q.get("candidate_error"):
        out["candidate"] = {"status": "fail", "why": q["candidate_error"]}
    return out


def _judge_readout(q: dict, tol: Tolerance) -> dict[str, dict]:
    c, b = q.get("candidate_fidelity"), q.get("qibocal_fidelity")
    ce = 1 - c if c is not None else float("inf")
    be = 1 - b if b is not None else float("inf")
    allowed = tol.factor * be + tol.floor
    status = ("inconclusive" if not np.isfinite(ce) and not np.isfinite(be)
              else "pass" if ce <= allowed else "fail")
    return {"assignment_fidelity": {"decided_by": "prepared states", "candidate_error": ce, "baseline_error": be,
                                    "allowed": allowed, "status": status}}


def _worst(statuses) -> str:
    s = set(statuses)
    return "fail" if "fail" in s else "inconclusive" if "inconclusive" in s or not s else "pass"


def gate_replay(report: dict, tolerance: "Tolerance | str | float | None" = None) -> dict[str, Any]:
    """Per experiment of a replayed folder, its verdict with the figures that decided it."""
    tol = Tolerance.parse(tolerance)
    per: dict[str, dict] = {}
    for a in report["actions"]:
        if a["status"] != "replayed":
            continue
        exp = per.setdefault(a["experiment"], {"actions": [], "statuses": []})
        for q in a["qubits"]:
            judged = (_judge_readout(q, tol) if "candidate_fidelity" in q or a["experiment"] == "readout"
                      else _judge_fit(q, tol))
            exp["actions"].append({"action": a["action"], "qubit": q["qubit"], "parameters": judged})
            exp["statuses"] += [j["status"] for j in judged.values()]
    experiments = {}
    for name, e in per.items():
        experiments[name] = {"status": _worst(e["statuses"]), "actions": e["actions"]}
    status = _worst(v["status"] for v in experiments.values())
    return json_safe({"gate": GATE_NAME, "status": status, "exit_code": EXIT_CODES[status],
                      "tolerance": tol.to_json(), "tolerance_text": tol.describe(),
                      "baseline": "qibocal", "candidate": report.get("model"),
                      "truth_file": report.get("truth_file"), "experiments": experiments})
