"""The errors sov raises on purpose, each carrying the exit code sov ends with.

Exit codes (the one table of them): 0 pass, 1 gate failed, 2 usage or input error (or a
resource limit such as a batch time-out), 3 inconclusive, 4 integrity failure (corrupt or
unsafe model, NaN outputs, hash mismatch).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    INCONCLUSIVE = 3
    INTEGRITY = 4


class SovError(Exception):
    """Base of every error sov reports to a user as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(SovError):
    """Bad flag, missing file, a model that does not fit the workload (exit 2)."""

    exit_code = ExitCode.USAGE


class IntegrityError(SovError):
    """Corrupt or unsafe model, NaN/Inf outputs, hash mismatch (exit 4)."""

    exit_code = ExitCode.INTEGRITY


class StoreError(SovError):
    """The DuckDB store cannot be opened or written (exit 2: an input problem)."""

    exit_code = ExitCode.USAGE


class ResourceLimit(SovError):
    """A limit of this machine or of sov's sandbox was hit (a batch or a load took longer
    than its time limit): not a verdict on the model (exit 2; the run's status is ``error``)."""

    exit_code = ExitCode.USAGE
