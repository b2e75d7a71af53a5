"""Threshold and Λ of one decoder's results (``verifier.stats.threshold`` and
``verifier.stats.suppression``), with a note saying why a fit could not be made."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

THRESHOLD_BOOTSTRAP = 100
LAMBDA_BOOTSTRAP = 400
_KEY = ("distance", "rounds", "p", "shots", "errors")


def threshold_and_lambda(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Threshold (finite-size-scaling fit, needs >= 2 distances and >= 3 p values) and Λ
    (per-round suppression, one fit per p over >= 2 distances) of one decoder's results.
    The compare grid runs rounds = d only, so its Λ is in the single-round-count
    convention (``lambda_convention``), which reads higher than ``sov qec lambda``'s.

    The summary's Λ is the one at the lowest p (deepest below threshold); every p's Λ is
    kept in ``lambda_by_p``. A fit that cannot be made says why in ``note``."""
    out: dict[str, Any] = {"threshold": None, "threshold_ci": None, "threshold_fit": None, "lambda": None,
                           "lambda_ci": None, "lambda_p": None, "lambda_by_p": [], "note": None}
    if len({r["distance"] for r in rows}) < 2:
        out["note"] = "threshold and Λ need >= 2 distances"
        return out
    key = tuple(sorted(tuple(r[k] for k in _KEY) for r in rows))
    th_part, lam_part, notes = _fits(key)
    out.update(th_part)
    out.update(lam_part)
    out["note"] = "; ".join(notes) or None
    return out


@lru_cache(maxsize=64)
def _fits(key: tuple) -> tuple[dict, dict, list[str]]:
    """The fits for one set of counts (cached: identical decoders share them)."""
    rows = [dict(zip(_KEY, k)) for k in key]
    notes: list[str] = []
    th = _threshold(rows, notes)
    lam = _lambda(rows, notes)
    return th, lam, notes


def _threshold(rows: list[dict], notes: list[str]) -> dict[str, Any]:
    distances = sorted({r["distance"] for r in rows})
    ps = sorted({r["p"] for r in rows})
    th: dict[str, Any] = {}
    if len(ps) < 3:
        notes.append("threshold needs >= 3 p values")
        return th
    if not _curves_cross(rows, distances, ps):
        notes.append("threshold: the curves of successive distances do not cross inside the swept rates "
                     "(all below or all above threshold)")
        th["threshold_fit"] = {"status": "no_crossing", "message": notes[-1], "crossings": []}
        return th
    try:
        from verifier.stats.threshold import LerPoint, fit_threshold

        fit = fit_threshold([LerPoint(r["distance"], r["p"], r["shots"], r["errors"]) for r in rows],
                            bootstrap=THRESHOLD_BOOTSTRAP)
    except ImportError:
        notes.append("threshold: fit module not installed")
        return th
    except (ValueError, ArithmeticError) as e:
        notes.append(f"threshold: {e}")
        return th
    js = fit.to_json()
    th["threshold_fit"] = {k: js.get(k) for k in ("threshold", "threshold_ci", "status", "message",
                                                    "crossings", "curves", "fit_distances", "warnings")}
    if fit.status == "ok" and fit.threshold is not None:
        th["threshold"] = fit.threshold
        th["threshold_ci"] = list(fit.threshold_ci)
    else:
        notes.append(f"threshold: {fit.message or fit.status}")
    return th


def _lambda(rows: list[dict], notes: list[str]) -> dict[str, Any]:
    lam: dict[str, Any] = {"lambda_by_p": []}
    try:
        from verifier.stats.suppression import EpsilonPoint, fit_lambda
    except ImportError:
        notes.append("Λ: fit module not installed")
        return lam
    for p in sorted({r["p"] for r in rows}):
        pts = [EpsilonPoint(r["distance"], r["rounds"], r["shots"], r["errors"]) for r in rows if r["p"] == p]
        if len(pts) < 2:
            continue
        fit = fit_lambda(pts, bootstrap=LAMBDA_BOOTSTRAP)
        lam["lambda_by_p"].append({"p": p, "lambda": fit.lam, "lambda_ci": list(fit.lam_ci), "convention": fit.convention,
                                   "status": fit.status, "message": fit.message,
                                   "pairwise": list(fit.pairwise)})
    first = next((x for x in lam["lambda_by_p"] if x["lambda"] is not None), None)
    if first is not None:
        lam.update({"lambda": first["lambda"], "lambda_ci": first["lambda_ci"], "lambda_p": first["p"],
                    "lambda_convention": first["convention"]})
        if first["status"] != "ok":
            notes.append(f"Λ at p={first['p']:g}: {first['message']}")
    elif lam["lambda_by_p"]:
        notes.append(f"Λ: {lam['lambda_by_p'][0]['message']}")
    return lam


def _curves_cross(rows: list[dict], distances: list[int], ps: list[float]) -> bool:
    """Whether the LER curves of two successive distances change order inside the sweep."""
    ler = {(r["distance"], r["p"]): r["errors"] / r["shots"] for r in rows if r["shots"]}
    for da, db in zip(distances, distances[1:]):
        signs = {math.copysign(1.0, ler[(db, p)] - ler[(da, p)]) for p in ps
                 if (da, p) in ler and (db, p) in ler and ler[(db, p)] != ler[(da, p)]}
        if len(signs) > 1:
            return True
    return False
