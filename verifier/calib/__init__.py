"""Calibration verification: a ground-truth single-transmon simulator, the experiment
registry of the ``cal.fit`` / ``cal.discriminator`` contracts, metrics against the truth,
runs recorded in the store, acceptance gates and drift signatures for calibration models.

Nothing here imports adapters/baselines at module level; qibocal, scipy and onnxruntime
are imported lazily by the functions that need them.
"""

from __future__ import annotations
