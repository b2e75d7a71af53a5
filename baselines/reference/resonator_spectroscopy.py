"""sov-reference for resonator_spectroscopy: the centre of a Lorentzian line, a dip in
transmission (or a peak, as a reflection or notch-type measurement may show it)."""

from baselines.reference.fitting import lorentz_centre


def estimate(x, y, ctx):
    return [lorentz_centre(x, y)]
