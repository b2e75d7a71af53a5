"""``--dataset DIR``: a folder of shots as a vendor or a lab ships it, recognized by its
layout, with the files it used named (docs/datasets.md).

Three layouts:

- ``ising-bundle``: NVIDIA Ising-Decoding's test bundle (``verifier.qec.ising_bundle``): no
  circuit, the matching graph from its check matrix (:func:`ising_bundle_dem`);
- ``google``: a Google experiment folder (``verifier.qec.google_layout``): the noiseless
  circuit, the DEM the folder ships, its predictions files;
- ``stim-folder``: one ``*.stim`` circuit, at most one ``*.dem``, one detection-event file
  (``b8``, ``01`` or ``dets``) and its observables (a name with ``obs``, or appended in
  the ``dets`` file).

A folder none of them fits, or one that lacks a file its layout needs, is a UsageError
(exit 2) whose one line names the layout and what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import UsageError
from verifier.qec import google_layout as google
from verifier.qec import ising_bundle
from verifier.qec.ising_bundle import ising_bundle_dem
from verifier.qec.shotdata import count_records, format_from_suffix, observables_in_dets

__all__ = ["Dataset", "read_dataset", "ising_bundle_dem", "LAYOUTS"]

LAYOUTS = ("ising-bundle", "google", "stim-folder")
SHOT_SUFFIXES = (".b8", ".01", ".dets")


@dataclass(frozen=True)
class Dataset:
    layout: str                 # "ising-bundle" | "google" | "stim-folder"
    root: Path
    circuit: Path | None        # None for an Ising bundle (no circuit shipped)
    dem: Path | None            # a .dem/.dem.gz file; for an Ising bundle None (use ising_bundle_dem(root))
    dets: Path
    dets_format: str            # "b8" | "01" | "dets" | "ising-bin"
    obs: Path | None            # None when the observables are appended in dets
    obs_format: str | None
    predictions: dict[str, Path]  # label -> predictions file shipped in the folder
    used: tuple[str, ...]       # files used, relative to root, for the "which files it used" line
    properties: dict[str, Any]  # distance, rounds, basis, p, shots... when the folder says so
    dem_choices: dict[str, Path] = field(default_factory=dict)  # every DEM shipped, by label
    noisy_circuits: tuple[Path, ...] = ()  # noisy versions of the circuit, not used for decoding
    other: dict[str, Path] = field(default_factory=dict)  # further per-shot files (Ising's predecoder_outputs)
    notes: tuple[str, ...] = ()  # choices made for the user (which DEM of several, ...)

    @property
    def observables_appended(self) -> bool:
        return self.obs is None

    def describe(self) -> str:
        """The one line saying which layout and files were used."""
        words = {"ising-bundle": "Ising test bundle", "google": "Google experiment folder",
                 "stim-folder": "stim folder"}[self.layout]
        line = f"{words} {self.root}: {', '.join(self.used)}"
        return line + (f" ({'; '.join(self.notes)})" if self.notes else "")


def read_dataset(path: str | Path, *, dem: str | Path | None = None, dem_flag: str = "--dem") -> Dataset:
    """The dataset in folder ``path``. ``dem`` picks a DEM among several the folder ships
    (a label, a path relative to the folder, or a file of its own); ``dem_flag`` is the
    option that names it in messages."""
    root = Path(path)
    if not root.exists():
        raise UsageError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise UsageError(f"{root} is a file: --dataset takes a folder (give a shot file with --dets)")
    if any((root / m).is_file() for m in ising_bundle.MARKERS):
        if dem is not None:
            raise UsageError(f"{root} is an Ising test bundle: its DEM is its check matrix; "
                             f"{dem_flag} does not apply")
        return Dataset(layout="ising-bundle", root=root, **ising_bundle.bundle_parts(root))
    if google.is_experiment(root):
        return _google(root, dem, dem_flag)
    below = google.experiments_below(root)
    if below:
        names = ", ".join(str(p.relative_to(root)) for p in below[:3])
        raise UsageError(f"{root} holds {len(below)} Google experiment folder(s), not one: give one of "
                         f"them (e.g. {names}{', ...' if len(below) > 3 else ''})")
    if list(root.glob("*.stim")):
        return _stim_folder(root, dem, dem_flag)
    raise UsageError(f"{root}: not a dataset layout sov knows: no Ising bundle (H_csr.bin, "
                     "detectors.bin), no Google experiment (detection_events.b8, obs_flips_actual.01), "
                     "no stim folder (*.stim with its shot files)")


def _google(root: Path, wanted: str | Path | None, flag: str) -> Dataset:
    props, props_file = google.properties(root)
    dets = google.first_present(root, google.DETS_NAMES)
    obs = google.first_present(root, google.OBS_NAMES)
    noisy = google.noisy_circuits(root)
    choices = google.dem_choices(root)
    dem, note = google.pick_dem(root, choices, wanted, flag)
    notes = (note,) if note else ()
    circuit = (root / google.IDEAL_CIRCUIT) if (root / google.IDEAL_CIRCUIT).is_file() else None
    if len(noisy) == 1 and (dem is None or circuit is None):
        # same detectors and observable as the ideal circuit; without a shipped DEM its
        # noise gives one
        circuit = noisy[0]
        notes += (f"no DEM shipped: the DEM of {circuit.name}",) if dem is None else ()
    missing = [n for n, p in (("detection_events.b8", dets), ("obs_flips_actual.01", obs),
                              (google.IDEAL_CIRCUIT, circuit)) if p is None]
    if dem is None and circuit is not None and circuit not in noisy:
        missing.append("a detector error model (*.dem, decoding_results/*/error_model.dem, or one "
                       "circuit_noisy*.stim)")
    if missing:
        raise UsageError(f"{root} looks like a Google experiment folder but lacks {', '.join(missing)}")
    _check_counts(root, dets, obs, props)
    used = [p for p in (props_file, _rel(root, circuit), _rel(root, dem), dets.name, obs.name) if p]
    return Dataset(layout="google", root=root, circuit=circuit, dem=dem, dets=dets,
                   dets_format=format_from_suffix(dets), obs=obs, obs_format=format_from_suffix(obs),
                   predictions=google.predictions(root), used=tuple(used), properties=props,
                   dem_choices=choices, noisy_circuits=noisy, notes=notes)


def _check_counts(root: Path, dets: Path, obs: Path, props: dict) -> None:
    """Shot files against what the properties declare (the circuit's widths are checked
    again when the workload is built)."""
    nd, no, shots = props.get("num_detectors"), props.get("num_observables", 1), props.get("shots")
    if nd is None:
        return
    n = count_records(dets, format_from_suffix(dets), nd)
    m = count_records(obs, format_from_suffix(obs), no)
    for name, got in ((dets.name, n), (obs.name, m)):
        if shots is not None and got != shots:
            raise UsageError(f"{root}: {name} holds {got} shots of {nd if name == dets.name else no} bits, "
                             f"but the properties say {shots}")


def _rel(root: Path, p: Path | None) -> str | None:
    if p is None:
        return None
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def _stim_folder(root: Path, wanted: str | Path | None, flag: str) -> Dataset:
    circuits = sorted(root.glob("*.stim"))
    if len(circuits) > 1:
        raise UsageError(f"{root} holds {len(circuits)} circuits ({', '.join(c.name for c in circuits)}): "
                         "a stim folder holds one (give --circuit and --dets instead)")
    choices = {p.name: p for s in (".dem", ".dem.gz") for p in sorted(root.glob(f"*{s}"))}
    if len(choices) > 1 and wanted is None:
        raise UsageError(f"{root} holds {len(choices)} detector error models ({', '.join(choices)}): pick one "
                         f"with {flag} NAME")
    dem, note = google.pick_dem(root, choices, wanted, flag) if (choices or wanted) else (None, None)
    shot_files = [p for s in SHOT_SUFFIXES for p in sorted(root.glob(f"*{s}"))]
    preds = {p.stem.removeprefix("obs_flips_predicted_by_"): p for p in shot_files
             if "predict" in p.stem.lower()}
    obs = [p for p in shot_files if "obs" in p.stem.lower() and p not in preds.values()]
    dets = [p for p in shot_files if p not in obs and p not in preds.values()]
    if len(dets) != 1:
        found = ", ".join(p.name for p in dets) or "none"
        raise UsageError(f"{root} looks like a stim folder ({circuits[0].name}) but needs one detection-event "
                         f"file (.b8, .01 or .dets, its name without 'obs'), found: {found}")
    if len(obs) > 1:
        raise UsageError(f"{root} looks like a stim folder but holds {len(obs)} observables files "
                         f"({', '.join(p.name for p in obs)}): keep one")
    fmt = format_from_suffix(dets[0])
    if not obs and not (fmt == "dets" and observables_in_dets(dets[0])):
        raise UsageError(f"{root} looks like a stim folder but lacks an observables file (a .b8/.01/.dets "
                         f"with 'obs' in its name), and {dets[0].name} holds no observables (L<k>)")
    used = [circuits[0].name] + ([_rel(root, dem)] if dem else []) + [dets[0].name] + ([obs[0].name] if obs else [])
    return Dataset(layout="stim-folder", root=root, circuit=circuits[0], dem=dem, dets=dets[0],
                   dets_format=fmt, obs=obs[0] if obs else None,
                   obs_format=format_from_suffix(obs[0]) if obs else None, predictions=preds,
                   used=tuple(used), properties={}, dem_choices=choices,
                   notes=(note,) if note else ())
