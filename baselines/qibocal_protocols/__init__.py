"""Qibocal's protocols, one module per sov experiment: the protocol module, the runcard
operation, the Data keys of the sweep, how a sweep is registered in the protocol's Data
object (``build``), where the contract's parameters are in its Results (``params``) and
the traps of that protocol sov records as notes. A module gives ``RESULT`` (the Results
attribute holding its one parameter) or its own ``params(results, qubit)``."""

from __future__ import annotations

from types import ModuleType

from baselines.qibocal_protocols import (qubit_spectroscopy, rabi_amplitude, rabi_length, ramsey, readout,
                                         resonator_spectroscopy, spin_echo, t1)
from verifier.calib.folder import OPERATIONS  # runcard operation -> sov experiment (its one home)

__all__ = ["OPERATIONS", "PROTOCOLS"]

PROTOCOLS: dict[str, ModuleType] = {
    "resonator_spectroscopy": resonator_spectroscopy, "qubit_spectroscopy": qubit_spectroscopy,
    "rabi_amplitude": rabi_amplitude, "rabi_length": rabi_length, "t1": t1, "ramsey": ramsey,
    "spin_echo": spin_echo, "readout": readout}
