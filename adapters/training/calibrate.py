"""Decision-threshold calibration of a trained grid model, on held-out shots, through sov.

The contract acts on a cell iff its logit > 0. A small network trained for minutes is
right about most corrections but not sure enough of them: each wrong correction adds an
error that PyMatching must then undo. Calibration shifts the bias of the model's final
1x1x1 convolution down by the smallest ``offset`` (grid 0, 0.25, ... 6) such that
CNN+PyMatching makes at most ``max_ratio`` times PyMatching's logical errors on held-out
validation shots (memory X and Z, the given distance and p, a seed that no scorecard
uses). A shifted logit is the same model asked to act only when it is more confident:
P(error) > sigmoid(offset). The offset and the validation counts go into the metadata.

    python -m adapters.training.calibrate MODEL.onnx [--max-ratio 1.2]   # in place
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

OFFSETS = tuple(np.round(np.arange(0.0, 6.01, 0.25), 2))


def _logits_and_truth(model_path: str, noise: str, d: int, p: float, shots: int, seed: int, basis: str):
    from adapters.onnx_decoder import OnnxDecoder
    from adapters.runtime import RuntimeOptions
    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.qec.decoder import unpack_bits
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(d, d, basis, noise, p, shots, seed)
    dec = OnnxDecoder.from_file(model_path, options=RuntimeOptions(threads=2))
    dec.check(w)
    grid = dec.compile_for(w)
    pm = PyMatchingDecoder().compile_for(w)
    evs, obss = [], []
    for b in w.blocks():
        dets, obs = w.sample_block(b)
        evs.append(unpack_bits(dets, w.num_detectors))
        obss.append(unpack_bits(obs, w.num_observables))
    ev, obs = np.concatenate(evs), np.concatenate(obss)
    y = grid.runner.run(grid.geometry.tensorize(ev))
    return grid.geometry, pm.matching, ev, obs, y


def calibrate(model_path: str, *, noise: str = "uniform", distance: int = 5, p: float = 0.003,
              shots: int = 16384, seed: int = 987654321, max_ratio: float = 1.2) -> dict:
    import onnx
    from onnx import numpy_helper

    sets = [_logits_and_truth(model_path, noise, distance, p, shots, seed + i, basis)
            for i, basis in enumerate("zx")]
    pm_err = sum(int((m.decode_batch(ev) != obs).any(axis=1).sum()) for _, m, ev, obs, _ in sets)
    table = []
    chosen = None
    for off in OFFSETS:
        err = 0
        kept = events = 0
        for g, m, ev, obs, y in sets:
            pre, pred = g.predicted(y.reshape(len(y), -1) > off)
            res = ev ^ pred
            err += int(((pre ^ m.decode_batch(res)) != obs).any(axis=1).sum())
            kept += int(res.sum())
            events += int(ev.sum())
        table.append({"offset": float(off), "errors": err, "residual_fraction": kept / max(events, 1)})
        print(f"offset {off:4.2f}: {err} errors (PyMatching {pm_err}), residual "
              f"{kept / max(events, 1):.2f} of the events", file=sys.stderr, flush=True)
        if chosen is None and err <= max_ratio * pm_err:
            chosen = float(off)
            break
    if chosen is None:
        chosen = float(OFFSETS[-1])
    model = onnx.load(model_path)
    head = [n for n in model.graph.node if n.op_type == "Conv"][-1]
    if len(head.input) < 3:
        raise SystemExit("the model's last Conv has no bias to shift")
    inits = {t.name: t for t in model.graph.initializer}
    bias = numpy_helper.to_array(inits[head.input[2]]).astype(np.float32)
    inits[head.input[2]].CopyFrom(numpy_helper.from_array(bias - np.float32(chosen), head.input[2]))
    result = {"decision_offset": chosen, "max_ratio": max_ratio, "validation": {
        "noise": noise, "distance": distance, "rounds": distance, "p": p, "bases": "z,x",
        "shots_per_basis": shots, "seed": seed, "pymatching_errors": pm_err, "table": table}}
    for e in model.metadata_props:
        if e.key == "sov.description" and "decision offset" not in e.value:
            e.value += f"; decision offset {chosen:g} calibrated on held-out shots"
    entry = model.metadata_props.add()
    entry.key, entry.value = "sov.training.calibration", json.dumps(result)
    onnx.checker.check_model(model)
    onnx.save(model, model_path)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--noise", default=None, help="default: the model's sov.training.noise")
    ap.add_argument("--max-ratio", type=float, default=1.2)
    ap.add_argument("--shots", type=int, default=16384)
    args = ap.parse_args(argv)
    from adapters.onnx_model import inspect_model

    noise = args.noise or inspect_model(args.model).metadata.get("sov.training.noise", "uniform")
    r = calibrate(args.model, noise=noise, max_ratio=args.max_ratio, shots=args.shots)
    print(f"decision offset {r['decision_offset']} written into {args.model}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
