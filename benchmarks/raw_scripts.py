"""The hand-written scripts sov is measured against (run as separate processes by run.py).

    python benchmarks/raw_scripts.py pymatching --distance 9 --p 0.003 --shots 1000000
    python benchmarks/raw_scripts.py sinter --distance 9 --p 0.003 --shots 1000000 --workers 2
    python benchmarks/raw_scripts.py onnx --distance 9 --p 0.003 --shots 1000000 --model M.onnx

Each prints one JSON line: {"shots": ..., "errors": ...}. They are the twenty-line scripts
a user would write: no store, no checks, no per-shot records.
"""

from __future__ import annotations

import argparse
import json


def circuit(distance: int, p: float, basis: str = "z"):
    import stim

    return stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=distance,
                                  rounds=distance, after_clifford_depolarization=p,
                                  before_round_data_depolarization=p,
                                  before_measure_flip_probability=p,
                                  after_reset_flip_probability=p)


def raw_pymatching(distance: int, p: float, shots: int, batch: int = 8192) -> dict:
    """A plain loop of stim sampling + ``pymatching.decode_batch``, one process."""
    import numpy as np
    import pymatching

    c = circuit(distance, p)
    matching = pymatching.Matching.from_detector_error_model(c.detector_error_model(decompose_errors=True))
    sampler = c.compile_detector_sampler(seed=1)
    errors = 0
    for lo in range(0, shots, batch):
        n = min(batch, shots - lo)
        dets, obs = sampler.sample(n, separate_observables=True, bit_packed=True)
        pred = matching.decode_batch(dets, bit_packed_shots=True, bit_packed_predictions=True)
        errors += int(np.any(pred != obs, axis=1).sum())
    return {"shots": shots, "errors": errors}


def raw_onnx(distance: int, p: float, shots: int, model: str, batch: int = 8192) -> dict:
    """stim sampling + onnxruntime (flat pre-decoder) + PyMatching on the residual, one process."""
    import numpy as np
    import onnxruntime as ort
    import pymatching

    c = circuit(distance, p)
    matching = pymatching.Matching.from_detector_error_model(c.detector_error_model(decompose_errors=True))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sampler = c.compile_detector_sampler(seed=1)
    nd, no = c.num_detectors, c.num_observables
    errors = 0
    for lo in range(0, shots, batch):
        n = min(batch, shots - lo)
        dets, obs = sampler.sample(n, separate_observables=True)
        y = sess.run(None, {name: dets.astype(np.uint8)})[0]
        pred = y[:, :no] ^ matching.decode_batch(np.ascontiguousarray(y[:, no:]))
        errors += int(np.any(pred != obs, axis=1).sum())
    return {"shots": shots, "errors": errors}


def raw_sinter(distance: int, p: float, shots: int, workers: int) -> dict:
    import sinter

    task = sinter.Task(circuit=circuit(distance, p), json_metadata={"d": distance})
    stats = sinter.collect(num_workers=workers, tasks=[task], decoders=["pymatching"],
                           max_shots=shots, max_errors=shots + 1)
    s = stats[0]
    return {"shots": s.shots, "errors": s.errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["pymatching", "sinter", "onnx"])
    ap.add_argument("--distance", type=int, default=9)
    ap.add_argument("--p", type=float, default=0.003)
    ap.add_argument("--shots", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model")
    a = ap.parse_args()
    if a.which == "pymatching":
        out = raw_pymatching(a.distance, a.p, a.shots)
    elif a.which == "sinter":
        out = raw_sinter(a.distance, a.p, a.shots, a.workers)
    else:
        out = raw_onnx(a.distance, a.p, a.shots, a.model)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
