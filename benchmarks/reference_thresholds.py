"""Reference surface-code thresholds of the open baselines, measured with the raw libraries.

    python benchmarks/reference_thresholds.py                      # every decoder: ~1,450 CPU s, ~12 min on 2 free cores
    python benchmarks/reference_thresholds.py --only tesseract --workers 2 --out DIR

Nothing of sov is imported: stim generates the rotated surface-code Z memory
(``surface_code:rotated_memory_z``, rounds = d) with uniform depolarizing noise
(``after_clifford_depolarization``, ``before_round_data_depolarization``,
``before_measure_flip_probability`` and ``after_reset_flip_probability`` all = p), each
library decodes it in a plain loop, and the logical error rate per shot (any observable
wrong) is counted at every (d, p) of a grid. Each decoder's file
``tests/data/reference_thresholds/surface_<decoder>.json`` holds the counts, the seeds and
the crossings below; ``tests/test_reference_thresholds.py`` checks sov's own threshold
against them.

**Crossing method** (deliberately not sov's finite-size-scaling fit): each distance's
curve is fitted on its own by weighted least squares, ``ln P_L = a + b u + c u^2`` with
``u = ln p`` (variance of ``ln P_L`` from the binomial, ``(1 - P_L) / (n P_L)``); the
crossing of two distances is where their fitted curves meet inside the grid (the larger
distance rising through the smaller). The interval is a parametric bootstrap: every
point's count redrawn from Binomial(n, k / n), both curves refitted, the crossing found
again; the 2.5 / 97.5 percentiles of the resamples (a resample whose curves do not cross
inside the grid counts at the nearer grid end, so it widens the interval instead of
vanishing). A second estimate, straight lines in log-log through the rates within ±20 %
of the first, is reported beside it (``local_linear``) as a check on the curve model.
The threshold of a decoder is the crossing of its two largest distances.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_scripts import circuit  # noqa: E402  (stim's generated memory, rounds = d, uniform p: no sov)

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "reference_thresholds"
BOOTSTRAP = 2000
CONFIDENCE = 0.95


def _grid(lo: float, hi: float, step: float) -> list[float]:
    return [round(x, 6) for x in np.arange(lo, hi + step / 2, step)]


# What each reference measures. ``sov_spec`` is the ``--decoder`` spelling of the same
# decoder with the same settings, for the test that compares sov with it. Tesseract and
# BP+OSD are 100-1000x slower than matching near threshold: they run fewer shots, BP+OSD
# only d = 3, 5, and both in cheaper settings than sov's defaults (stated in ``settings``).
CONFIGS = {
    "pymatching": dict(sov_spec="pymatching", distances=(3, 5, 7), ps=_grid(0.005, 0.010, 0.0005),
                       shots={3: 400_000, 5: 400_000, 7: 400_000}, settings={}),
    "pymatching-correlated": dict(sov_spec="pymatching-correlated", distances=(3, 5, 7),
                                  ps=_grid(0.005, 0.010, 0.0005),
                                  shots={3: 300_000, 5: 300_000, 7: 300_000},
                                  settings={"enable_correlations": True}),
    "tesseract": dict(sov_spec="tesseract:det-beam=5,det-orders=4", distances=(3, 5, 7),
                      ps=_grid(0.005, 0.012, 0.0005), shots={3: 20_000, 5: 8_000, 7: 1_500},
                      budget="Tesseract is slow near threshold: fewer shots at larger d (d7: 1,500) and "
                             "cheaper settings than sov's default tesseract (det-beam 15, 16 orders)",
                      settings={"det_beam": 5, "beam_climbing": True, "det_orders": 4,
                                "det_order": "DetIndex", "det_order_seed": 2384753,
                                "pqlimit": 200_000, "no_revisit_dets": True}),
    "bposd": dict(sov_spec="bposd:osd-order=10", distances=(3, 5), ps=_grid(0.004, 0.010, 0.0005),
                  shots={3: 20_000, 5: 5_000},
                  budget="BP+OSD is slow near threshold: d = 3, 5 only, 5,000 shots at d5, and OSD "
                         "order 10 instead of sov's default 60",
                  settings={"max_bp_iters": 30, "bp_method": "product_sum", "osd_order": 10,
                            "osd_method": "osd_cs"}),
}
LIBRARY = {"pymatching": "pymatching", "pymatching-correlated": "pymatching",
           "tesseract": "tesseract-decoder", "bposd": "stimbposd"}


def decoder_for(name: str, c, settings: dict):
    """A function from unpacked detection events to predicted observables."""
    if name.startswith("pymatching"):
        import pymatching

        corr = bool(settings.get("enable_correlations"))
        m = pymatching.Matching.from_detector_error_model(c.detector_error_model(decompose_errors=True),
                                                          enable_correlations=corr)
        return lambda dets: m.decode_batch(dets, enable_correlations=corr)
    dem = c.detector_error_model(decompose_errors=False)  # neither needs graphlike pieces
    if name == "tesseract":
        from tesseract_decoder import tesseract, utils

        orders = utils.build_det_orders(dem, settings["det_orders"], utils.DetOrder.DetIndex,
                                        seed=settings["det_order_seed"])
        cfg = tesseract.TesseractConfig(dem=dem, det_beam=settings["det_beam"],
                                        beam_climbing=settings["beam_climbing"],
                                        no_revisit_dets=settings["no_revisit_dets"],
                                        pqlimit=settings["pqlimit"], det_orders=orders)
        return cfg.compile_decoder().decode_batch
    if name == "bposd":
        from stimbposd import BPOSD

        return BPOSD(dem, **settings).decode_batch
    raise ValueError(name)


def point_seed(name: str, d: int, p: float) -> int:
    # independent shots per point and per decoder; the same on every run
    return int(np.random.SeedSequence([sum(map(ord, name)), d, int(round(p * 1e6))]).generate_state(1)[0])


def run_point(task: tuple) -> dict:
    name, d, p, shots, settings = task
    t0 = time.process_time()
    c = circuit(d, p)
    decode = decoder_for(name, c, settings)
    seed = point_seed(name, d, p)
    sampler = c.compile_detector_sampler(seed=seed)
    errors, done, chunk = 0, 0, 8192
    while done < shots:
        n = min(chunk, shots - done)
        dets, obs = sampler.sample(n, separate_observables=True)
        pred = np.asarray(decode(dets), dtype=bool).reshape(obs.shape)
        errors += int(np.any(pred != obs, axis=1).sum())
        done += n
    return dict(distance=d, p=p, shots=shots, errors=errors, seed=seed,
                cpu_s=round(time.process_time() - t0, 2))


# -- the crossing analysis -------------------------------------------------------------------

def _fit_curve(u: np.ndarray, k: np.ndarray, n: np.ndarray, w: np.ndarray, degree: int) -> np.ndarray:
    y = np.log(np.maximum(k, 0.5) / n)  # a zero count (resample) sits at half an error
    X = np.vander(u, degree + 1)
    sw = np.sqrt(w)
    return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]


def _weights(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    y = np.maximum(k, 0.5) / n
    return n * y / np.maximum(1 - y, 1e-9)


def _meet(c_small: np.ndarray, c_large: np.ndarray, lo: float, hi: float) -> float | None:
    """Where the larger distance's curve rises through the smaller's, in ln p within [lo, hi]."""
    diff = np.polysub(c_large, c_small)
    roots = [r.real for r in np.atleast_1d(np.roots(diff)) if abs(r.imag) < 1e-12 and lo <= r.real <= hi]
    rising = [r for r in roots if np.polyval(np.polyder(diff), r) > 0]
    return float(np.exp(min(rising, key=lambda r: abs(r - (lo + hi) / 2)))) if rising else None


def crossing(pts: list[dict], d1: int, d2: int, *, degree: int = 2, rates: tuple | None = None,
             rng: np.random.Generator | None = None) -> dict:
    """The crossing of the curves of ``d1 < d2`` and its bootstrap interval (see the module)."""
    def arrays(d):
        q = sorted((x for x in pts if x["distance"] == d and (rates is None or rates[0] <= x["p"] <= rates[1])),
                   key=lambda x: x["p"])
        return (np.log([x["p"] for x in q]), np.array([x["errors"] for x in q], float),
                np.array([x["shots"] for x in q], float))

    (u1, k1, n1), (u2, k2, n2) = arrays(d1), arrays(d2)
    if min(len(u1), len(u2)) < degree + 2:
        return {"distances": [d1, d2], "crossing": None, "ci": [None, None], "note": "too few rates"}
    lo, hi = max(u1.min(), u2.min()), min(u1.max(), u2.max())
    w1, w2 = _weights(k1, n1), _weights(k2, n2)
    c1, c2 = _fit_curve(u1, k1, n1, w1, degree), _fit_curve(u2, k2, n2, w2, degree)
    est = _meet(c1, c2, lo, hi)
    chi2 = [float(np.sum(w * (np.log(np.maximum(k, 0.5) / n) - np.polyval(c, u)) ** 2))
            for u, k, n, w, c in ((u1, k1, n1, w1, c1), (u2, k2, n2, w2, c2))]
    rng = rng or np.random.default_rng(0)
    boot, missing = [], 0
    for _ in range(BOOTSTRAP):
        b1, b2 = rng.binomial(n1.astype(int), k1 / n1), rng.binomial(n2.astype(int), k2 / n2)
        got = _meet(_fit_curve(u1, b1, n1, w1, degree), _fit_curve(u2, b2, n2, w2, degree), lo, hi)
        if got is None:
            missing += 1
            # no crossing inside: d2 better everywhere -> above the grid, worse -> below it
            better = np.sum(b2 / n2) < np.sum(b1 / n1)
            got = float(np.exp(hi if better else lo))
        boot.append(got)
    a = (1 - CONFIDENCE) / 2
    ci = [float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))]
    return {"distances": [d1, d2], "crossing": est, "ci": ci, "bootstrap": BOOTSTRAP,
            "resamples_without_crossing": missing, "rates": [float(np.exp(lo)), float(np.exp(hi))],
            "chi2_dof": [round(x / max(len(u) - degree - 1, 1), 3) for x, u in zip(chi2, (u1, u2))]}


def analyse(pts: list[dict], distances: tuple[int, ...]) -> dict:
    rng = np.random.default_rng(12345)
    pairs = [(a, b) for i, a in enumerate(distances) for b in distances[i + 1:]]
    out = []
    for d1, d2 in pairs:
        row = crossing(pts, d1, d2, rng=rng)
        if row["crossing"] is not None:
            x = row["crossing"]
            row["local_linear"] = crossing(pts, d1, d2, degree=1, rates=(0.8 * x - 1e-12, 1.2 * x + 1e-12),
                                           rng=rng)
        out.append(row)
    top = next(r for r in out if r["distances"] == list(distances[-2:]))
    return {"threshold": top["crossing"], "threshold_ci": top["ci"], "threshold_distances": top["distances"],
            "crossings": out}


# -- the run ---------------------------------------------------------------------------------

def measure(name: str, workers: int, scale: float = 1.0, reuse: dict | None = None) -> dict:
    """Every point of ``name``'s grid; ``reuse``: points of an earlier file, kept where
    distance, rate, shots and seed match (the seeds are fixed, so they are the same counts)."""
    cfg = CONFIGS[name]
    cfg = {**cfg, "shots": {d: max(100, int(s * scale)) for d, s in cfg["shots"].items()}}
    old = {(x["distance"], x["p"], x["shots"], x["seed"]): x for x in (reuse or {}).get("points", [])}
    kept = [old[(d, p, cfg["shots"][d], point_seed(name, d, p))] for d in cfg["distances"] for p in cfg["ps"]
            if (d, p, cfg["shots"][d], point_seed(name, d, p)) in old]
    tasks = [(name, d, p, cfg["shots"][d], cfg["settings"]) for d in cfg["distances"] for p in cfg["ps"]
             if (d, p, cfg["shots"][d], point_seed(name, d, p)) not in old]
    tasks.sort(key=lambda t: -t[1] * t[3] * t[2])  # the costliest first
    t0 = time.time()
    with get_context("fork").Pool(workers) as pool:
        pts = sorted([*kept, *pool.imap_unordered(run_point, tasks)], key=lambda x: (x["distance"], x["p"]))
    # the wall seconds of every run that measured these points (a --reuse run adds its own)
    wall = time.time() - t0 + (float((reuse or {}).get("wall_s", 0.0)) if kept else 0.0)
    for x in pts:
        x["ler"] = x["errors"] / x["shots"]
    return {
        "decoder": name, "sov_spec": cfg["sov_spec"], "library": LIBRARY[name],
        "library_version": version(LIBRARY[name]), "stim_version": version("stim"),
        **({"ldpc_version": version("ldpc")} if name == "bposd" else {}),
        "settings": cfg["settings"], "budget": cfg.get("budget", "full grid at every distance"),
        "family": "stim surface_code:rotated_memory_z, rounds = d, basis Z",
        "noise": "uniform: after_clifford_depolarization = before_round_data_depolarization = "
                 "before_measure_flip_probability = after_reset_flip_probability = p",
        "ler": "per shot (any observable wrong)", "distances": list(cfg["distances"]), "ps": cfg["ps"],
        "shots_per_point": {str(d): s for d, s in cfg["shots"].items()},
        "points": pts, **analyse(pts, cfg["distances"]),
        "method": METHOD, "confidence": CONFIDENCE,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_s": round(sum(x["cpu_s"] for x in pts), 1), "wall_s": round(wall, 1), "workers": workers,
        "reused_points": len(kept),
        "script": "benchmarks/reference_thresholds.py (raw libraries only, no sov imports)",
    }


METHOD = ("each distance's curve fitted alone, ln P_L = a + b ln p + c (ln p)^2, by weighted least squares "
          "(binomial variance of ln P_L); crossing = where the larger distance's fitted curve rises through "
          "the smaller's inside the grid; interval = 2.5/97.5 percentiles of a parametric bootstrap "
          "(every count redrawn from Binomial(n, k/n), both curves refitted; a resample without a crossing "
          "inside the grid counts at the nearer end); local_linear = straight lines in log-log through the "
          "rates within +-20 % of the crossing, the same bootstrap; threshold = crossing of the two largest "
          "distances")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CONFIGS), help="comma list of " + ", ".join(CONFIGS))
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--reuse", action="store_true",
                    help="keep the points of the existing file that match (same shots and seed)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every point's shots (a smoke run: 0.01)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        path = args.out / f"surface_{name.strip()}.json"
        old = json.loads(path.read_text()) if args.reuse and path.exists() else None
        res = measure(name.strip(), args.workers, args.scale, old)
        path.write_text(json.dumps(res, indent=1) + "\n")
        for row in res["crossings"]:
            x, (lo, hi) = row["crossing"], row["ci"]
            print(f"{name} d{row['distances']}: " + (f"{x:.4%} [{lo:.4%}, {hi:.4%}]" if x else "no crossing"))
        print(f"{name}: cpu {res['cpu_s']} s, wall {res['wall_s']} s -> {path}", flush=True)


if __name__ == "__main__":
    main()
