"""Procurement comparisons: several decoders on the same grid of workloads.

:func:`run_compare` replays every decoder over every workload of a grid
(:class:`verifier.qec.grid.SweepSpec`, the grid and seed rule of ``sov qec sweep``),
reusing whatever the store already holds, then builds one JSON-able *payload* with every
figure a report needs:

- per task: shots, errors, LER with its 95 % Clopper-Pearson interval, per-round LER,
  throughput, latency quantiles per round (``run.py``, ``details.py``);
- per candidate and workload: exact McNemar test against the baseline on the *same
  shots* (per-shot failures read back from the store), and the same test pooled over
  workloads (``paired.py``);
- per decoder: a summary row (ranking by the geometric mean of the LER ratio to the
  baseline), threshold and Lambda where the grid allows (``payload.py``, ``fits.py``);
- the models, the workloads (ids and the ``sov qec run`` command that regenerates each),
  the environment, and any verdicts recorded in the store for these models
  (``details.py``, ``recorded.py``); calibration models (``calibration.py``).

The payload is stored in the run's summary, so ``sov report`` re-renders it without
running anything (``recorded.load_payload``). Renderers live in ``reports/`` and read only
the payload.
"""

from verifier.workflows.compare.calibration import CAL_BASELINES, calibration_only_payload, calibration_section
from verifier.workflows.compare.details import LATENCY_SHOTS, environment
from verifier.workflows.compare.paired import ALPHA, mcnemar_exact, paired_test
from verifier.workflows.compare.payload import PAYLOAD_SCHEMA, summarize
from verifier.workflows.compare.recorded import find_verdicts, load_payload
from verifier.workflows.compare.request import (ComparePlan, CompareResult, compare_plan, policy_config,
                                                run_comparison)
from verifier.workflows.compare.run import Candidate, run_compare

__all__ = ["ALPHA", "CAL_BASELINES", "Candidate", "ComparePlan", "CompareResult", "LATENCY_SHOTS",
           "PAYLOAD_SCHEMA", "calibration_only_payload", "calibration_section", "compare_plan", "environment",
           "find_verdicts", "load_payload", "mcnemar_exact", "paired_test", "policy_config",
           "run_comparison", "run_compare", "summarize"]
