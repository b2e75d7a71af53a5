"""Ground-truth simulator of one transmon: every calibration experiment with known truth.

Truth is drawn per repeat from the documented ranges (``experiments.EXPERIMENTS``), so a
model cannot win by memorizing one qubit. Shot noise is binomial in the number of shots
per sweep point; readout errors P(1|0) and P(0|1) map the true excited population to the
measured one. Everything is vectorized over repeats and seeded: each random stream
(truth, noise, readout shots) comes from its own generator keyed by (seed, experiment,
stream) and is drawn in one call of shape [repeats, ...], so the first k repeats are the
same whatever the total number of repeats.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verifier.calib.experiments import EXPERIMENTS, experiment

SIMULATOR_VERSION = "1"
DEFAULT_SHOTS = {"readout": 2000}
DEFAULT_SHOTS_FIT = 1000


def default_shots(name: str) -> int:
    return DEFAULT_SHOTS.get(name, DEFAULT_SHOTS_FIT)


@dataclass(frozen=True)
class CalWorkload:
    """A calibration workload: experiment, repeats, shots per point, seed."""

    experiment: str
    repeats: int
    seed: int
    shots: int

    kind = "calibration"

    def spec(self) -> dict[str, Any]:
        return {"kind": "calibration", "experiment": self.experiment, "repeats": self.repeats,
                "seed": self.seed, "shots": self.shots, "simulator": SIMULATOR_VERSION}

    @property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True).encode()).hexdigest()

    @property
    def stream_id(self) -> str:
        return self.id

    def describe(self) -> str:
        return (f"{self.experiment}: {self.repeats} simulated qubits, {self.shots} shots"
                f"{' per state' if self.experiment == 'readout' else ' per point'}, seed {self.seed}")


@dataclass(frozen=True, eq=False)
class FitData:
    """What a ``cal.fit`` model sees (x, y) plus the truth and the context a Qibocal Data
    object needs (pulse durations, drive frequency, programmed detuning, ...)."""

    experiment: str
    x: np.ndarray  # [R, n] float64
    y: np.ndarray  # [R, n] float64
    nshots: int
    truth: np.ndarray | None = None  # [R, k] in contract order; None for recorded data
    context: dict[str, np.ndarray] = field(default_factory=dict)  # per-repeat values [R]

    @property
    def repeats(self) -> int:
        return self.x.shape[0]

    def row(self, i: int) -> dict[str, float]:
        return {k: float(v[i]) for k, v in self.context.items()}


@dataclass(frozen=True, eq=False)
class ReadoutData:
    """Single shots of prepared |0> and |1>: a training half and a test half per repeat."""

    iq_train: np.ndarray  # [R, Ntr, 2]
    state_train: np.ndarray  # [R, Ntr] prepared state
    iq_test: np.ndarray  # [R, Nte, 2]
    state_test: np.ndarray  # [R, Nte]
    nshots: int  # per prepared state
    context: dict[str, np.ndarray] = field(default_factory=dict)
    experiment: str = "readout"

    @property
    def repeats(self) -> int:
        return self.iq_train.shape[0]


def _rng(seed: int, name: str, stream: int) -> np.random.Generator:
    idx = list(EXPERIMENTS).index(name)
    return np.random.default_rng([int(seed), idx, stream])


def _span(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return lo + (hi - lo) * u


def _readout_map(p: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e0 = _span(u[:, 0], 0.01, 0.05)
    e1 = _span(u[:, 1], 0.02, 0.08)
    return e0[:, None] + (1 - e0 - e1)[:, None] * p, e0, e1


def simulate(name: str, repeats: int, *, seed: int = 0, shots: int | None = None):
    """Simulate ``repeats`` independent qubits running experiment ``name``.

    Returns :class:`FitData` for the fit experiments, :class:`ReadoutData` for ``readout``."""
    exp = experiment(name)
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    n_shots = int(shots or default_shots(name))
    if exp.kind == "readout":
        return _readout(repeats, seed, n_shots)
    u = _rng(seed, name, 0).random((repeats, 8))  # truth and prior, one row per repeat
    noise = _rng(seed, name, 1)
    R, n = repeats, exp.n_points
    ctx: dict[str, np.ndarray] = {}

    if name == "resonator_spectroscopy":
        f0 = np.round(_span(u[:, 0], 5.8e9, 7.8e9), -3)
        kappa = _span(u[:, 1], 0.3e6, 1.2e6)
        depth = _span(u[:, 2], 0.4, 0.8)
        center = np.round(f0 + _span(u[:, 3], -2e6, 2e6), -5)
        slope = _span(u[:, 4], -0.02, 0.02)
        x = center[:, None] + (np.arange(n) - n // 2)[None, :] * 1e5
        d = x - f0[:, None]
        s21 = 1 - depth[:, None] * kappa[:, None] / (kappa[:, None] + 1j * d)
        s21 = s21 * (1 + slope[:, None] * (x - center[:, None]) / (x[:, -1:] - x[:, :1]))
        sigma = 0.5 / np.sqrt(n_shots)
        s21 = s21 + sigma * (noise.standard_normal((R, n)) + 1j * noise.standard_normal((R, n)))
        y = np.abs(s21)
        ctx.update(linewidth_hz=kappa, phase_scale=np.ones(R))
        ctx["_phase"] = np.angle(s21)  # [R, n]: Qibocal's data records the phase too
        truth = f0[:, None]
    elif name == "qubit_spectroscopy":
        fq = np.round(_span(u[:, 0], 4.0e9, 6.0e9), -3)
        gamma = _span(u[:, 1], 0.3e6, 1.0e6)
        amp = _span(u[:, 2], 0.35, 0.5)
        center = np.round(fq + _span(u[:, 3], -2.5e6, 2.5e6), -5)
        x = center[:, None] + (np.arange(n) - n // 2)[None, :] * 1e5
        p = amp[:, None] * gamma[:, None] ** 2 / ((x - fq[:, None]) ** 2 + gamma[:, None] ** 2)
        pm, e0, e1 = _readout_map(p, u[:, 6:8])
        y = noise.binomial(n_shots, pm) / n_shots
        ctx.update(linewidth_hz=gamma, readout_p10=e0, readout_p01=e1)
        truth = fq[:, None]
    elif name == "rabi_amplitude":
        a_pi = _span(u[:, 0], 0.12, 0.45)
        x = np.tile(np.round(np.arange(0.0, 1.0, 0.02), 10), (R, 1))
        p = 0.5 * (1 - np.cos(np.pi * x / a_pi[:, None]))
        pm, e0, e1 = _readout_map(p, u[:, 6:8])
        y = noise.binomial(n_shots, pm) / n_shots
        ctx.update(pulse_duration_ns=np.full(R, 40.0), readout_p10=e0, readout_p01=e1)
        truth = a_pi[:, None]
    elif name == "rabi_length":
        t_pi = _span(u[:, 0], 20.0, 100.0)
        t_r = _span(u[:, 1], 2e3, 10e3)
        x = np.tile(np.arange(4.0, 201.0, 4.0), (R, 1))
        p = 0.5 * (1 - np.cos(np.pi * x / t_pi[:, None]) * np.exp(-x / t_r[:, None]))
        pm, e0, e1 = _readout_map(p, u[:, 6:8])
        y = noise.binomial(n_shots, pm) / n_shots
        ctx.update(pulse_amplitude=np.full(R, 0.5), readout_p10=e0, readout_p01=e1)
        truth = t_pi[:, None]
    elif name == "t1":
        t1 = _span(u[:, 0], 10e3, 80e3)
        prior = t1 * _span(u[:, 1], 0.7, 1.4)
        p0 = _span(u[:, 2], 0.97, 1.0)
        x = np.round(16 + np.linspace(0, 1, n)[None, :] * (5 * prior[:, None] - 16))
        p = p0[:, None] * np.exp(-x / t1[:, None])
        pm, e0, e1 = _readout_map(p, u[:, 6:8])
        y = noise.binomial(n_shots, pm) / n_shots
        ctx.update(readout_p10=e0, readout_p01=e1)
        truth = t1[:, None]
    elif name == "ramsey":
        t2s = _span(u[:, 0], 5e3, 40e3)
        prior = t2s * _span(u[:, 1], 0.7, 1.4)
        span = np.round(3 * prior / 100) * 100  # ns, a multiple of the 100 point steps
        step = span / (n - 1)
        x = np.arange(n)[None, :] * step[:, None]
        fringes = _span(u[:, 2], 5.0, 9.0)
        programmed = np.round(fringes / span * 1e9, -3)  # Hz
        drive_error = programmed * _span(u[:, 3], -0.15, 0.15)
        fq = np.round(_span(u[:, 4], 4.0e9, 6.0e9), -3)
        delta = programmed + drive_error  # fringe frequency, Hz
        p = 0.5 + 0.5 * np.cos(2 * np.pi * delta[:, None] * x * 1e-9) * np.exp(-x / t2s[:, None])
        pm, e0, e1 = _readout_map(p, u[:, 6:8])
        y = noise.binomial(n_shots, pm) / n_shots
        ctx.update(programmed_detuning_hz=programmed, drive_frequency_hz=fq + drive_error,
                   qubit_frequency_hz=fq, readout_p10=e0, readout_p01=e1)
        truth = np.stack([delta, t2s], axis=1)
    elif name == "spin_echo":
        t2 = _span(u[:, 0], 20e3, 120e3)
        prior = t2 * _span(u[:, 1], 0.7, 1.4)
        x = np.round(40 + np.linspace(0, 1, n)[None, :] * (4 * prior[:, None] - 40))
        p = 0.5 * (1 - np.exp(-x / t2[:, None]))
        pm, e0, e1 = _readout_map(p, u[:, 6:8])
        y = noise.binomial(n_shots, pm) / n_shots
        ctx.update(readout_p10=e0, readout_p01=e1)
        truth = t2[:, None]
    else:  # pragma: no cover - registry and simulator agree
        raise AssertionError(name)
    return FitData(name, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                   n_shots, np.asarray(truth, dtype=np.float64), ctx)


READOUT_ANGLE = 0.6
READOUT_SEPARATION = 1.0


def _readout(R: int, seed: int, n_shots: int) -> ReadoutData:
    u = _rng(seed, "readout", 0).random((R, 8))
    rng = _rng(seed, "readout", 1)
    theta = READOUT_ANGLE + _span(u[:, 0], -0.35, 0.35)
    snr = _span(u[:, 1], 3.0, 6.0)
    sigma = READOUT_SEPARATION / snr
    c0 = np.stack([_span(u[:, 2], -0.05, 0.05), _span(u[:, 3], -0.05, 0.05)], axis=1)
    c1 = c0 + READOUT_SEPARATION * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    p_th = _span(u[:, 4], 0.005, 0.04)
    p_dec = _span(u[:, 5], 0.01, 0.06)
    S = n_shots
    prepared = np.concatenate([np.zeros(S, np.int64), np.ones(S, np.int64)])
    draws = rng.random((R, 2 * S, 2))
    gauss = rng.standard_normal((R, 2 * S, 2))
    # the state the qubit is really in at readout: thermal |1> among prepared |0>;
    # prepared |1> relaxes during readout with probability p_dec, landing at a uniformly
    # random point between the clouds
    flip0 = (prepared[None, :] == 0) & (draws[..., 0] < p_th[:, None])
    decay = (prepared[None, :] == 1) & (draws[..., 0] < p_dec[:, None])
    frac = np.where(prepared[None, :] == 1, 1.0, 0.0)
    frac = np.where(flip0, 1.0, frac)
    frac = np.where(decay, draws[..., 1], frac)  # fraction of the way to |1>'s centre
    centres = c0[:, None, :] + frac[..., None] * (c1 - c0)[:, None, :]
    iq = centres + sigma[:, None, None] * gauss
    half = S // 2
    idx = np.arange(2 * S) % S
    train = idx < half
    ctx = {"angle_rad": theta, "snr": snr, "thermal_population": p_th, "relaxation_in_readout": p_dec,
           "c0_i": c0[:, 0], "c0_q": c0[:, 1], "c1_i": c1[:, 0], "c1_q": c1[:, 1]}
    return ReadoutData(iq[:, train], np.tile(prepared[train], (R, 1)), iq[:, ~train],
                       np.tile(prepared[~train], (R, 1)), S, ctx)


def truth_threshold_fidelity(data: ReadoutData) -> np.ndarray:
    """Assignment fidelity of the truth-informed discriminator (projection on the true
    |0>-|1> axis, threshold halfway): a reference for what a discriminator can reach."""
    c0 = np.stack([data.context["c0_i"], data.context["c0_q"]], axis=1)
    c1 = np.stack([data.context["c1_i"], data.context["c1_q"]], axis=1)
    axis = (c1 - c0) / np.linalg.norm(c1 - c0, axis=1, keepdims=True)
    proj = np.einsum("rnk,rk->rn", data.iq_test - (c0 + c1)[:, None, :] / 2, axis)
    return assignment_fidelity((proj > 0).astype(np.int64), data.state_test)


def assignment_fidelity(pred: np.ndarray, prepared: np.ndarray) -> np.ndarray:
    """1 - (P(1|0) + P(0|1)) / 2 per repeat; ``pred`` and ``prepared`` are [R, N]."""
    pred = np.asarray(pred)
    prepared = np.asarray(prepared)
    z = prepared == 0
    o = prepared == 1
    p10 = ((pred == 1) & z).sum(axis=-1) / np.maximum(z.sum(axis=-1), 1)
    p01 = ((pred == 0) & o).sum(axis=-1) / np.maximum(o.sum(axis=-1), 1)
    return 1 - (p10 + p01) / 2
