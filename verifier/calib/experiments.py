"""The experiment registry: names, returned parameters (in the order of the ``cal.fit``
contract in CONTRACTS.md), units, the sweep each experiment uses and the documented
ranges the simulator draws the truth from.

Units are Qibocal's: frequencies in Hz, times in ns, amplitudes in arbitrary units.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.errors import UsageError


@dataclass(frozen=True)
class Param:
    name: str
    unit: str
    # "truth": relative error = |est - truth| / |truth|.  "linewidth": for absolute
    # frequencies, whose error relative to ~6 GHz says nothing, the normalized error is
    # |est - truth| / line half-width (rel_error is still reported as well).
    scale: str = "truth"


@dataclass(frozen=True)
class Experiment:
    name: str
    params: tuple[Param, ...]
    x_unit: str
    y_meaning: str
    n_points: int
    sweep: str  # human description of the sweep
    truth_ranges: tuple[tuple[str, str], ...]  # (quantity, documented range)
    qibocal_operation: str
    kind: str = "fit"  # fit | readout

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind,
                "params": [{"name": p.name, "unit": p.unit, "scale": p.scale} for p in self.params],
                "x_unit": self.x_unit, "y": self.y_meaning, "n_points": self.n_points,
                "sweep": self.sweep, "truth_ranges": dict(self.truth_ranges),
                "qibocal_operation": self.qibocal_operation}


READOUT_ERRORS = (("P(1|0) readout error", "1 % .. 5 %"), ("P(0|1) readout error", "2 % .. 8 %"))

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [
    Experiment(
        "resonator_spectroscopy", (Param("frequency_hz", "Hz", "linewidth"),), "Hz",
        "normalized transmitted magnitude |S21| (resonance is a dip)", 121,
        "121 points, 100 kHz apart, centred on a prior estimate that is off by up to +-2 MHz",
        (("resonator frequency", "5.8 .. 7.8 GHz"), ("half-width kappa", "0.3 .. 1.2 MHz"),
         ("dip depth", "0.4 .. 0.8"), ("background slope", "+-2 % over the sweep"),
         ("IQ noise per point", "0.5 / sqrt(shots) of the off-resonance level")),
        "resonator_spectroscopy"),
    Experiment(
        "qubit_spectroscopy", (Param("frequency_hz", "Hz", "linewidth"),), "Hz",
        "excited-state probability", 121,
        "121 points, 100 kHz apart, centred on a prior estimate that is off by up to +-2.5 MHz",
        (("qubit frequency", "4.0 .. 6.0 GHz"), ("half-width gamma", "0.3 .. 1.0 MHz"),
         ("peak excited population", "0.35 .. 0.5"), *READOUT_ERRORS),
        "qubit_spectroscopy"),
    Experiment(
        "rabi_amplitude", (Param("pi_pulse_amplitude", "a.u."),), "a.u.",
        "excited-state probability", 50, "amplitude 0 .. 0.98 in steps of 0.02 (np.arange(0, 1, 0.02))",
        (("pi-pulse amplitude", "0.12 .. 0.45"), ("pulse duration", "40 ns"), *READOUT_ERRORS),
        "rabi_amplitude"),
    Experiment(
        "rabi_length", (Param("pi_pulse_duration_ns", "ns"),), "ns",
        "excited-state probability", 50, "duration 4 .. 200 ns in steps of 4 ns",
        (("pi-pulse duration", "20 .. 100 ns"), ("Rabi decay time", "2 .. 10 us"), *READOUT_ERRORS),
        "rabi_length"),
    Experiment(
        "t1", (Param("t1_ns", "ns"),), "ns", "excited-state probability", 50,
        "wait 16 ns .. 5 x prior T1 (50 points); the prior is the truth x U(0.7, 1.4)",
        (("T1", "10 .. 80 us"), ("pi-pulse error (excited population at t=0)", "0.97 .. 1.0"),
         *READOUT_ERRORS),
        "t1"),
    Experiment(
        "ramsey", (Param("detuning_hz", "Hz"), Param("t2_star_ns", "ns")), "ns",
        "excited-state probability", 101,
        "wait 0 .. 3 x prior T2* (101 points); programmed detuning gives 5 .. 9 fringes over the sweep",
        (("T2*", "5 .. 40 us"), ("detuning_hz = fringe frequency = programmed detuning + drive error",
                                 "drive error up to +-15 % of the programmed detuning"),
         ("qubit frequency", "4.0 .. 6.0 GHz"), *READOUT_ERRORS),
        "ramsey"),
    Experiment(
        "spin_echo", (Param("t2_ns", "ns"),), "ns", "excited-state probability", 50,
        "total echo time 40 ns .. 4 x prior T2 (50 points); the prior is the truth x U(0.7, 1.4)",
        (("T2 (echo)", "20 .. 120 us"), *READOUT_ERRORS),
        "spin_echo"),
    Experiment(
        "readout", (Param("assignment_fidelity", "1"),), "I", "single-shot (I, Q) of prepared |0> and |1>", 2,
        "2000 shots per prepared state; the first half of each trains the discriminator, the second half scores it",
        (("|0> -> |1> direction", "0.6 rad +- 0.35 rad"), ("cloud separation / sigma (SNR)", "3 .. 6"),
         ("|0> centre jitter", "0.05 x separation"), ("thermal population of |0>", "0.5 % .. 4 %"),
         ("relaxation during readout of |1>", "1 % .. 6 %, landing uniformly between the clouds")),
        "single_shot_classification", kind="readout"),
]}

FIT_EXPERIMENTS = tuple(n for n, e in EXPERIMENTS.items() if e.kind == "fit")


def experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise UsageError(f"unknown experiment {name!r}; experiments are: {', '.join(EXPERIMENTS)}") from None
