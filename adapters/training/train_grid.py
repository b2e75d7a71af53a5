"""Train a small Ising-style 3D-CNN pre-decoder (``qec.predecoder.grid``) on stim data.

    pip install -e '.[train]'          # torch==2.13.0, CPU
    python -m adapters.training.train_grid --noise uniform --out adapters/models/grid-cnn-uniform.onnx

Data: stim's rotated surface-code memory circuits (both bases, ``rounds = d``) for the
given distances and physical error rates, sampled fresh every step from the detector
error model with ``return_errors=True``; the labels are the grid cells of the fault
mechanisms that fired (:mod:`adapters.training.labels`). The network is fully
convolutional (Conv3d 3x3x3 + ReLU layers, a 1x1x1 head), so one file serves every
distance and number of rounds. Export: ONNX opset 18, symbolic batch, T and D, with its
provenance in the metadata. Training compute is bounded by ``--minutes``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from adapters.grid import CONTRACT


class GridCNN(nn.Module):
    def __init__(self, hidden: int = 32, layers: int = 4):
        super().__init__()
        mods: list[nn.Module] = []
        ch = 4
        for _ in range(layers):
            mods += [nn.Conv3d(ch, hidden, 3, padding=1), nn.ReLU()]
            ch = hidden
        mods.append(nn.Conv3d(ch, 4, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def code_version() -> str:
    import verifier

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except OSError:
        rev = ""
    return f"sov {verifier.__version__}" + (f" (git {rev})" if rev else "")


def _label_maps(noise: str, ps: list[float], distances: list[int]):
    from adapters.training.labels import label_map
    from verifier.qec.workload import MemoryWorkload

    maps = []
    for d in distances:
        for p in ps:
            for basis in ("x", "z"):
                maps.append(((d, p, basis), label_map(MemoryWorkload(d, d, basis, noise, p, 1, 0).circuit())))
    return maps


def evaluate(model: nn.Module, noise: str, d: int, p: float, shots: int, seed: int) -> dict:
    """Quick in-process check: LER of CNN+PyMatching vs PyMatching on the same shots."""
    from adapters.training.labels import label_map, sample
    from baselines.pymatching_decoder import build_matching
    from verifier.qec.workload import MemoryWorkload

    c = MemoryWorkload(d, d, "z", noise, p, 1, 0).circuit()
    lm = label_map(c)
    x, _, ev, obs = sample(lm, shots, seed)
    m = build_matching(c)
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + 2048])) for i in range(0, shots, 2048)])
    model.train()
    corr = logits.numpy().reshape(shots, -1) > 0
    pre, pred = lm.geometry.predicted(corr)
    res = ev ^ pred
    cnn = ((pre ^ m.decode_batch(res)) != obs).any(axis=1).sum()
    pm = (m.decode_batch(ev) != obs).any(axis=1).sum()
    return {"d": d, "p": p, "shots": shots, "pm_errors": int(pm), "cnn_errors": int(cnn),
            "raw_density": float(ev.mean()), "residual_density": float(res.mean())}


def export(model: nn.Module, out: Path, metadata: dict[str, str]) -> None:
    import onnx

    model.eval()
    dummy = torch.zeros(2, 4, 5, 5, 5)
    axes = {0: "batch", 2: "T", 3: "D", 4: "D"}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (dummy,), str(out), opset_version=18, dynamo=False,
                      input_names=["dets"], output_names=["logits"],
                      dynamic_axes={"dets": axes, "logits": axes})
    m = onnx.load(str(out))
    del m.metadata_props[:]
    for k, v in metadata.items():
        e = m.metadata_props.add()
        e.key, e.value = k, str(v)
    m.producer_name, m.producer_version = "sov train_grid", metadata.get("sov.training.code_version", "")
    onnx.checker.check_model(m)
    onnx.save(m, str(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--noise", choices=("uniform", "si1000"), default="uniform")
    ap.add_argument("--p", default="0.002,0.003,0.004,0.005,0.006", help="comma-separated error rates")
    ap.add_argument("--distances", default="3,5", help="comma-separated odd distances (rounds = d)")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--pos-weight", type=float, default=4.0,
                    help="initial weight of positive labels, annealed to 1 by 60%% of training")
    ap.add_argument("--steps", type=int, default=20000, help="upper bound on optimizer steps")
    ap.add_argument("--minutes", type=float, default=12.0,
                    help="CPU-time budget for training (this process's CPU time, not wall clock)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--eval-shots", type=int, default=20000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-ratio", type=float, default=1.2,
                    help="calibrate the decision offset so that CNN+PyMatching makes at most this many "
                         "times PyMatching's errors on held-out d=5 p=0.003 shots (0 = no calibration)")
    args = ap.parse_args(argv)

    from adapters.training.labels import sample

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    ps = [float(v) for v in args.p.split(",")]
    ds = [int(v) for v in args.distances.split(",")]
    maps = _label_maps(args.noise, ps, ds)
    model = GridCNN(args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    budget = args.minutes * 60
    t0 = time.monotonic()
    c0 = time.process_time()
    shots = 0
    step = 0
    avg = None
    tp = npos = nlab = 0
    while step < args.steps and time.process_time() - c0 < budget:
        frac = min(1.0, max((time.process_time() - c0) / budget, step / args.steps))
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * frac))
        # cheap d=3 batches are twice as large so each step costs about the same
        key, lm = maps[rng.integers(len(maps))]
        n = args.batch * (2 if key[0] <= 3 else 1)
        x, y, _, _ = sample(lm, n, int(rng.integers(2**62)))
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        pw = 1.0 + (args.pos_weight - 1.0) * max(0.0, 1.0 - frac / 0.6)
        logits = model(xt)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, yt, pos_weight=torch.tensor(pw))
        with torch.no_grad():
            pos = logits > 0
            tp += int((pos & (yt > 0)).sum())
            npos += int(pos.sum())
            nlab += int((yt > 0).sum())
        opt.zero_grad()
        loss.backward()
        opt.step()
        shots += n
        step += 1
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step:6d}  shots {shots:9d}  loss {avg:.5f}  lr {opt.param_groups[0]['lr']:.2e}  "
                  f"precision {tp / max(npos, 1):.3f} recall {tp / max(nlab, 1):.3f}  "
                  f"{time.process_time() - c0:6.0f}s cpu {time.monotonic() - t0:6.0f}s wall", file=sys.stderr, flush=True)
            tp = npos = nlab = 0
    train_s = time.monotonic() - t0
    train_cpu = time.process_time() - c0
    check = evaluate(model, args.noise, 5, 0.003, args.eval_shots, args.seed + 1) if args.eval_shots else {}
    if check:
        print(f"check d=5 p=0.003 ({check['shots']} shots): PyMatching {check['pm_errors']} errors, "
              f"CNN+PyMatching {check['cnn_errors']}; event density {check['raw_density']:.4f} -> "
              f"{check['residual_density']:.4f}", file=sys.stderr)
    import stim

    params = sum(p.numel() for p in model.parameters())
    md = {
        "sov.contract": CONTRACT,
        "sov.description": (f"3D-CNN pre-decoder ({params:,} parameters, {args.layers}x Conv3d "
                            f"{args.hidden}ch) trained on {args.noise} noise, p {min(ps):g}-{max(ps):g}, "
                            f"d={','.join(map(str, ds))}; any distance and rounds"),
        "sov.training.noise": args.noise,
        "sov.training.p": json.dumps(ps),
        "sov.training.p_range": f"{min(ps):g}-{max(ps):g}",
        "sov.training.distances": json.dumps(ds),
        "sov.training.rounds": "rounds = distance",
        "sov.training.bases": "x,z",
        "sov.training.shots": str(shots),
        "sov.training.steps": str(step),
        "sov.training.seed": str(args.seed),
        "sov.training.seconds": f"{train_s:.0f} wall, {train_cpu:.0f} CPU, {args.threads} thread(s)",
        "sov.training.architecture": json.dumps({"hidden": args.hidden, "layers": args.layers,
                                                 "kernel": 3, "head": "1x1x1", "parameters": params}),
        "sov.training.hyperparameters": json.dumps({"batch": args.batch, "lr": args.lr,
                                                    "schedule": "cosine", "loss": "BCEWithLogits",
                                                    "pos_weight": f"{args.pos_weight:g} annealed to 1"}),
        "sov.training.labels": "fault mechanisms of stim's DEM (decompose_errors=True) mapped to grid cells",
        "sov.training.code_version": code_version(),
        "sov.training.versions": json.dumps({"torch": torch.__version__, "stim": stim.__version__}),
        "sov.training.command": "python -m adapters.training.train_grid " + " ".join(
            argv if argv is not None else sys.argv[1:]),
    }
    if check:
        md["sov.training.check_uncalibrated"] = json.dumps(check)
    export(model, args.out, md)
    if args.max_ratio > 0:
        from adapters.training.calibrate import calibrate

        cal = calibrate(str(args.out), noise=args.noise, max_ratio=args.max_ratio)
        print(f"decision offset {cal['decision_offset']:g}", file=sys.stderr)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {params:,} parameters, "
          f"{shots:,} training shots, {train_s:.0f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
