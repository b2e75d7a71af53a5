"""Throughput of a qec.predecoder.grid model: inference alone, the whole pipeline, and
PyMatching alone, on the same shots in one process.

    python benchmarks/bench_grid.py                      # the shipped grid-cnn-uniform, d=5 and 7
    python benchmarks/bench_grid.py --model my.onnx --distances 5 --threads 1,2,4 --batch 4096
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from adapters.builtin import builtin_path
    from adapters.training.scorecard import DEFAULT_MODEL, throughput

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--distances", default="5,7")
    ap.add_argument("--p", type=float, default=0.003)
    ap.add_argument("--noise", default="uniform")
    ap.add_argument("--shots", type=int, default=16384)
    ap.add_argument("--threads", default="1,2", help="onnxruntime intra-op threads to try")
    ap.add_argument("--batch", type=int, default=8192, help="shots per inference call")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    model = str(builtin_path(args.model) or args.model)
    rows = []
    for d in (int(v) for v in args.distances.split(",")):
        rows += throughput(model, d, args.p, noise=args.noise, shots=args.shots,
                           threads=tuple(int(t) for t in args.threads.split(",")), batch_size=args.batch)
    print(f"{'d':>3} {'what':<55} {'threads':>7} {'batch':>6} {'shots/s':>12}")
    for r in rows:
        print(f"{r['distance']:>3} {r['what']:<55} {r['threads']:>7} {str(r.get('batch', '-')):>6} "
              f"{r['shots_per_s']:>12,.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
