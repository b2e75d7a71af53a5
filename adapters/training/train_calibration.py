"""Train and export the shipped calibration models (reproducible, one command):

    python -m adapters.training.train_calibration [--out adapters/models]

- ``rabi-amplitude-mlp.onnx`` and ``t1-mlp.onnx`` (``cal.fit``): scikit-learn MLPs on
  simulated sweeps (``verifier.calib.simulator``, training seeds disjoint from the
  evaluation seeds sov uses by default), predicting log(parameter / sweep end);
- ``readout-linear.onnx`` (``cal.discriminator``): logistic regression on simulated
  single shots over the documented readout-chain ranges.

Everything is seeded (numpy and scikit-learn), so the same versions give the same files'
weights. Exported with ``onnx.helper``: no torch needed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

TRAIN_SEED = 90_210
FIT_MODELS = {"rabi_amplitude": ("rabi-amplitude-mlp", 20_000, (64, 64)),
              "t1": ("t1-mlp", 20_000, (64, 64))}


def train_fit(experiment: str, n: int, hidden: tuple[int, ...]):
    from sklearn.neural_network import MLPRegressor

    from verifier.calib.simulator import simulate

    d = simulate(experiment, n, seed=TRAIN_SEED)
    X = d.y.astype(np.float64)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    target = np.log(d.truth[:, 0] / d.x.max(axis=1))
    reg = MLPRegressor(hidden_layer_sizes=hidden, activation="relu", alpha=1e-4, batch_size=256,
                       learning_rate_init=1e-3, max_iter=300, early_stopping=True, n_iter_no_change=15,
                       random_state=0, tol=1e-7)
    reg.fit((X - mu) / sd, target)
    return mu, sd, [w.astype(np.float32) for w in reg.coefs_], [b.astype(np.float32) for b in reg.intercepts_], reg


def train_discriminator(n: int = 400):
    from sklearn.linear_model import LogisticRegression

    from verifier.calib.simulator import simulate

    d = simulate("readout", n, seed=TRAIN_SEED, shots=500)
    X = np.concatenate([d.iq_train.reshape(-1, 2), d.iq_test.reshape(-1, 2)])
    y = np.concatenate([d.state_train.reshape(-1), d.state_test.reshape(-1)])
    clf = LogisticRegression(C=1.0, random_state=0).fit(X, y)
    return clf.coef_[0], float(clf.intercept_[0])


def main(argv: list[str] | None = None) -> int:
    import sklearn

    from adapters.calibration_models import linear_discriminator, mlp_fit_model, save
    from verifier.calib.experiments import EXPERIMENTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "models"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prov = {"trained_by": "adapters/training/train_calibration.py", "train_seed": TRAIN_SEED,
            "sklearn": sklearn.__version__, "simulator": "verifier.calib.simulator v1"}
    for exp, (name, n, hidden) in FIT_MODELS.items():
        t0 = time.time()
        mu, sd, W, B, reg = train_fit(exp, n, hidden)
        md = {"sov.description": f"MLP {EXPERIMENTS[exp].n_points}-{'-'.join(map(str, hidden))}-1 on the "
                                 f"sweep's y, predicting log({EXPERIMENTS[exp].params[0].name} / sweep end)",
              "sov.provenance": json.dumps(prov | {"samples": n, "epochs": int(reg.n_iter_)}, sort_keys=True)}
        if exp == "rabi_amplitude":  # it reads the sweep relative to its end: any width, resampled
            md["sov.resample"] = "linear"
        save(mlp_fit_model(exp, EXPERIMENTS[exp].n_points, mu, sd, W, B, metadata=md), out / f"{name}.onnx")
        print(f"{name}: {n} samples, {reg.n_iter_} epochs, {time.time() - t0:.1f} s")
    w, b = train_discriminator()
    md = {"sov.description": "logistic regression on (I, Q) for the simulator's reference readout chain",
          "sov.provenance": json.dumps(prov | {"samples": 400 * 1000}, sort_keys=True)}
    save(linear_discriminator(w, b, metadata=md), out / "readout-linear.onnx")
    print(f"readout-linear: w={w.tolist()} b={b:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
