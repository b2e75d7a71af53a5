"""sov's readout in Qibocal's ``single_shot_classification`` protocol (classifier
``qubit_fit``; training and scoring are in ``baselines.qibocal_fits.QibocalReadout``)."""

from __future__ import annotations

MODULE = "classification.classification"
OPERATION = "single_shot_classification"
