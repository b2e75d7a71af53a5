"""sov's ramsey in Qibocal's ``ramsey`` protocol (its probability/classification variant)."""

from __future__ import annotations

from baselines.qibocal_protocols.base import probability_sweep, value

MODULE = "ramsey.classification"
OPERATION = "ramsey"
XY = ("wait", "prob")
NOTES = ("called with the programmed detuning, so the sign of the frequency "
         "correction is right (detuning=None is wrong by 2|error| above the drive)",)


def build(m, qubit, x, y, err, ctx, phase):
    data = m.RamseyProbData(detuning=ctx.get("programmed_detuning_hz"),
                            qubit_freqs={qubit: ctx.get("drive_frequency_hz", 5e9)})
    return probability_sweep(data, m.RamseyProbType, qubit, XY, x, y, err)


def params(results, qubit):
    return ([abs(value(results.delta_fitting[qubit])), value(results.t2[qubit])],
            {"qubit_frequency_hz": value(results.frequency[qubit])})


def recorded_context(data, qubit) -> dict[str, float]:
    """The context of a recorded Ramsey: its programmed detuning and drive frequency."""
    ctx: dict[str, float] = {}
    if getattr(data, "detuning", None) is not None:
        ctx["programmed_detuning_hz"] = float(data.detuning)
    ctx["drive_frequency_hz"] = float(data.qubit_freqs.get(qubit, 5e9))
    return ctx
