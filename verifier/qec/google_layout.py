"""Google Quantum AI's experiment folders, as published for its surface-code experiments.

One folder per experiment. Sycamore's (2022): ``properties.yml``, ``circuit_ideal.stim``
(noiseless, with the detectors and the observable), ``circuit_noisy.stim``,
``circuit_detector_error_model.dem`` and fitted ``pij_from_*.dem``, ``detection_events.b8``,
``obs_flips_actual.01`` and ``obs_flips_predicted_by_<decoder>.01``. Willow's (2024):
``metadata.json``, ``circuit_ideal.stim``, ``circuit_noisy_si1000.stim``,
``detection_events.b8``, ``obs_flips_actual.b8`` and one ``decoding_results/<pathway>/``
per decoding pathway with its ``error_model.dem`` and ``obs_flips_predicted.b8``.
A folder above the experiments holds one subfolder per experiment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verifier.errors import UsageError

DETS_NAMES = ("detection_events.b8", "detection_events.01", "detection_events.dets")
OBS_NAMES = ("obs_flips_actual.01", "obs_flips_actual.b8", "obs_flips_actual.dets")
PROPERTY_FILES = ("properties.yml", "metadata.json")
IDEAL_CIRCUIT = "circuit_ideal.stim"
# Sycamore's own PyMatching predictions were made with this one; the pij_* models are each
# fitted on one half of the shots for decoding the other half
PREFERRED_DEM = "circuit_detector_error_model"
DEM_SUFFIXES = (".dem", ".dem.gz")
PREDICTION_SUFFIXES = (".01", ".b8")
RESULTS = "decoding_results"


def is_experiment(root: Path) -> bool:
    return any((root / n).is_file() for n in DETS_NAMES + OBS_NAMES) or \
        (any((root / n).is_file() for n in PROPERTY_FILES) and (root / IDEAL_CIRCUIT).is_file())


def experiments_below(root: Path, limit: int = 2000) -> list[Path]:
    """Experiment folders under ``root`` (for a folder that holds many)."""
    found = []
    for p in sorted(root.rglob("detection_events.*")):
        if p.name in DETS_NAMES:
            found.append(p.parent)
            if len(found) >= limit:
                break
    return found


def _dem_label(root: Path, path: Path) -> str:
    rel = path.relative_to(root)
    if rel.parts[0] == RESULTS and len(rel.parts) >= 3:
        return "/".join(rel.parts[1:-1])  # the pathway
    name = path.name
    for s in DEM_SUFFIXES:
        name = name.removesuffix(s)
    return name


def dem_choices(root: Path) -> dict[str, Path]:
    """Every detector error model the folder ships, by label: the file's stem at the top,
    the pathway under ``decoding_results/``."""
    files = [p for s in DEM_SUFFIXES for p in root.glob(f"*{s}")]
    if (root / RESULTS).is_dir():
        files += [p for s in DEM_SUFFIXES for p in (root / RESULTS).rglob(f"*{s}")]
    out: dict[str, Path] = {}
    for p in sorted(set(files)):
        if p.is_file():
            out.setdefault(_dem_label(root, p), p)
    return out


def pick_dem(root: Path, choices: dict[str, Path], wanted: str | Path | None,
             flag: str = "--dem") -> tuple[Path | None, str | None]:
    """The DEM to use and a note saying why; ``wanted`` is a label, a path relative to the
    folder, or a file of its own (which wins over what the folder ships)."""
    if wanted is not None:
        key = str(wanted)
        if key in choices:
            return choices[key], f"DEM {key} (picked with {flag})"
        for label, p in choices.items():
            if p == (root / key) or p.resolve() == Path(key).resolve():
                return p, f"DEM {label} (picked with {flag})"
        if Path(key).is_file():
            return Path(key), f"DEM {key} given with {flag}, not one the folder ships"
        raise UsageError(f"{flag} {key}: not a file, nor one of the DEMs {root} ships "
                         f"({', '.join(choices) or 'none'})")
    if not choices:
        return None, None
    if len(choices) == 1:
        (label, p), = choices.items()
        return p, None
    if PREFERRED_DEM in choices:
        others = ", ".join(c for c in choices if c != PREFERRED_DEM)
        return choices[PREFERRED_DEM], f"DEM {PREFERRED_DEM} of {len(choices)} (also shipped: {others}; pick another with {flag})"
    raise UsageError(f"{root} ships {len(choices)} detector error models ({', '.join(choices)}): pick one "
                     f"with {flag} NAME")


def predictions(root: Path) -> dict[str, Path]:
    """Shipped predictions by decoder label: ``obs_flips_predicted_by_<label>.*`` and
    ``decoding_results/<pathway>/obs_flips_predicted.*``."""
    out: dict[str, Path] = {}
    for s in PREDICTION_SUFFIXES:
        for p in sorted(root.glob(f"obs_flips_predicted_by_*{s}")):
            out.setdefault(p.name.removeprefix("obs_flips_predicted_by_").removesuffix(s), p)
        if (root / RESULTS).is_dir():
            for p in sorted((root / RESULTS).rglob(f"obs_flips_predicted{s}")):
                out.setdefault("/".join(p.relative_to(root / RESULTS).parts[:-1]), p)
    return out


def properties(root: Path) -> tuple[dict[str, Any], str | None]:
    """``properties.yml`` (Sycamore) or ``metadata.json`` (Willow), normalized to sov's
    names (distance, rounds, basis, shots, num_detectors, num_observables)."""
    for name in PROPERTY_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".yml"):
                import yaml

                raw = yaml.safe_load(path.read_text())
            else:
                raw = json.loads(path.read_text())
        except Exception as e:  # yaml and json raise their own error types on bad text
            raise UsageError(f"{path}: cannot be read ({type(e).__name__})") from None
        if not isinstance(raw, dict):
            raise UsageError(f"{path}: not a mapping of properties")
        return _normalized(raw, path), name
    return {}, None


_NAMES = {"distance": "distance", "rounds": "rounds", "basis": "basis", "shots": "shots",
          "circuit_detectors": "num_detectors", "circuit_observables": "num_observables"}


def _normalized(raw: dict, path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in _NAMES.items():
        if key not in raw:
            continue
        if name == "basis":
            out[name] = str(raw[key]).lower()
            continue
        try:
            out[name] = int(raw[key])
        except (TypeError, ValueError):
            raise UsageError(f"{path}: {key}={raw[key]!r} is not an integer") from None
    return out


def first_present(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def noisy_circuits(root: Path) -> tuple[Path, ...]:
    return tuple(sorted(root.glob("circuit_noisy*.stim")))
