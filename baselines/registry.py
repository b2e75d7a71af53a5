"""The open baselines sov decodes with, by the name ``--decoder`` takes: the one registry.

Each entry names the module and class that implement it, so that resolving a name imports
only that baseline's library (``sov --help`` imports none). docs/baselines.md says what each
is, when it applies and what its fingerprint holds."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from verifier.errors import UsageError


@dataclass(frozen=True)
class Baseline:
    name: str
    module: str  # under baselines/
    cls: str
    package: str  # the distribution it needs (pip name)
    summary: str
    extra: str | None = None  # the optional extra that installs it, if it is not a dependency


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("pymatching", "pymatching_decoder", "PyMatchingDecoder", "pymatching",
             "minimum-weight perfect matching (MWPM) on the workload's DEM; graphlike DEMs only"),
    Baseline("pymatching-correlated", "pymatching_decoder", "PyMatchingDecoder", "pymatching",
             "PyMatching with correlated matching (enable_correlations=True); graphlike DEMs only"),
    Baseline("tesseract", "tesseract_decoder", "TesseractDecoder", "tesseract-decoder",
             "Tesseract: A* search for the most likely error (beam-limited); any DEM"),
    Baseline("bposd", "bposd_decoder", "BpOsdDecoder", "stimbposd",
             "belief propagation + ordered-statistics decoding (ldpc, via stimbposd); any DEM, "
             "made for qLDPC codes"),
    Baseline("chromobius", "chromobius_decoder", "ChromobiusDecoder", "chromobius",
             "Chromobius: mobius matching for color codes; needs color/basis annotations "
             "(4th detector coordinate)"),
    Baseline("belief-matching", "belief_matching_decoder", "BeliefMatchingDecoder", "beliefmatching",
             "belief-matching: BP on the full DEM reweights PyMatching's graph (graphlike "
             "decomposition needed)", extra="belief"),
)}


def baseline(name: str):
    """The Decoder of the baseline ``name`` (a key of :data:`BASELINES`, with options as
    ``NAME:KEY=VALUE,...``: ``baselines.options``). A baseline whose
    library is not installed is a usage error that says how to install it."""
    from verifier.environment import package_version

    entry = BASELINES[name.partition(":")[0]]
    if package_version(entry.package) is None:
        how = f"pip install 'sov-verifier[{entry.extra}]'" if entry.extra else f"pip install {entry.package}"
        raise UsageError(f"the baseline {name!r} needs the package {entry.package}, which is not "
                         f"installed here: {how}")
    return getattr(import_module(f"baselines.{entry.module}"), entry.cls).named(name)


def names() -> str:
    return ", ".join(BASELINES)
