"""sov: a vendor-neutral verifier for the AI models of a quantum computer's control plane."""

from __future__ import annotations

__version__ = "0.1.0"
