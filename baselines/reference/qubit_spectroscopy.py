"""sov-reference for qubit_spectroscopy: the centre of a Lorentzian line, peak (excited
population) or dip (ground population, or a signal that falls on resonance)."""

from baselines.reference.fitting import lorentz_centre


def estimate(x, y, ctx):
    return [lorentz_centre(x, y)]
