"""sov against the hand-written scripts, measured side by side in one run (``make bench``).

    .venv/bin/python benchmarks/run.py [--quick] [--repeats 3] [--json out.json]

1. PyMatching replay, whole process: ``sov qec run`` (default workers, fresh store) vs a
   raw stim + ``pymatching.decode_batch`` loop in one process vs ``sinter.collect`` with
   the same workers. Ratios are taken repeat by repeat (the commands run in turn: raw,
   sinter, sov, raw, ...) and the median is printed.
2. ONNX replay (the identity flat pre-decoder + PyMatching), whole process: ``sov qec run``
   vs raw onnxruntime + PyMatching in one process.
3. DuckDB: recording one million per-shot predictions the way replay does (blocks of
   8192 shots, one transaction per batch of blocks), and reading them back.
4. Peak memory against --shots: ``sov qec run`` at 200 k and 4 M shots. Measured two
   ways: the largest waited-for process (``os.wait4``'s ``ru_maxrss``, what
   ``/usr/bin/time -v`` prints) and the peak summed RSS of the whole process tree
   sampled from /proc every 50 ms (worker processes started by a forkserver are not
   waited for by sov, so only the tree sample sees them).
5. onnxruntime settings for the flat model's inference alone: batch size, intra-op
   threads, graph optimization, IOBinding.

Everything runs on this machine's cores; other load on the machine slows all commands,
so read the ratios (taken pair by pair), not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SOV = [PY, "-c", "from verifier.cli.launch import entry; entry()"]
RAW = [PY, str(ROOT / "benchmarks" / "raw_scripts.py")]
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- measuring one process (tree) ------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _tree_sample(root: int, cpu: dict[int, float]) -> tuple[int, int]:
    """(sum, max) RSS in bytes over ``root`` and all its descendants; records each
    descendant's user + system seconds so far in ``cpu`` (pid -> seconds)."""
    children: dict[int, list[int]] = {}
    fields: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        fields[int(d)] = rest
        children.setdefault(int(rest[1]), []).append(int(d))
    total, biggest, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        rest = fields.get(pid)
        if rest is not None:
            cpu[pid] = (int(rest[11]) + int(rest[12])) / TICK
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            rss = 0
        total += rss
        biggest = max(biggest, rss)
        todo.extend(children.get(pid, []))
    return total, biggest


def measure(cmd: list[str], *, sample_memory: bool = False, env: dict | None = None) -> dict:
    """Run ``cmd``; wall seconds, stdout, wait4 maxrss and CPU, the process tree's
    sampled peak RSS, and the tree's CPU seconds: the last /proc sample (every 0.1 s) of
    every process in it, so forkserver workers that sov does not reap count too (up to
    0.1 s per process is missed)."""
    e = dict(os.environ)
    e.setdefault("OMP_NUM_THREADS", "1")
    e.update(env or {})
    out = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, cwd=ROOT, env=e)
    peak = {"sum": 0, "max": 0}
    cpu: dict[int, float] = {}
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            s, m = _tree_sample(p.pid, cpu)
            peak["sum"] = max(peak["sum"], s)
            peak["max"] = max(peak["max"], m)
            stop.wait(0.05 if sample_memory else 0.1)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"benchmark command failed ({p.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
    return {"wall_s": wall, "tree_cpu_s": sum(cpu.values()), "wait4_cpu_s": ru.ru_utime + ru.ru_stime,
            "maxrss_mib": ru.ru_maxrss / 1024,
            "tree_peak_mib": peak["sum"] / 2**20,
            "tree_max_process_mib": peak["max"] / 2**20, "stdout": text}


def sov_run(args: list[str], **kw) -> dict:
    with tempfile.TemporaryDirectory() as d:
        r = measure(SOV + ["qec", "run", *args, "-q", "--db", f"{d}/b.duckdb", "--json", "-"], **kw)
    r["result"] = json.loads(r.pop("stdout"))
    return r


def raw_run(which: str, args: list[str], **kw) -> dict:
    r = measure(RAW + [which, *args], **kw)
    r["result"] = json.loads(r.pop("stdout").strip().splitlines()[-1])
    return r


def med(xs: list[float]) -> float:
    return statistics.median(xs)


# -- sections --------------------------------------------------------------------------------

def bench_pymatching(distance: int, shots: int, workers: int, repeats: int) -> dict:
    wl = ["--distance", str(distance), "--p", "0.003", "--shots", str(shots)]
    runs = {"raw": lambda: raw_run("pymatching", wl),
            "sinter": lambda: raw_run("sinter", wl + ["--workers", str(workers)]),
            "sov": lambda: sov_run(["-d", str(distance), "--p", "0.003", "--shots", str(shots),
                                    "--workers", str(workers)])}
    rows = []
    for i in range(repeats):
        # the order rotates from repeat to repeat (raw sinter sov, sinter sov raw, sov raw
        # sinter, ...), so a drift of the machine's speed, or what one command leaves
        # behind, does not always favour the same command
        order = list(runs)[i % 3:] + list(runs)[:i % 3]
        got = {name: runs[name]() for name in order}
        raw, sint, sov = got["raw"], got["sinter"], got["sov"]
        rows.append({"raw_s": raw["wall_s"], "sinter_s": sint["wall_s"], "sov_s": sov["wall_s"],
                     "cpu_s": {"raw": raw["tree_cpu_s"], "sinter": sint["tree_cpu_s"], "sov": sov["tree_cpu_s"]},
                     "sov_vs_raw": raw["wall_s"] / sov["wall_s"],
                     "sov_vs_sinter": sint["wall_s"] / sov["wall_s"],
                     "errors": {"raw": raw["result"]["errors"], "sinter": sint["result"]["errors"],
                                "sov": sov["result"]["errors"]}})
        print(f"  repeat {i + 1} ({', '.join(order)}): wall raw {raw['wall_s']:.2f} s, sinter {sint['wall_s']:.2f} s, "
              f"sov {sov['wall_s']:.2f} s; cpu raw {raw['tree_cpu_s']:.1f} s, sinter "
              f"{sint['tree_cpu_s']:.1f} s, sov {sov['tree_cpu_s']:.1f} s; load {os.getloadavg()[0]:.1f}", flush=True)
    return {"distance": distance, "shots": shots, "workers": workers, "repeats": rows,
            "median_sov_vs_raw": med([r["sov_vs_raw"] for r in rows]),
            "median_sov_vs_sinter": med([r["sov_vs_sinter"] for r in rows]),
            "median_s": {k: med([r[k] for r in rows]) for k in ("raw_s", "sinter_s", "sov_s")},
            "median_cpu_s": {k: med([r["cpu_s"][k] for r in rows]) for k in ("raw", "sinter", "sov")}}


def bench_onnx(distance: int, shots: int, workers: int, repeats: int) -> dict:
    model = str(ROOT / "adapters" / "models" / "identity-predecoder.onnx")
    wl = ["--distance", str(distance), "--p", "0.003", "--shots", str(shots)]
    sov_args = ["--decoder", "identity-predecoder", "-d", str(distance), "--p", "0.003", "--shots", str(shots)]
    runs = {"raw": lambda: raw_run("onnx", wl + ["--model", model]),
            "sov": lambda: sov_run(sov_args + ["--workers", str(workers)]),
            "sov1": lambda: sov_run(sov_args + ["--workers", "1"])}
    rows = []
    for i in range(repeats):
        order = list(runs)[i % 3:] + list(runs)[:i % 3]  # rotated, as in bench_pymatching
        got = {name: runs[name]() for name in order}
        raw, sov, sov1 = got["raw"], got["sov"], got["sov1"]
        rows.append({"raw_s": raw["wall_s"], "sov_s": sov["wall_s"], "sov_1worker_s": sov1["wall_s"],
                     "cpu_s": {"raw": raw["tree_cpu_s"], "sov": sov["tree_cpu_s"], "sov_1worker": sov1["tree_cpu_s"]},
                     "sov_vs_raw": raw["wall_s"] / sov["wall_s"],
                     "sov_1worker_vs_raw": raw["wall_s"] / sov1["wall_s"]})
        print(f"  repeat {i + 1} ({', '.join(order)}): raw ORT+PyMatching {raw['wall_s']:.2f} s, sov {sov['wall_s']:.2f} s "
              f"({workers} workers), sov {sov1['wall_s']:.2f} s (1 worker); cpu raw {raw['tree_cpu_s']:.1f} s, "
              f"sov {sov['tree_cpu_s']:.1f} s, sov 1 worker {sov1['tree_cpu_s']:.1f} s", flush=True)
    return {"distance": distance, "shots": shots, "workers": workers, "repeats": rows,
            "sandbox": os.environ.get("SOV_SANDBOX", "1") != "0",
            "median_sov_vs_raw": med([r["sov_vs_raw"] for r in rows]),
            "median_sov_1worker_vs_raw": med([r["sov_1worker_vs_raw"] for r in rows]),
            "median_s": {k: med([r[k] for r in rows]) for k in ("raw_s", "sov_s", "sov_1worker_s")}}


def bench_duckdb(shots: int) -> dict:
    import numpy as np

    from verifier.engine.blocks import BlockOutcome, pack_predictions
    from verifier.stats.binomial import Stats
    from verifier.store.db import Store
    from verifier.qec.workload import BLOCK_SHOTS, Block

    rng = np.random.default_rng(0)
    outcomes = []
    for i, start in enumerate(range(0, shots, BLOCK_SHOTS)):
        n = min(BLOCK_SHOTS, shots - start)
        pred = rng.integers(0, 2, (n, 1), dtype=np.uint8)
        fail = rng.random(n) < 0.003
        outcomes.append(BlockOutcome(Block(i, start, n), Stats(n, int(fail.sum()), 0.1, 0.02),
                                     pack_predictions(pred, 1), np.packbits(fail, bitorder="little").tobytes(), 1))
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "db.duckdb")
        store.migrate()
        t0 = time.perf_counter()
        for lo in range(0, len(outcomes), 8):  # replay flushes every second: ~8 blocks at d=9
            store.record_blocks("f" * 64, "s" * 64, None, outcomes[lo:lo + 8])
        rec = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = store.block_predictions("f" * 64, "s" * 64)
        read = time.perf_counter() - t0
        size = os.path.getsize(Path(d) / "db.duckdb")
    assert sum(k[1] for k in back) == shots and all(len(v[0]) == -(-k[1] // 8) for k, v in back.items())
    return {"shots": shots, "blocks": len(outcomes), "record_s": rec, "read_s": read,
            "record_shots_per_s": shots / rec, "file_mib": size / 2**20}


def bench_memory(distance: int, small: int, large: int, workers: int) -> dict:
    out = {}
    for shots in (small, large):
        r = sov_run(["-d", str(distance), "--p", "0.003", "--shots", str(shots),
                     "--workers", str(workers)], sample_memory=True)
        out[str(shots)] = {k: r[k] for k in ("wall_s", "maxrss_mib", "tree_peak_mib", "tree_max_process_mib")}
        print(f"  {shots:>9,} shots: wait4 maxrss {r['maxrss_mib']:.0f} MiB, process tree peak "
              f"{r['tree_peak_mib']:.0f} MiB (largest process {r['tree_max_process_mib']:.0f} MiB), "
              f"{r['wall_s']:.1f} s", flush=True)
    a, b = out[str(small)], out[str(large)]
    return {"distance": distance, "small": small, "large": large, "runs": out,
            "ratio_maxrss": b["maxrss_mib"] / a["maxrss_mib"],
            "ratio_tree_peak": b["tree_peak_mib"] / a["tree_peak_mib"]}


def bench_ort(distance: int) -> dict:
    """Inference alone (the identity flat model) under onnxruntime settings."""
    import numpy as np
    import onnxruntime as ort

    from verifier.qec.workload import MemoryWorkload

    model = str(ROOT / "adapters" / "models" / "identity-predecoder.onnx")
    w = MemoryWorkload(distance, distance, "z", "uniform", 0.003, 65536, 0)
    x = np.concatenate([np.unpackbits(w.sample_block(b)[0], axis=1, count=w.num_detectors,
                                      bitorder="little") for b in w.blocks()])
    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
              "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}

    def session(threads: int, level: str):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = levels[level]
        return ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])

    def timed(fn, reps: int = 3) -> float:
        fn()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    rows = []
    for threads in (1, 2):
        for level in ("all", "disable"):
            s = session(threads, level)
            name = s.get_inputs()[0].name
            for batch in (1024, 8192, 65536):
                def run_plain():
                    for lo in range(0, len(x), batch):
                        s.run(None, {name: x[lo:lo + batch]})
                t = timed(run_plain)
                rows.append({"threads": threads, "graph_optimization": level, "batch": batch,
                             "io_binding": False, "shots_per_s": len(x) / t})
            # IOBinding: inputs bound as numpy, outputs left to onnxruntime (CPU)
            def run_bound(batch: int = 8192):
                for lo in range(0, len(x), batch):
                    b = s.io_binding()
                    b.bind_cpu_input(name, x[lo:lo + batch])
                    b.bind_output(s.get_outputs()[0].name)
                    s.run_with_iobinding(b)
                    b.copy_outputs_to_cpu()
            rows.append({"threads": threads, "graph_optimization": level, "batch": 8192,
                         "io_binding": True, "shots_per_s": len(x) / timed(run_bound)})
    return {"distance": distance, "shots": len(x), "rows": rows}


# -- main ------------------------------------------------------------------------------------

def machine() -> dict:
    """The keys this report has always had, from ``verifier.environment``."""
    from verifier.environment import cores, cpu_model

    return {"cpu": cpu_model(), "cores": cores(), "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()}


def _pymatching_section(a, workers: int) -> dict:
    shots = 100_000 if a.quick else 1_000_000
    print(f"[1] PyMatching d=9 p=0.003, {shots:,} shots (whole process, wall)")
    r = bench_pymatching(9, shots, workers, 1 if a.quick else a.repeats)
    cpu = r["median_cpu_s"]
    print(f"    median CPU seconds: raw {cpu['raw']:.1f}, sinter {cpu['sinter']:.1f}, sov {cpu['sov']:.1f}")
    print(f"    sov vs raw single-process loop: {r['median_sov_vs_raw']:.2f}x   "
          f"sov vs sinter.collect({workers} workers): {r['median_sov_vs_sinter']:.2f}x   (>1: sov faster)")
    return r


def _onnx_section(a, workers: int) -> dict:
    shots = 50_000 if a.quick else 1_000_000
    print(f"[2] ONNX identity pre-decoder + PyMatching d=9 p=0.003, {shots:,} shots (whole process, wall)")
    r = bench_onnx(9, shots, workers, 1 if a.quick else a.repeats)
    sandbox = "on" if r["sandbox"] else "off"
    print(f"    sov ({workers} workers) vs raw onnxruntime + PyMatching: {r['median_sov_vs_raw']:.2f}x   "
          f"sov (1 worker) vs raw: {r['median_sov_1worker_vs_raw']:.2f}x   (sandbox {sandbox})")
    return r


def _duckdb_section(a, workers: int) -> dict:
    shots = 100_000 if a.quick else 1_000_000
    r = bench_duckdb(shots)
    print(f"[3] DuckDB: recorded {shots:,} per-shot predictions in {r['record_s']:.2f} s "
          f"({r['record_shots_per_s']:,.0f} shots/s), read back in {r['read_s']:.2f} s, file {r['file_mib']:.1f} MiB")
    return r


def _memory_section(a, workers: int) -> dict:
    small, large = (50_000, 1_000_000) if a.quick else (200_000, 4_000_000)
    print(f"[4] peak memory of sov qec run, d=5, {small:,} vs {large:,} shots")
    r = bench_memory(5, small, large, workers)
    print(f"    ratio {large:,} / {small:,}: wait4 maxrss {r['ratio_maxrss']:.2f}x, process tree "
          f"{r['ratio_tree_peak']:.2f}x   (target <= 1.5x)")
    return r


def _ort_section(a, workers: int) -> dict:
    print("[5] onnxruntime inference alone, identity flat model, d=9, 65,536 shots")
    r = bench_ort(9)
    for row in r["rows"]:
        print(f"    threads {row['threads']} opt {row['graph_optimization']:7s} batch {row['batch']:6d} "
              f"{'iobinding' if row['io_binding'] else 'run      '} {row['shots_per_s']:>12,.0f} shots/s")
    return r


SECTIONS = {"pymatching": _pymatching_section, "onnx": _onnx_section, "duckdb": _duckdb_section,
            "memory": _memory_section, "ort": _ort_section}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, ratios are rough)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="default: all cores, as sov's default")
    ap.add_argument("--only", default="pymatching,onnx,duckdb,memory,ort")
    ap.add_argument("--json", dest="json_out")
    a = ap.parse_args()
    from verifier.engine.executors import default_workers

    workers = a.workers or default_workers()
    only = set(a.only.split(","))
    report: dict = {"machine": machine(), "workers": workers}
    print(f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
          f"load average {report['machine']['load_average_at_start'][0]:.2f}; sov workers {workers}")
    for name in ("pymatching", "onnx", "duckdb", "memory", "ort"):
        if name in only:
            report[name] = SECTIONS[name](a, workers)
    report["load_average_at_end"] = os.getloadavg()
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print("ratios: ", json.dumps({k: {kk: vv for kk, vv in v.items() if kk.startswith(("median_sov", "ratio"))}
                                   for k, v in report.items() if isinstance(v, dict) and k not in ("machine",)}))


if __name__ == "__main__":
    main()
