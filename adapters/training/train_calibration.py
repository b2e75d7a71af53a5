"""Train and export the shipped calibration models (reproducible, one command):

    python -m adapters.training.train_calibration [--out adapters/models]

- ``rabi-amplitude-mlp.onnx`` and ``t1-mlp.onnx`` (``cal.fit``): scikit-learn MLPs on
  simulated sweeps (``verifier.calib.simulator``, training seeds disjoint from the
  evaluation seeds sov uses by default), predicting log(parameter / sweep end). They are
  trained on sweeps of many shapes (``verifier.calib.sweep_shape``: 30 to 101 points,
  0.6x to 1.6x the documented range, with and without readout error, in probabilities and
  arbitrary units, 300 to 3000 shots), each fed as the model takes it: resampled to 50
  points (``sov.resample = linear``) and standardized within the sweep;
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
WIDTH = 50
FIT_MODELS = {"rabi_amplitude": ("rabi-amplitude-mlp", 30_000, (96, 96)),
              "t1": ("t1-mlp", 30_000, (96, 96))}
SHAPE_GROUPS = 60  # the first 10 on the documented sweep


def training_shapes(rng: np.random.Generator, groups: int = SHAPE_GROUPS) -> list:
    from verifier.calib.sweep_shape import SweepShape

    shapes = [SweepShape()] * 10
    for _ in range(groups - 10):
        shapes.append(SweepShape(n_points=int(rng.integers(30, 102)), span=float(rng.uniform(0.6, 1.6)),
                                 readout_error=bool(rng.random() < 0.6),
                                 units="au" if rng.random() < 0.3 else "probability"))
    return shapes


def per_sweep_standardized(y: np.ndarray) -> np.ndarray:
    """What the exported graph computes first (``mlp_fit_model(per_sweep=True)``)."""
    d = y - y.mean(axis=1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=1, keepdims=True) + 1e-12)


def training_set(experiment: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [n, WIDTH] (as the model sees them) and targets log(parameter / sweep end)."""
    from verifier.calib.data import to_width
    from verifier.calib.simulator import simulate

    rng = np.random.default_rng(TRAIN_SEED)
    shapes = training_shapes(rng)
    per = n // len(shapes)
    X, T = [], []
    for k, shape in enumerate(shapes):
        d = simulate(experiment, per, seed=TRAIN_SEED + k, shots=int(rng.integers(300, 3001)), shape=shape)
        x, y = to_width(d.x, d.y, WIDTH)
        X.append(per_sweep_standardized(y))
        T.append(np.log(d.truth[:, 0] / x.max(axis=1)))
    return np.concatenate(X), np.concatenate(T)


def train_fit(experiment: str, n: int, hidden: tuple[int, ...]):
    from sklearn.neural_network import MLPRegressor

    X, target = training_set(experiment, n)
    mu, sd = X.mean(0), X.std(0) + 1e-6
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
        md = {"sov.description": f"MLP {WIDTH}-{'-'.join(map(str, hidden))}-1 on the sweep's y (standardized "
                                 f"within the sweep), predicting log({EXPERIMENTS[exp].params[0].name} / sweep end)",
              "sov.provenance": json.dumps(prov | {"samples": n, "epochs": int(reg.n_iter_),
                                                   "shape_groups": SHAPE_GROUPS}, sort_keys=True),
              # it reads the sweep relative to its end: any width, resampled
              "sov.resample": "linear"}
        save(mlp_fit_model(exp, WIDTH, mu, sd, W, B, metadata=md, per_sweep=True), out / f"{name}.onnx")
        print(f"{name}: {n} samples, {reg.n_iter_} epochs, {time.time() - t0:.1f} s")
    w, b = train_discriminator()
    md = {"sov.description": "logistic regression on (I, Q) for the simulator's reference readout chain",
          "sov.provenance": json.dumps(prov | {"samples": 400 * 1000}, sort_keys=True)}
    save(linear_discriminator(w, b, metadata=md), out / "readout-linear.onnx")
    print(f"readout-linear: w={w.tolist()} b={b:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
