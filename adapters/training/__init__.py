"""Training of reference ``qec.predecoder.grid`` models (needs ``pip install -e '.[train]'``).

:mod:`adapters.training.labels` (stim + numpy, no torch) maps stim's fault mechanisms onto
the grid's output channels; :mod:`adapters.training.train_grid` trains and exports a model;
:mod:`adapters.training.scorecard` measures a model against PyMatching with sov itself.
"""
