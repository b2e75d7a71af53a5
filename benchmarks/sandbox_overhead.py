"""Overhead of the model sandbox: a d=5 replay through the identity pre-decoder, once with
the model in a sandboxed child process (the default) and once in-process (SOV_SANDBOX=0),
measured side by side in one process. Prints the ratio of decode times.

    .venv/bin/python benchmarks/sandbox_overhead.py [shots] [repeats]
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    shots = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    from adapters.builtin import builtin_path
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.runtime import RuntimeOptions
    from verifier.engine.blocks import COMPILED
    from verifier.engine.replay import replay
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(5, 5, "z", "uniform", 0.003, shots, 7)
    dec = OnnxDecoder.from_file(str(builtin_path("identity-predecoder")), options=RuntimeOptions(threads=1))
    times: dict[str, list[float]] = {"sandbox": [], "in-process": []}
    wall: dict[str, list[float]] = {"sandbox": [], "in-process": []}
    errors = {}
    for _ in range(repeats):
        for mode, env in (("sandbox", "1"), ("in-process", "0")):
            os.environ["SOV_SANDBOX"] = env
            COMPILED.clear()
            t0 = time.perf_counter()
            r = replay(dec, w, workers=1)
            wall[mode].append(time.perf_counter() - t0)
            times[mode].append(r.stats.seconds)
            errors[mode] = r.stats.errors
    assert errors["sandbox"] == errors["in-process"], errors
    best = {m: min(v) for m, v in times.items()}
    best_wall = {m: min(v) for m, v in wall.items()}
    print(f"d=5 rounds=5 p=0.003, {shots} shots, identity pre-decoder + PyMatching, 1 worker, "
          f"best of {repeats}")
    for m in times:
        print(f"  {m:11s} decode {best[m]:.3f} s ({shots / best[m]:,.0f} shots/s), wall incl. "
              f"sampling and session start {best_wall[m]:.3f} s")
    print(f"  ratio sandbox / in-process: decode {best['sandbox'] / best['in-process']:.3f}, "
          f"wall {best_wall['sandbox'] / best_wall['in-process']:.3f}")


if __name__ == "__main__":
    main()
