"""The open baselines through sov against a hand-written loop of the same library, measured
side by side in one run.

    .venv/bin/python benchmarks/baselines.py [--quick] [--repeats 3] [--only tesseract,bposd] [--json out.json]
    .venv/bin/python benchmarks/baselines.py raw tesseract --code surface --distance 5 --p 0.003 --shots 4000

For each baseline: ``sov qec run --decoder NAME`` (default workers, a fresh store, every
block's predictions recorded) and the twenty-line script a user would write: one process,
stim sampling in blocks of 8192 shots, the library's own batch call. The script draws the
same shots as sov (stim seeded with sov's per-block seeds, ``verifier.qec.workload.block_seed``),
so both must count the same errors, which is checked. The order of the two commands
alternates from repeat to repeat; the ratio (raw wall time / sov wall time) is taken within
each repeat and its median printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (code, distance, p, shots, quick shots): sizes that take tens of seconds on 2 cores.
# At least two blocks of 8192 shots: a block is the unit one worker decodes, so fewer shots
# would leave sov's second worker idle and measure one worker against the raw loop
CASES = {
    "tesseract": ("surface", 5, 0.001, 16_384, 600),
    "bposd": ("surface", 5, 0.001, 16_384, 400),
    "chromobius": ("color", 5, 0.001, 1_000_000, 100_000),
    "pymatching-correlated": ("surface", 5, 0.003, 1_000_000, 100_000),
}


def _circuit(code: str, distance: int, p: float):
    import stim

    if code == "color":
        from verifier.qec.color_code import memory_circuit

        return memory_circuit(distance, distance, "z", p)
    task = "surface_code:rotated_memory_z" if code == "surface" else "repetition_code:memory"
    return stim.Circuit.generated(task, distance=distance, rounds=distance, after_clifford_depolarization=p,
                                  before_round_data_depolarization=p, before_measure_flip_probability=p,
                                  after_reset_flip_probability=p)


def _dem(c):
    try:
        return c.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    except ValueError:
        return c.detector_error_model(approximate_disjoint_errors=True)


def _raw_decoder(name: str, dem):
    """The library's batch call on unpacked (bool) shots, or packed for Chromobius and
    PyMatching (what a user of each would write)."""
    if name == "tesseract":
        from tesseract_decoder import tesseract, utils

        orders = utils.build_det_orders(dem, 16, utils.DetOrder.DetIndex, seed=2384753)
        dec = tesseract.TesseractConfig(dem=dem, det_beam=15, beam_climbing=True, pqlimit=200_000,
                                        det_orders=orders).compile_decoder()
        return False, dec.decode_batch
    if name == "bposd":
        from stimbposd import BPOSD

        return False, BPOSD(dem).decode_batch
    if name == "chromobius":
        import chromobius

        return True, chromobius.compile_decoder_for_dem(dem).predict_obs_flips_from_dets_bit_packed
    import pymatching

    m = pymatching.Matching.from_detector_error_model(dem, enable_correlations=True)
    return True, lambda d: m.decode_batch(d, bit_packed_shots=True, bit_packed_predictions=True,
                                          enable_correlations=True)


def raw(name: str, code: str, distance: int, p: float, shots: int, seed: int = 0) -> dict:
    import numpy as np

    from verifier.qec.workload import BLOCK_SHOTS, block_seed

    c = _circuit(code, distance, p)
    packed, decode = _raw_decoder(name, _dem(c))
    nd, no = c.num_detectors, c.num_observables
    errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        dpath, opath = f"{tmp}/d.b8", f"{tmp}/o.b8"
        for i, lo in enumerate(range(0, shots, BLOCK_SHOTS)):
            n = min(BLOCK_SHOTS, shots - lo)
            # stim's b8 writer: sov's sampler, so the shots of a seed are sov's
            c.compile_detector_sampler(seed=block_seed(seed, i)).sample_write(
                n, filepath=dpath, format="b8", obs_out_filepath=opath, obs_out_format="b8")
            dets = np.fromfile(dpath, dtype=np.uint8).reshape(n, (nd + 7) // 8)
            obs = np.fromfile(opath, dtype=np.uint8).reshape(n, (no + 7) // 8)
            if not packed:
                dets = np.unpackbits(dets, axis=1, count=nd, bitorder="little").astype(bool)
                obs = np.unpackbits(obs, axis=1, count=no, bitorder="little")
            pred = np.asarray(decode(dets)).reshape(n, -1)
            errors += int(np.any(pred != obs, axis=1).sum())
    return {"shots": shots, "errors": errors}


def bench(name: str, repeats: int, quick: bool, workers: int | None) -> dict:
    from benchmarks.run import RAW, measure, sov_run  # noqa: F401  (one way of timing a process)

    code, d, p, shots, quick_shots = CASES[name]
    shots = quick_shots if quick else shots
    me = [sys.executable, str(Path(__file__).resolve()), "raw", name, "--code", code, "--distance", str(d),
          "--p", str(p), "--shots", str(shots)]
    sov_args = ["--decoder", name, "--code", code, "-d", str(d), "--p", str(p), "--shots", str(shots),
                *(["--workers", str(workers)] if workers else [])]
    rows = []
    for i in range(repeats):
        order = ["raw", "sov"] if i % 2 == 0 else ["sov", "raw"]
        got = {}
        for which in order:
            if which == "raw":
                r = measure(me)
                r["result"] = json.loads(r.pop("stdout").strip().splitlines()[-1])
            else:
                r = sov_run(sov_args)
            got[which] = r
        if got["raw"]["result"]["errors"] != got["sov"]["result"]["errors"]:
            raise SystemExit(f"{name}: raw loop counted {got['raw']['result']['errors']} errors, sov "
                             f"{got['sov']['result']['errors']}, on the same shots")
        rows.append({"raw_s": got["raw"]["wall_s"], "sov_s": got["sov"]["wall_s"],
                     "ratio": got["raw"]["wall_s"] / got["sov"]["wall_s"],
                     "cpu_s": {k: got[k]["tree_cpu_s"] for k in got}, "errors": got["sov"]["result"]["errors"]})
        print(f"  {name} repeat {i + 1} ({', '.join(order)}): raw {rows[-1]['raw_s']:.2f} s, sov "
              f"{rows[-1]['sov_s']:.2f} s, ratio {rows[-1]['ratio']:.2f}x, errors {rows[-1]['errors']}; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    ratios = [r["ratio"] for r in rows]
    return {"name": name, "code": code, "distance": d, "p": p, "shots": shots, "repeats": rows,
            "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "raw":
        ap = argparse.ArgumentParser()
        ap.add_argument("raw")
        ap.add_argument("name", choices=list(CASES))
        ap.add_argument("--code", default="surface")
        ap.add_argument("--distance", type=int, default=5)
        ap.add_argument("--p", type=float, default=0.003)
        ap.add_argument("--shots", type=int, default=4000)
        a = ap.parse_args()
        print(json.dumps(raw(a.name, a.code, a.distance, a.p, a.shots)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="sov's workers (default: all cores)")
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--json", dest="json_out")
    a = ap.parse_args()
    out = {"cores": os.cpu_count(), "results": []}
    for name in a.only.split(","):
        res = bench(name.strip(), a.repeats, a.quick, a.workers)
        print(f"{name}: sov {res['median_ratio']:.2f}x the raw loop's throughput (median of {a.repeats}; "
              f"{res['min_ratio']:.2f} - {res['max_ratio']:.2f})", flush=True)
        out["results"].append(res)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
