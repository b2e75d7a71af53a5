"""``sov drift add | list | remove``: the watched models, i.e. models in service whose
drift ``sov drift check`` looks for (see docs/acceptance.md, "Drift").

A *watched model* is its file path, its sha256 at registration and one or more reference
workloads (each a *series*), or, for a calibration model, one experiment whose series is
the parameters it returns on sov's fixed reference data set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from verifier.errors import UsageError
from verifier.store import watch as rows
from verifier.store.watch import Watched

if TYPE_CHECKING:
    from verifier.gates.policy import WorkloadSpec
    from verifier.store.db import Store


def _jsonable_args(args: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in args.items()}


def get(store: "Store", name: str) -> Watched:
    w = rows.find_watched(store, name)
    if w is None:
        raise UsageError(f"no watched model named {name!r} (see sov drift list)")
    return w


def list_watched(store: "Store") -> list[Watched]:
    return rows.list_watched(store)


def prepare(store: "Store", path: str | Path, name: str, workloads: "list[WorkloadSpec]", *,
            decoder_options: dict | None = None, contract: str | None = None,
            experiment: str | None = None, folder: str | Path | None = None) -> Watched:
    """The watched model that :func:`add` would register (its hash now, its reference
    workloads), checked but not recorded: ``sov drift add`` replays it first and records
    nothing when that fails. A calibration model gives ``experiment`` instead of workloads:
    its series is the parameters it returns on sov's fixed reference data set
    (``verifier.calib.accept.drift_signature``), or with ``folder`` on a recorded Qibocal
    folder's sweeps (``verifier.calib.replay_drift.folder_signature``)."""
    from verifier.hashing import sha256_file
    from verifier.store.db import now

    if not name or any(c.isspace() for c in name):
        raise UsageError(f"--name must be a non-empty word, got {name!r}")
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"model file not found: {p}")
    if not workloads and not experiment:
        raise UsageError("a watched model needs a reference workload (workload flags or --policy), "
                         "or --experiment for a calibration model")
    if rows.is_watched(store, name):
        raise UsageError(f"a watched model named {name!r} exists: sov drift remove {name} first")
    spec = {"workloads": [{"name": w.name, "args": _jsonable_args(w.args)} for w in workloads],
            "decoder": dict(decoder_options or {}, contract=contract)}
    if folder is not None and not experiment:
        raise UsageError("--replay DIR is a calibration model's reference data: give --model FILE --experiment E")
    if experiment:
        spec["calibration"] = {"experiment": experiment}
        if folder is not None:
            if not Path(folder).is_dir():
                raise UsageError(f"--replay {folder}: not a folder")
            spec["calibration"]["folder"] = str(Path(folder).resolve())
    return Watched(name, str(p.resolve()), sha256_file(p), contract, spec, now())


def add(store: "Store", path: str | Path, name: str, workloads: "list[WorkloadSpec]", *,
        decoder_options: dict | None = None, contract: str | None = None,
        experiment: str | None = None) -> Watched:
    """Register a model in service (see :func:`prepare`)."""
    w = prepare(store, path, name, workloads, decoder_options=decoder_options, contract=contract,
                experiment=experiment)
    rows.insert_watched(store, w)
    return w


def remove(store: "Store", name: str) -> Watched:
    w = get(store, name)
    rows.mark_removed(store, name)
    return w
