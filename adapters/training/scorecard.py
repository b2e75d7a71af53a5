"""Scorecard of a ``qec.predecoder.grid`` model against PyMatching alone, measured by sov.

    python -m adapters.training.scorecard                      # the shipped model, writes docs/scorecard-grid.md
    python -m adapters.training.scorecard --model my.onnx --out my-scorecard.md

For each distance and physical error rate it replays the same shots (same workload,
same seed) through PyMatching and through the pre-decoder + PyMatching with
:func:`verifier.workflows.qec.run_task`, recording both in a DuckDB store (so a rerun reuses the
recorded blocks), and reports the logical error rates with 95 % Clopper-Pearson
intervals, the pairwise disagreements (shots only one of the two gets wrong), the
detection-event density before and after the pre-decoder, and the matching time on
the residual against matching the raw events. A throughput section times model
inference alone, the whole pipeline and PyMatching alone in this process. No torch needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "grid-cnn-uniform"


@dataclass
class Point:
    distance: int
    rounds: int
    p: float
    shots: int
    pm_errors: int
    cnn_errors: int
    pm_ci: tuple[float, float]
    cnn_ci: tuple[float, float]
    only_pm_wrong: int
    only_cnn_wrong: int
    raw_density: float
    residual_density: float
    corrections_per_shot: float
    match_raw_s: float
    match_residual_s: float
    sample_shots: int

    @property
    def ratio(self) -> float:
        return self.cnn_errors / self.pm_errors if self.pm_errors else float("nan")

    def to_json(self) -> dict:
        return self.__dict__ | {"ratio": self.ratio}



def _best(fn, reps: int = 3) -> float:
    """Fastest of ``reps`` wall-clock runs: the least disturbed by other work on the machine."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)

def _paired(store, fp_a: str, fp_b: str, stream_id: str) -> tuple[int, int]:
    a = store.block_failures(fp_a, stream_id)
    b = store.block_failures(fp_b, stream_id)
    only_a = only_b = 0
    for key in sorted(set(a) & set(b)):
        fa = np.unpackbits(np.frombuffer(a[key], np.uint8), bitorder="little")[:key[1]].astype(bool)
        fb = np.unpackbits(np.frombuffer(b[key], np.uint8), bitorder="little")[:key[1]].astype(bool)
        only_a += int((fa & ~fb).sum())
        only_b += int((fb & ~fa).sum())
    return only_a, only_b


def measure_point(model_path: str, distance: int, p: float, *, noise: str, basis: str, shots: int,
                  seed: int, store, run, workers: int, threads: int) -> Point:
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.runtime import RuntimeOptions
    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.qec.decoder import unpack_bits
    from verifier.workflows.qec import run_task
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(distance, distance, basis, noise, p, shots, seed)
    pm = PyMatchingDecoder()
    cnn = OnnxDecoder.from_file(model_path, options=RuntimeOptions(threads=threads))
    r_pm = run_task(pm, w, run=run, workers=workers)
    r_cnn = run_task(cnn, w, run=run, workers=workers)
    only_pm, only_cnn = _paired(store, r_pm.fingerprint, r_cnn.fingerprint, w.stream_id)
    # residual density and matching time on the first block, in this process
    block = w.blocks()[0]
    dets, _ = w.sample_block(block)
    ev = unpack_bits(dets, w.num_detectors)
    grid = cnn.compile_for(w)
    matching = pm.compile_for(w)
    _, residual, corr = grid.residual(ev)
    residual = np.ascontiguousarray(residual)

    t_raw = _best(lambda: matching.decode_bits(ev))
    t_res = _best(lambda: matching.decode_bits(residual))
    return Point(distance, distance, p, r_pm.stats.shots, r_pm.stats.errors, r_cnn.stats.errors,
                 r_pm.ler_ci, r_cnn.ler_ci, only_pm, only_cnn, float(ev.mean()), float(residual.mean()),
                 float(corr.sum() / block.shots), t_raw, t_res, block.shots)


def throughput(model_path: str, distance: int, p: float, *, noise: str = "uniform", basis: str = "z",
               shots: int = 16384, threads: tuple[int, ...] = (1, 2), batch_size: int = 8192,
               seed: int = 7) -> list[dict]:
    """Shots/s of model inference alone, of the whole pipeline, and of PyMatching alone,
    on the same shots in this process (best of 3)."""
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.runtime import RuntimeOptions
    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(distance, distance, basis, noise, p, shots, seed)
    blocks = [w.sample_block(b)[0] for b in w.blocks()]
    n = sum(b.shape[0] for b in blocks)
    pm = PyMatchingDecoder().compile_for(w)

    rows = [{"what": "PyMatching alone", "distance": distance, "p": p, "threads": 1, "shots": n,
             "shots_per_s": n / _best(lambda: [pm.decode_packed(b) for b in blocks])}]
    from verifier.qec.decoder import unpack_bits

    for th in threads:
        dec = OnnxDecoder.from_file(model_path, options=RuntimeOptions(threads=th, batch_size=batch_size))
        dec.check(w)
        grid = dec.compile_for(w)
        xs = [grid.geometry.tensorize(unpack_bits(b, w.num_detectors)) for b in blocks]
        t_inf = _best(lambda: [grid.runner.run(x) for x in xs])
        t_all = _best(lambda: [grid.decode_packed(b) for b in blocks])
        rows.append({"what": "model inference (onnxruntime)", "distance": distance, "p": p, "threads": th,
                     "shots": n, "shots_per_s": n / t_inf, "batch": grid.runner.batch})
        rows.append({"what": "pipeline: tensorize + model + residual + PyMatching", "distance": distance,
                     "p": p, "threads": th, "shots": n, "shots_per_s": n / t_all, "batch": grid.runner.batch})
    return rows


def _fmt_ci(errors: int, shots: int, ci: tuple[float, float]) -> str:
    return f"{errors / shots:.2e} [{ci[0]:.2e}, {ci[1]:.2e}]"


def markdown(model_path: str, info_md: dict, points: list[Point], tp: list[dict], args) -> str:
    lines = [f"# Scorecard: `{Path(model_path).name}` (qec.predecoder.grid) vs PyMatching", "",
             "Measured by sov itself; regenerate with", "",
             "```", " ".join(["python -m adapters.training.scorecard"] + list(args.argv)), "```", "",
             f"Workloads: rotated surface-code memory, basis {args.basis.upper()}, rounds = d, "
             f"`{args.noise}` noise, seed {args.seed}; both decoders see the same shots. "
             "LER is per shot with a 95 % Clopper-Pearson interval. *only PM wrong / only CNN wrong*: "
             "shots that exactly one of the two decodes wrongly (paired comparison). Density: detection "
             "events per detector before and after the pre-decoder (first 8192-shot block). Matching "
             "time: PyMatching on the residual vs on the raw events, same block.", "",
             "| d | p | shots | PyMatching LER | CNN+PyMatching LER | ratio | only PM wrong | only CNN wrong | "
             "event density raw -> residual | corrections/shot | matching time saved |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for pt in points:
        saved = 1 - pt.match_residual_s / pt.match_raw_s if pt.match_raw_s else float("nan")
        lines.append(
            f"| {pt.distance} | {pt.p:g} | {pt.shots:,} | {_fmt_ci(pt.pm_errors, pt.shots, pt.pm_ci)} | "
            f"{_fmt_ci(pt.cnn_errors, pt.shots, pt.cnn_ci)} | {pt.ratio:.2f} | {pt.only_pm_wrong} | "
            f"{pt.only_cnn_wrong} | {pt.raw_density:.4f} -> {pt.residual_density:.4f} | "
            f"{pt.corrections_per_shot:.2f} | {saved:+.0%} |")
    lines += ["", "## Verdict", ""]
    verdicts: list[str] = []
    target = [pt for pt in points if pt.distance == 5 and abs(pt.p - 0.003) < 1e-12]
    if target:
        pt = target[0]
        met = "met" if pt.ratio <= 1.5 else "NOT met"
        lines.append(f"- Target of issue 4 (d=5, p=0.003, {args.noise}: CNN+PyMatching LER at most 1.5x "
                     f"PyMatching's): **{met}**, measured ratio {pt.ratio:.2f} "
                     f"({pt.cnn_errors} vs {pt.pm_errors} errors in {pt.shots:,} shots).")
    for pt in points:
        from scipy.stats import binomtest

        n_disc = pt.only_cnn_wrong + pt.only_pm_wrong
        pval = binomtest(pt.only_cnn_wrong, n_disc, 0.5).pvalue if n_disc else 1.0
        if pval >= 0.05:
            word = f"no significant difference from PyMatching alone (paired sign test p = {pval:.2f})"
        elif pt.only_cnn_wrong > pt.only_pm_wrong:
            word = f"**worse** than PyMatching alone (paired sign test p = {pval:.1e})"
        else:
            word = f"**better** than PyMatching alone (paired sign test p = {pval:.1e})"
        verdicts.append(word.split(" ")[0].strip("*"))
        lines.append(f"- d={pt.distance}, p={pt.p:g}: {word}; {pt.cnn_errors} vs {pt.pm_errors} errors, "
                     f"ratio {pt.ratio:.2f}; {pt.only_cnn_wrong} shots only the CNN gets wrong, "
                     f"{pt.only_pm_wrong} only PyMatching.")
    n_worse, n_better = verdicts.count("worse"), verdicts.count("better")
    lines += ["", f"In short: significantly worse than PyMatching alone at {n_worse} of {len(points)} points, "
              f"significantly better at {n_better}, indistinguishable at {len(points) - n_worse - n_better}."]
    if tp:
        lines += ["", "## Throughput", "",
                  "Same process, same shots, best of 3; onnxruntime CPU execution provider; PyMatching "
                  "single-threaded. The pipeline includes tensorization, inference, the sparse GF(2) "
                  "residual and PyMatching on the residual.", "",
                  "| d | p | what | ORT threads | batch | shots/s |", "|---|---|---|---|---|---|"]
        for r in tp:
            lines.append(f"| {r['distance']} | {r['p']:g} | {r['what']} | {r['threads']} | "
                         f"{r.get('batch', '-')} | {r['shots_per_s']:,.0f} |")
    lines += ["", "## Notes", "",
              "- Paired comparison: both decoders decode the same shots, so the *only PM wrong* / "
              "*only CNN wrong* counts decide which is better even where the intervals overlap.",
              "- *Matching time saved* is PyMatching's time on the residual vs on the raw events; it "
              "does not include the model's own inference time (see Throughput)."]
    for d in sorted({r["distance"] for r in tp}):
        pm_rate = [r["shots_per_s"] for r in tp if r["distance"] == d and r["what"] == "PyMatching alone"]
        pipe = [r["shots_per_s"] for r in tp if r["distance"] == d and r["what"].startswith("pipeline")]
        if pm_rate and pipe:
            lines.append(f"- d={d}: the best pipeline runs at {max(pipe):,.0f} shots/s against "
                         f"{pm_rate[0]:,.0f} for PyMatching alone, "
                         + (f"{pm_rate[0] / max(pipe):.0f}x slower" if pm_rate[0] > max(pipe) else
                            f"{max(pipe) / pm_rate[0]:.1f}x faster")
                         + " on this CPU. Vendor speed claims for pre-decoders concern GPU inference, "
                         "which this table does not measure.")
    lines += ["", "## Model provenance (ONNX metadata)", ""]
    for k, v in info_md.items():
        if k.startswith("sov.") and k != "sov.detector_map":
            if k == "sov.training.calibration":
                v = v[:300] + ("..." if len(v) > 300 else "")
            lines.append(f"- `{k}`: {v}")
    import platform

    lines += ["", f"Machine: {platform.machine()}, {platform.python_version()}, "
              f"{len(__import__('os').sched_getaffinity(0))} CPU cores available to this process "
              "(shared with other jobs while measured: treat timings as indicative)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="a built-in model name or an .onnx path")
    ap.add_argument("--noise", default="uniform")
    ap.add_argument("--basis", default="z")
    ap.add_argument("--distances", default="3,5,7")
    ap.add_argument("--p", default="0.002,0.003,0.005")
    ap.add_argument("--shots", default="3=100000,5=100000,7=40000",
                    help="shots per point, or d=shots pairs: 3=100000,5=200000")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--throughput", default="5,7", help="distances for the throughput table ('' = none)")
    ap.add_argument("--db", default="scorecard-grid.duckdb")
    ap.add_argument("--out", default="docs/scorecard-grid.md")
    ap.add_argument("--json", default=None)
    ap.add_argument("--from-json", default=None,
                    help="re-render the markdown from a --json file of an earlier run (no measuring)")
    args = ap.parse_args(argv)
    args.argv = argv if argv is not None else sys.argv[1:]

    from adapters.builtin import builtin_path
    from adapters.onnx_model import inspect_model
    from verifier.store.runs import recorded_run
    from verifier.store.db import Store

    model = str(builtin_path(args.model) or args.model)
    info = inspect_model(model)
    if "=" in args.shots:
        per_d = {int(k): int(v) for k, v in (kv.split("=") for kv in args.shots.split(","))}
    else:
        per_d = {}
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        args.argv = saved.get("argv", args.argv)
        points = [Point(**{k: (tuple(v) if k.endswith("_ci") else v) for k, v in p.items() if k != "ratio"})
                  for p in saved["points"]]
        Path(args.out).write_text(markdown(model, info.metadata, points, saved["throughput"], args))
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    store = Store(args.db)
    points = []
    with recorded_run(store, "grid scorecard", args.argv) as rec:
        for d in [int(v) for v in args.distances.split(",")]:
            for p in [float(v) for v in args.p.split(",")]:
                shots = per_d.get(d, int(args.shots) if "=" not in args.shots else 100_000)
                pt = measure_point(model, d, p, noise=args.noise, basis=args.basis, shots=shots,
                                   seed=args.seed, store=store, run=rec, workers=args.workers,
                                   threads=args.threads)
                print(f"d={d} p={p:g}: PyMatching {pt.pm_errors}/{pt.shots}, CNN+PyMatching "
                      f"{pt.cnn_errors}/{pt.shots} (ratio {pt.ratio:.2f}); density {pt.raw_density:.4f}"
                      f" -> {pt.residual_density:.4f}", file=sys.stderr, flush=True)
                points.append(pt)
        rec.summary = {"points": len(points)}
    tp = []
    for d in [int(v) for v in args.throughput.split(",") if v]:
        tp += throughput(model, d, 0.003, noise=args.noise, basis=args.basis)
    text = markdown(model, info.metadata, points, tp, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"points": [p.to_json() for p in points],
                                               "throughput": tp, "argv": args.argv}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
