"""An independent reference for the color-code threshold with Chromobius, and a paired
comparison of Chromobius, Tesseract and BP+OSD on one set of color-code shots.

Nothing of sov runs here except the circuit generator (``verifier.qec.color_code``): shots
come from stim's detector sampler, decoding from the chromobius / tesseract_decoder /
stimbposd packages called directly.

``threshold`` (the reference): for d = 3, 5, 7 (rounds = d, Z basis, ``uniform`` noise) and
each p of the grid, the logical error rate per shot. For each pair of neighbouring distances
the two curves are fitted as straight lines in (log p, log LER) by weighted least squares
(weights n q / (1 - q), the inverse binomial variance of log q), and the pair's crossing is
where the lines meet. The interval is a parametric bootstrap: every point's failures are
redrawn from Binomial(n, k / n) (k = 0.5 where none failed), the lines refitted and the
crossing recomputed; 2.5 and 97.5 percentiles. The reference interval is the hull of the
d = 3/5 and d = 5/7 crossings' intervals, because finite-size drift moves the crossing with
the distances and either pair alone would claim more than it knows.

``compare``: d = 5, p = 0.001 (rounds = 5, Z basis, uniform), one set of shots decoded by all
three with sov's default options; failures, and for every pair the shots only one of them gets
wrong with an exact two-sided sign test (McNemar) on them.

    python benchmarks/reference_color_threshold.py threshold --shots 100000 \
        --out tests/data/reference_thresholds/color_chromobius.json
    python benchmarks/reference_color_threshold.py compare --shots 20000
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifier.qec.color_code import memory_circuit  # noqa: E402  (the circuit generator only)

DISTANCES = (3, 5, 7)
GRID = (0.0025, 0.003, 0.0035, 0.004, 0.0045, 0.005)


def chromobius_failures(d: int, p: float, shots: int, seed: int) -> int:
    import chromobius

    circuit = memory_circuit(d, d, "z", p)
    dec = chromobius.compile_decoder_for_dem(circuit.detector_error_model())
    dets, obs = circuit.compile_detector_sampler(seed=seed).sample(shots, separate_observables=True,
                                                                   bit_packed=True)
    pred = dec.predict_obs_flips_from_dets_bit_packed(dets)
    return int(np.count_nonzero(np.any(pred != obs, axis=1)))


def _line(ps, ks, ns):
    """Weighted least-squares line log q = a + b log p."""
    q = np.maximum(ks, 0.5) / ns
    w = ns * q / (1 - q)
    x, y = np.log(ps), np.log(q)
    W = w.sum()
    xm, ym = (w * x).sum() / W, (w * y).sum() / W
    b = (w * (x - xm) * (y - ym)).sum() / (w * (x - xm) ** 2).sum()
    return ym - b * xm, b


def crossing(ps, k_small, k_large, shots) -> float | None:
    """Where the fitted lines of two distances meet (None: parallel or crossing backwards)."""
    ps, ns = np.asarray(ps, float), np.full(len(ps), float(shots))
    a1, b1 = _line(ps, np.asarray(k_small, float), ns)
    a2, b2 = _line(ps, np.asarray(k_large, float), ns)
    if b2 <= b1:  # the larger code must get worse faster with p, or there is no threshold
        return None
    return float(math.exp((a1 - a2) / (b2 - b1)))


def bootstrap_crossing(ps, k_small, k_large, shots, reps: int, seed: int):
    rng = np.random.default_rng(seed)
    q1 = np.maximum(k_small, 0.5) / shots
    q2 = np.maximum(k_large, 0.5) / shots
    got = []
    for _ in range(reps):
        c = crossing(ps, rng.binomial(shots, q1), rng.binomial(shots, q2), shots)
        if c is not None:
            got.append(c)
    lo, hi = np.percentile(got, [2.5, 97.5])
    return float(lo), float(hi), len(got)


def run_threshold(shots: int, seed: int, reps: int, grid=GRID) -> dict:
    t0 = time.time()
    counts = {d: [chromobius_failures(d, p, shots, seed + 1000 * d + i) for i, p in enumerate(grid)]
              for d in DISTANCES}
    pairs = []
    for d1, d2 in zip(DISTANCES, DISTANCES[1:]):
        c = crossing(grid, counts[d1], counts[d2], shots)
        lo, hi, ok = bootstrap_crossing(grid, counts[d1], counts[d2], shots, reps, seed)
        pairs.append({"distances": [d1, d2], "crossing": c, "ci95": [lo, hi], "bootstrap_ok": ok})
    lo = min(pr["ci95"][0] for pr in pairs)
    hi = max(pr["ci95"][1] for pr in pairs)
    return {
        "what": "color-code threshold, Chromobius, sov's Bell-pair color-code memory (verifier.qec.color_code)",
        "circuit": "memory_circuit(d, rounds=d, basis='z', p): uniform noise as stim's generated circuits",
        "decoder": "chromobius.compile_decoder_for_dem(circuit.detector_error_model()), default options",
        "quantity": "logical error rate per shot (rounds = d)",
        "distances": list(DISTANCES), "p": list(grid), "shots_per_point": shots, "seed": seed,
        "seeds": "sampler seed = seed + 1000 d + index of p in the grid",
        "failures": {str(d): counts[d] for d in DISTANCES},
        "method": ("per pair of neighbouring distances: weighted least-squares lines in (log p, log LER), "
                   "weights n q/(1-q); crossing where they meet; 95 % interval = 2.5/97.5 percentiles "
                   f"of {reps} parametric-bootstrap refits (failures redrawn Binomial(n, k/n)); "
                   "reference interval = hull of the pairs' intervals"),
        "pairs": pairs,
        "threshold": float(np.mean([pr["crossing"] for pr in pairs])),
        "threshold_ci95": [lo, hi],
        "versions": {pkg: version(pkg) for pkg in ("stim", "chromobius", "numpy")},
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "wall_s": round(time.time() - t0, 1),
    }


def _sign_test(only_a: int, only_b: int) -> float:
    """Exact two-sided binomial test of only_a vs only_b at 1/2 (McNemar's exact test)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def run_compare(shots: int, seed: int, d: int = 5, p: float = 0.001) -> dict:
    import chromobius
    from stimbposd import BPOSD
    from tesseract_decoder import tesseract, utils

    circuit = memory_circuit(d, d, "z", p)
    dem = circuit.detector_error_model()
    dets, obs = circuit.compile_detector_sampler(seed=seed).sample(shots, separate_observables=True)
    packed = np.packbits(dets, axis=1, bitorder="little")
    wrong, secs = {}, {}
    t = time.time()
    pred = chromobius.compile_decoder_for_dem(dem).predict_obs_flips_from_dets_bit_packed(packed)
    wrong["chromobius"] = np.unpackbits(pred, axis=1, count=1, bitorder="little")[:, 0] != obs[:, 0]
    secs["chromobius"] = time.time() - t
    t = time.time()
    orders = utils.build_det_orders(dem, 16, utils.DetOrder.DetIndex, seed=2384753)
    tess = tesseract.TesseractConfig(dem=dem, det_beam=15, beam_climbing=True, no_revisit_dets=True,
                                     pqlimit=200_000, det_orders=orders).compile_decoder()
    wrong["tesseract"] = np.asarray(tess.decode_batch(dets))[:, 0].astype(bool) != obs[:, 0]
    secs["tesseract"] = time.time() - t
    t = time.time()
    bposd = BPOSD(dem, max_bp_iters=30, bp_method="product_sum", osd_order=60, osd_method="osd_cs")
    wrong["bposd"] = np.asarray(bposd.decode_batch(dets))[:, 0].astype(bool) != obs[:, 0]
    secs["bposd"] = time.time() - t
    names = list(wrong)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            oa, ob = int((wrong[a] & ~wrong[b]).sum()), int((wrong[b] & ~wrong[a]).sum())
            pairs.append({"a": a, "b": b, "only_a": oa, "only_b": ob, "sign_test_p": _sign_test(oa, ob)})
    return {"d": d, "rounds": d, "p": p, "basis": "z", "noise": "uniform", "shots": shots, "seed": seed,
            "failures": {k: int(v.sum()) for k, v in wrong.items()},
            "decode_s": {k: round(v, 1) for k, v in secs.items()}, "pairs": pairs,
            "options": {"tesseract": "det_beam=15, beam_climbing, 16 det orders (seed 2384753), pqlimit 200000, "
                                     "no_revisit_dets (sov's defaults)",
                        "bposd": "max_bp_iters=30, product_sum, osd_cs order 60 (sov's defaults)",
                        "chromobius": "defaults"},
            "versions": {pkg: version(pkg) for pkg in ("stim", "chromobius", "tesseract-decoder", "stimbposd",
                                                      "ldpc")}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("threshold", "compare"))
    ap.add_argument("--shots", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--out", default="-")
    args = ap.parse_args(argv)
    if args.what == "threshold":
        res = run_threshold(args.shots, args.seed, args.bootstrap)
    else:
        res = run_compare(args.shots, args.seed)
    text = json.dumps(res, indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(json.dumps({k: res[k] for k in res if k in ("pairs", "threshold", "threshold_ci95", "failures")}))


if __name__ == "__main__":
    main()
