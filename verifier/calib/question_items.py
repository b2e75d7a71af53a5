"""The items of the question set (``verifier.calib.questions``), drawn from sweeps whose
truth sov knows.

- **Fault scenarios** (``verifier.calib.faults``): every selected label at every seed, sweep
  length (:data:`N_POINTS`) and unit (:data:`UNITS`). Each sweep gives a ``status`` and a
  ``diagnosis`` item (plot without a fit), a ``fit_reliable`` item with sov's reference fit
  drawn and, for a healthy sweep, a second one with a deliberately wrong fit (every
  parameter times :data:`WRONG_FACTORS`, alternating), and for a healthy sweep a
  ``parameter`` item.
- **Simulated healthy qubits** (``verifier.calib.simulator``) of :data:`SIMULATED` when the
  ``healthy`` label is selected: one qubit per seed and experiment, the same four types
  (scenario ``healthy``), so that the healthy answers are not all about one Rabi sweep.

A drawn fit is the experiment's curve family at the drawn parameters, its linear
coefficients (offset, amplitude) solved by least squares on the data (:func:`fit_curve`).
The reference fits come in as ``fits`` (experiment -> ``estimate(x, y, ctx)``; the CLI
passes sov-reference's): the library never imports them.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.questions import (DIAGNOSIS_CHOICES, FIT_CHOICES, HEALTHY_LIKE, STATUS_CHOICES, STATUS_OF_LABEL,
                                      FitCurve, Item, Prompt, question_text, within)

N_POINTS = (25, 51, 101)
UNITS = ("probability", "au")
WRONG_FACTORS = (1.4, 0.65)
SIMULATED = ("rabi_amplitude", "rabi_length", "t1", "ramsey", "spin_echo")
CURVE_POINTS = 200

Fits = Mapping[str, Callable[[np.ndarray, np.ndarray, dict], list]]


def _basis(experiment: str, x: np.ndarray, p: dict[str, float]) -> np.ndarray:
    one = np.ones_like(x)
    if experiment in ("rabi_amplitude", "rabi_length"):
        return np.stack([one, np.cos(np.pi * x / next(iter(p.values())))], 1)
    if experiment in ("t1", "spin_echo"):
        return np.stack([one, np.exp(-x / next(iter(p.values())))], 1)
    if experiment == "ramsey":
        env = np.exp(-x / p["t2_star_ns"])
        w = 2 * np.pi * p["detuning_hz"] * 1e-9
        return np.stack([one, env * np.cos(w * x), env * np.sin(w * x)], 1)
    raise ValueError(f"no fit curve for {experiment}")


def fit_curve(experiment: str, x, y, params: dict[str, float]) -> FitCurve | None:
    """The curve of ``params`` over the sweep, offset and amplitude fitted to the data."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not all(np.isfinite(v) and v != 0 for v in params.values()):
        return None
    coef, *_ = np.linalg.lstsq(_basis(experiment, x, params), y, rcond=None)
    xs = np.linspace(x.min(), x.max(), CURVE_POINTS)
    ys = _basis(experiment, xs, params) @ coef
    return FitCurve(tuple(map(float, xs)), tuple(map(float, ys)), {k: float(v) for k, v in params.items()})


def reference_params(fits: Fits, experiment: str, x, y) -> dict[str, float] | None:
    """sov-reference's parameters of one sweep (None when its fit fails)."""
    names = get_experiment(experiment).param_names
    try:
        v = np.asarray(fits[experiment](np.asarray(x, float), np.asarray(y, float), {}), float)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError, RuntimeError):
        return None
    return dict(zip(names, map(float, v))) if v.size == len(names) and np.all(np.isfinite(v)) else None


def y_label(units: str) -> str:
    return "the excited-state probability" if units == "probability" else "the readout signal in arbitrary units"


def plot_of(experiment: str, units: str) -> str:
    """What the plot shows, in the sweep's units (a signal in arbitrary units is no probability)."""
    plot = get_experiment(experiment).plot
    return plot if units == "probability" else plot.replace("excited-state probability", "readout signal")


def prompt_for(qtype: str, experiment: str, x, y, units: str, nshots, fit: FitCurve | None = None) -> Prompt:
    exp = get_experiment(experiment)
    choices = {"status": STATUS_CHOICES, "diagnosis": DIAGNOSIS_CHOICES, "fit_reliable": FIT_CHOICES}.get(qtype, {})
    params = tuple((p.name, p.question) for p in exp.params) if qtype == "parameter" else ()
    return Prompt(qtype, experiment, tuple(map(float, x)), tuple(map(float, y)), units,
                  question_text(qtype, plot_of(experiment, units), y_label(units), exp.x_unit, params),
                  qtype if choices else "", tuple(choices), tuple(n for n, _ in params), nshots, fit)


def sweep_items(base: str, label: str, source: str, experiment: str, x, y, units: str, nshots,
                truth: dict[str, float], fits: Fits, *, wrong: float) -> tuple[list[Item], list[str]]:
    """The items of one sweep (see the module's docstring); notes say what was left out."""
    healthy = label in HEALTHY_LIKE
    known = {k: v for k, v in truth.items() if np.isfinite(v)}
    items = [Item(f"{base}/status", label, source, prompt_for("status", experiment, x, y, units, nshots),
                  STATUS_OF_LABEL[label]),
             Item(f"{base}/diagnosis", label, source, prompt_for("diagnosis", experiment, x, y, units, nshots), label)]
    notes = []
    drawn = []
    ref = reference_params(fits, experiment, x, y)
    if ref is None:
        notes.append(f"{base}: the reference fit failed: no fit_reliable item with it drawn")
    else:
        drawn.append(("reference", ref))
    if healthy and ref is not None:
        drawn.append(("wrong", {k: v * wrong for k, v in ref.items()}))
    for kind, params in drawn:
        curve = fit_curve(experiment, x, y, params)
        if curve is None:
            notes.append(f"{base}: no curve for the {kind} fit {params}")
            continue
        good = healthy and len(known) == len(params) and all(within(params[k], t) for k, t in known.items())
        items.append(Item(f"{base}/fit_reliable/{kind}", label, source,
                          prompt_for("fit_reliable", experiment, x, y, units, nshots, curve),
                          "yes" if good else "no", {"drawn": kind, "drawn_params": params}))
    if healthy and len(known) == len(get_experiment(experiment).params):
        items.append(Item(f"{base}/parameter", label, source, prompt_for("parameter", experiment, x, y, units, nshots),
                          known))
    return items, notes


def fault_items(labels, seeds, fits: Fits, *, n_points=N_POINTS, units=UNITS) -> tuple[list[Item], list[str]]:
    from verifier.calib.faults import fault_sweep

    items: list[Item] = []
    notes: list[str] = []
    k = 0
    for label in labels:
        for seed in seeds:
            for n in n_points:
                for unit in units:
                    f = fault_sweep(label, n_points=n, units=unit, seed=seed)
                    name = get_experiment(f.experiment).param_names[0]
                    it, no = sweep_items(f"{label}/{f.experiment}/n{n}/{unit}/s{seed}", label, f"fault:{label}",
                                         f.experiment, f.x, f.y, unit, f.nshots, {name: f.truth}, fits,
                                         wrong=WRONG_FACTORS[k % 2])
                    items += it
                    notes += no
                    k += 1
    return items, notes


def simulated_items(experiments, seed: int, repeats: int, fits: Fits) -> tuple[list[Item], list[str]]:
    from verifier.calib.simulator import simulate

    items: list[Item] = []
    notes: list[str] = []
    for exp in experiments:
        data = simulate(exp, repeats, seed=seed)
        names = get_experiment(exp).param_names
        for i in range(repeats):
            it, no = sweep_items(f"healthy/{exp}/simulated/s{seed}-{i}", "healthy", f"simulated:{exp}", exp,
                                 data.x[i], data.y[i], "probability", data.nshots,
                                 dict(zip(names, map(float, data.truth[i]))), fits, wrong=WRONG_FACTORS[i % 2])
            items += it
            notes += no
    return items, notes


def build_items(labels, fits: Fits, *, seed: int = 0, repeats: int = 2, n_points=N_POINTS, units=UNITS,
                simulated=SIMULATED) -> tuple[list[Item], list[str]]:
    """Every item of the selected fault labels at seeds ``seed .. seed + repeats - 1`` (and
    the simulated healthy qubits when ``healthy`` is selected)."""
    from verifier.calib.faults import SCENARIOS
    from verifier.errors import UsageError

    labels = list(SCENARIOS) if "all" in labels else list(dict.fromkeys(labels))
    for label in labels:
        if label not in SCENARIOS:
            raise UsageError(f"unknown fault scenario {label!r}; scenarios are: all, {', '.join(SCENARIOS)}")
    if repeats < 1:
        raise UsageError("--repeats must be >= 1")
    items, notes = fault_items(labels, range(seed, seed + repeats), fits, n_points=n_points, units=units)
    if "healthy" in labels and simulated:
        more, no = simulated_items(simulated, seed, repeats, fits)
        items += more
        notes += no
    return items, notes
