"""ONNX calibration models (contracts ``cal.fit`` and ``cal.discriminator``) as sov
calibration models: ``estimate(x, y) -> params`` and ``classify(iq) -> state``.

The file is checked by ``adapters.onnx_model.inspect_model`` (integrity: exit 4), the
contract and the experiment are resolved and the tensors are checked against the
contract before any inference (exit 2 with expected vs found). Inference goes through
``adapters.sandbox.open_session``, so the model runs in the sandboxed child process
unless the user opts out. NaN or Inf in any output is an IntegrityError (exit 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.contracts import CAL_CONTRACTS, batch_size_of, check_tensor, resolve_contract
from adapters.onnx_model import CheckedModelFile, ModelInfo, inspect_model
from adapters.runner import infer
from adapters.runtime import RuntimeOptions, runtime_version
from adapters.sandbox import open_session
from verifier.errors import IntegrityError, UsageError


def _check_fit_io(info: ModelInfo, experiment: str) -> None:
    from verifier.calib.experiments import experiment as get

    exp = get(experiment)
    name = info.file_name
    if exp.kind != "fit":
        raise UsageError(f"{name}: contract cal.fit cannot serve experiment {experiment!r} "
                         "(readout needs a cal.discriminator)")
    names = [t.name for t in info.inputs]
    if len(info.inputs) != 2 or sorted(names) != ["x", "y"]:
        raise UsageError(f"{name}: cal.fit needs exactly the inputs 'x' and 'y', found "
                         f"{', '.join(t.show() for t in info.inputs) or 'none'}")
    if len(info.outputs) != 1:
        raise UsageError(f"{name}: cal.fit needs exactly one output 'params', found {len(info.outputs)}")
    for t in info.inputs:
        check_tensor(t, model=name, role="input", dtypes=("float32",), dims=(None,))
        n = t.shape[1]
        if isinstance(n, int) and n != exp.n_points:
            raise UsageError(f"{name}: input {t.name!r} has {n} points, but experiment {experiment} "
                             f"sweeps {exp.n_points}")
    check_tensor(info.outputs[0], model=name, role="output", dtypes=("float32",), dims=(len(exp.params),))


def _check_disc_io(info: ModelInfo) -> None:
    name = info.file_name
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise UsageError(f"{name}: cal.discriminator needs one input and one output, found "
                         f"{len(info.inputs)} and {len(info.outputs)}")
    check_tensor(info.inputs[0], model=name, role="input", dtypes=("float32",), dims=(2,))
    check_tensor(info.outputs[0], model=name, role="output", dtypes=("float32",), dims=(2,))


@dataclass
class OnnxCalibrationModel(CheckedModelFile):
    """An ONNX file under ``cal.fit`` (one experiment) or ``cal.discriminator``."""

    path: str
    sha256: str
    contract: str
    experiment: str
    name: str
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    _session: Any = field(default=None, repr=False, compare=False)
    n_points: int | None = None  # a fixed sweep width of the inputs (None: any number of points)
    resample: str | None = None  # metadata sov.resample: how a sweep of another width is fed (linear)

    @classmethod
    def from_file(cls, path: str, *, contract: str | None = None, experiment: str | None = None,
                  options: RuntimeOptions | None = None) -> "OnnxCalibrationModel":
        from verifier.calib.experiments import EXPERIMENTS

        info = inspect_model(path)
        c = resolve_contract(info, contract, family=CAL_CONTRACTS)
        if c == "cal.discriminator":
            _check_disc_io(info)
            if experiment not in (None, "readout"):
                raise UsageError(f"{info.file_name} is a cal.discriminator: it serves experiment "
                                 f"'readout', not {experiment!r}")
            exp = "readout"
        else:
            md = info.metadata.get("sov.experiment")
            if experiment and md and md != experiment:
                raise UsageError(f"{info.file_name} was built for experiment {md!r} (metadata "
                                 f"sov.experiment), not {experiment!r}")
            exp = experiment or md
            if not exp:
                raise UsageError(f"{info.file_name} names no experiment (metadata 'sov.experiment'): "
                                 f"give --experiment, one of: {', '.join(EXPERIMENTS)}")
            if exp not in EXPERIMENTS:
                raise UsageError(f"{info.file_name}: unknown experiment {exp!r}; experiments are: "
                                 f"{', '.join(EXPERIMENTS)}")
            _check_fit_io(info, exp)
        width = info.inputs[0].shape[1] if c == "cal.fit" else None
        rule = info.metadata.get("sov.resample")
        if rule not in (None, "linear"):
            raise UsageError(f"{info.file_name}: metadata sov.resample must be 'linear', got {rule!r}")
        return cls(info.path, info.sha256, c, exp, info.file_name, options or RuntimeOptions(threads=1),
                   n_points=width if isinstance(width, int) else None, resample=rule)

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"model": "onnx", "contract": self.contract, "experiment": self.experiment,
                "model_sha256": self.sha256, "onnxruntime": runtime_version(),
                "provider": self.options.provider}

    def _sess(self):
        if self._session is None:
            self.verified_info()
            self._session = open_session(self.path, self.options)
        return self._session

    def close(self) -> None:
        s, self._session = self._session, None
        if s is not None and hasattr(s, "close"):
            s.close()

    def _run(self, feed: dict[str, np.ndarray], rows: int) -> np.ndarray:
        sess = self._sess()
        info = self.info
        fixed = batch_size_of(info.inputs[0])
        step = fixed or self.options.batch_size
        out_name = sess.get_outputs()[0].name
        outs = []
        for lo in range(0, rows, step):
            piece = {k: v[lo:lo + step] for k, v in feed.items()}
            m = next(iter(piece.values())).shape[0]
            if fixed and m < fixed:
                piece = {k: np.concatenate([v, np.repeat(v[-1:], fixed - m, axis=0)]) for k, v in piece.items()}
            # the sandbox's own failures already say what happened
            y = infer(sess, [out_name], piece, self.name, as_is=(IntegrityError,))
            if y.ndim != 2 or y.shape[0] != next(iter(piece.values())).shape[0]:
                raise UsageError(f"{self.name}: output shape {list(y.shape)} for a batch of "
                                 f"{next(iter(piece.values())).shape[0]}")
            outs.append(y[:m])
        return np.concatenate(outs).astype(np.float64)

    # -- cal.fit ---------------------------------------------------------------------------

    def estimate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Parameters [batch, k] (contract order) for sweeps x, y of shape [batch, n]."""
        from verifier.calib.experiments import experiment as get

        if self.contract != "cal.fit":
            raise UsageError(f"{self.name} is a {self.contract}, not a cal.fit model")
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.ascontiguousarray(y, dtype=np.float32)
        if x.ndim != 2 or x.shape != y.shape:
            raise UsageError(f"x and y must both be [batch, n_points], got {list(x.shape)} and {list(y.shape)}")
        if self.n_points is not None and x.shape[1] != self.n_points:
            if self.resample != "linear":
                raise UsageError(f"{self.name} takes sweeps of {self.n_points} points, these have {x.shape[1]}, "
                                 "and it declares no resampling rule (metadata sov.resample)")
            from verifier.calib.data import to_width

            x, y = (np.ascontiguousarray(a, dtype=np.float32) for a in to_width(x, y, self.n_points))
        out = self._run({"x": x, "y": y}, x.shape[0])
        k = len(get(self.experiment).params)
        if out.shape[1] != k:
            raise UsageError(f"{self.name}: returned {out.shape[1]} parameters, experiment "
                             f"{self.experiment} has {k}")
        return out

    def estimate_data(self, data):
        from verifier.calib.metrics import FitOutcome

        t0 = time.perf_counter()
        est = self.estimate(data.x, data.y)
        return FitOutcome(est, {}, time.perf_counter() - t0)

    # -- cal.discriminator -----------------------------------------------------------------

    def scores(self, iq: np.ndarray) -> np.ndarray:
        if self.contract != "cal.discriminator":
            raise UsageError(f"{self.name} is a {self.contract}, not a cal.discriminator")
        iq = np.ascontiguousarray(iq, dtype=np.float32)
        if iq.ndim != 2 or iq.shape[1] != 2:
            raise UsageError(f"readout points must be [batch, 2] (I, Q), got {list(iq.shape)}")
        out = self._run({self.info.inputs[0].name: iq}, iq.shape[0])
        if out.shape[1] != 2:
            raise UsageError(f"{self.name}: returned {out.shape[1]} scores per shot, expected 2")
        return out

    def classify(self, iq: np.ndarray) -> np.ndarray:
        """Predicted state (argmax of the two scores) per shot."""
        return np.argmax(self.scores(iq), axis=1).astype(np.int64)

    def classify_data(self, data) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        R, M, _ = data.iq_test.shape
        pred = self.classify(data.iq_test.reshape(R * M, 2)).reshape(R, M)
        return pred, {}
