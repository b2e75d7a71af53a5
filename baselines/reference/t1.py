"""sov-reference for t1: the time constant of the decay."""

from baselines.reference.fitting import decay_time


def estimate(x, y, ctx):
    return [decay_time(x, y)]
