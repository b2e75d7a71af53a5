"""Calibration verification: a ground-truth single-transmon simulator, one module per
experiment of the ``cal.fit`` / ``cal.discriminator`` contracts (``experiments``), metrics
against the truth, runs recorded in the store, acceptance gates and drift signatures for
calibration models.

The models (Qibocal, sov-reference, ONNX files, endpoints) come in as objects or are built
by the ``resolve`` factory the caller passes (the CLI's ``calibration_model_from_spec``):
nothing here imports adapters or baselines.
"""
