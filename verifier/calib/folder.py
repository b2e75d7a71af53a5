"""What a recorded Qibocal output folder holds, action by action, before anything is fitted.

Every sub-folder of ``data/`` (or the folder itself when it is one action) is listed with
what sov can do with it, so nothing in a folder is left out without a word:

- ``replayable``: action.yml and data.npz, an operation sov has an experiment for;
- ``unsupported``: an operation sov has no experiment for (named: ``flipping``, ...);
- ``interrupted``: action.yml without data.npz (Qibocal stopped before saving data);
- ``unreadable``: data.npz without an action.yml (its operation is unknown).

A malformed action.yml (not YAML, not a mapping) is a defect of the folder: a UsageError
naming the folder and the action (exit 2).

Suspicious recorded parameters are named, never replaced: an ``nshots`` that is missing,
zero, negative or not a number stays unknown (``nshots = None``) and the figures that need
it (binomial resampling, binomial noise) are left out for that action with the reason. A
missing or corrupt ``results.json`` is named too (Qibocal's recorded values are then
unavailable, which is different from a failed fit).

The truth of a folder (:func:`load_truth`) is a ``truth.json`` in the folder or beside
it (its parent): either sov's own form (``{action_id: {param: value}}``, written by ``sov
calib export``) or keys ``<operation or experiment>[(qualifier)].<param>[ (note)]``; a
qualifier naming a platform other than the folder's (``meta.json``) is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.calib.experiments import EXPERIMENTS
from verifier.errors import UsageError

# Qibocal runcard operation -> sov experiment
OPERATIONS = {e.qibocal_operation: name for name, e in EXPERIMENTS.items()}


@dataclass
class FolderAction:
    """One action folder as found on disk."""

    path: str
    action_id: str
    operation: str | None
    experiment: str | None
    status: str  # replayable | unsupported | interrupted | unreadable
    reason: str = ""
    nshots: int | None = None
    suspicious: list[str] = field(default_factory=list)
    results: str = "present"  # present | missing | corrupt

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action_id, "path": self.path, "operation": self.operation,
                "experiment": self.experiment, "status": self.status, "reason": self.reason,
                "nshots": self.nshots, "suspicious": list(self.suspicious), "results_json": self.results}


def action_dirs(root: Path) -> list[Path]:
    """Every action folder: ``root`` itself when it is one, else each sub-folder of
    ``root/data`` (or of ``root``) holding an action.yml or a data.npz."""
    if (root / "action.yml").is_file() or (root / "data.npz").is_file():
        return [root]
    base = root / "data" if (root / "data").is_dir() else root
    return sorted(p for p in base.iterdir()
                  if p.is_dir() and ((p / "action.yml").is_file() or (p / "data.npz").is_file()))


def _spec(p: Path) -> tuple[dict | None, str]:
    import yaml

    act = p / "action.yml"
    if not act.is_file():
        return None, "no action.yml (data.npz without its action)"
    try:
        spec = yaml.safe_load(act.read_text())
    except yaml.YAMLError as e:
        return None, f"action.yml is not valid YAML ({str(e).splitlines()[0]})"
    except UnicodeDecodeError:
        return None, "action.yml is not UTF-8 text"
    if not isinstance(spec, dict):
        return None, "action.yml is not a Qibocal action (expected a YAML mapping)"
    return spec, ""


def _nshots(params: dict) -> tuple[int | None, str | None]:
    if "nshots" not in params:
        return None, "parameters.nshots is missing"
    v = params["nshots"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        return None, f"parameters.nshots is not a number: {v!r}"
    if v < 1 or int(v) != v:
        return None, f"parameters.nshots is {v!r}"
    return int(v), None


def _results_state(p: Path) -> tuple[str, str | None]:
    f = p / "results.json"
    if not f.is_file():
        return "missing", "results.json is missing: Qibocal's recorded values are unavailable"
    try:
        json.loads(f.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        return "corrupt", f"results.json is corrupt ({type(e).__name__}: {str(e)[:80]})"
    return "present", None


def scan_action(p: Path) -> FolderAction:
    spec, why = _spec(p)
    if spec is None and (p / "action.yml").is_file():  # malformed: the folder's defect (exit 2)
        raise UsageError(f"{p}: action {p.name}: {why}")
    if spec is None:
        return FolderAction(str(p), p.name, None, None, "unreadable", why)
    op = spec.get("operation")
    aid = str(spec.get("id", p.name))
    if not (p / "data.npz").is_file():
        return FolderAction(str(p), aid, op, OPERATIONS.get(op), "interrupted",
                            "action.yml without data.npz: the action did not finish acquiring")
    if not isinstance(op, str) or op not in OPERATIONS:
        return FolderAction(str(p), aid, str(op), None, "unsupported",
                            f"sov has no experiment for Qibocal's operation {op!r}")
    params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    nshots, bad = _nshots(params)
    results, rbad = _results_state(p)
    return FolderAction(str(p), aid, op, OPERATIONS[op], "replayable", "", nshots,
                        [s for s in (bad, rbad) if s], results)


def scan_folder(root: Path) -> list[FolderAction]:
    if not root.exists():
        raise UsageError(f"no such folder: {root}")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder (give a Qibocal output folder)")
    return [scan_action(p) for p in action_dirs(root)]


# -- truth --------------------------------------------------------------------------------

_KEY = re.compile(r"^\s*([A-Za-z_0-9]+)\s*(?:\(([^)]*)\))?\s*\.\s*([A-Za-z_0-9]+)")


def _near(root: Path) -> list[Path]:
    """The folder and the one beside it; for one action folder (``OUT/data/<action>``), its
    output folder ``OUT`` and the one beside that."""
    if root.parent.name == "data":
        return [root, root.parent.parent, root.parent.parent.parent]
    return [root, root.parent]


def _platform(root: Path) -> str | None:
    for d in _near(root):
        f = d / "meta.json"
        if f.is_file():
            try:
                return json.loads(f.read_text()).get("platform")
            except (ValueError, UnicodeDecodeError, AttributeError):
                return None
    return None


def load_truth(root: Path) -> tuple[dict[str, dict[str, float]], str | None]:
    """({action id or experiment: {param: value}}, the truth file) from a truth.json in
    the folder or beside it; ({}, None) when there is none."""
    for f in (d / "truth.json" for d in _near(root)):
        if f.is_file():
            break
    else:
        return {}, None
    try:
        raw = json.loads(f.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{f}: not valid JSON ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{f}: expected a JSON object")
    platform = _platform(root)
    out: dict[str, dict[str, float]] = {}
    for k, v in raw.items():
        if isinstance(v, dict):  # sov's form: {action_id: {param: value}}
            out[k] = {p: float(x) for p, x in v.items() if isinstance(x, (int, float))}
            continue
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if re.fullmatch(r"[A-Za-z_0-9]+", k):  # a folder-wide quantity (qubit_frequency_hz)
            out.setdefault("_folder", {})[k] = float(v)
            continue
        m = _KEY.match(k)
        if not m:
            continue
        name, qual, param = m.groups()
        if qual and platform and re.split(r"[\s:,]", qual.strip())[0] not in (platform, ""):
            continue  # the truth of another platform's run
        exp = OPERATIONS.get(name, name if name in EXPERIMENTS else None)
        if exp is not None and param in EXPERIMENTS[exp].param_names:
            out.setdefault(exp, {})[param] = float(v)
    return out, str(f)


def truth_of(truth: dict[str, dict[str, float]], action_id: str, experiment: str) -> dict[str, float]:
    return truth.get(action_id) or truth.get(experiment) or {}
