"""sov-reference for resonator_spectroscopy: the centre of a Lorentzian dip."""

from baselines.reference.fitting import lorentz_centre


def estimate(x, y, ctx):
    return [lorentz_centre(x, y, dip=True)]
