"""Acceptance policies: a TOML file of reference workloads and gates (see docs/policy.md).

Every problem in a policy file is one :class:`UsageError` line naming the file and the
key, e.g. ``policy.toml: gates[2].margin: must be a number >= 0, got "ten"``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import UsageError
from verifier.gates.gate import DEFAULT_CONFIDENCE, DEFAULT_MARGIN

WORKLOAD_KEYS = {"name", "distance", "rounds", "basis", "noise", "p", "shots", "seed", "circuit",
                 "dets", "obs", "data_format"}
GATE_KINDS: dict[str, set[str]] = {
    "ler_noninferiority": {"kind", "name", "margin", "confidence", "workloads"},
    "latency": {"kind", "name", "per", "budget_us", "max_ratio_to_baseline", "workloads"},
    "calibration": {"kind", "name", "experiment", "tolerance", "repeats", "seed", "confidence"},
}
DECODER_KEYS = {"candidate", "baseline", "contract", "baseline_contract", "provider", "batch_size"}
TOP_KEYS = {"policy", "decoders", "workloads", "gates"}
POLICY_KEYS = {"name", "description", "confidence"}


@dataclass(frozen=True)
class WorkloadSpec:
    """One reference workload: the keyword arguments of ``options.qec_workload``."""

    name: str
    args: dict[str, Any]

    def to_json(self) -> dict:
        return {"name": self.name, **{k: (str(v) if isinstance(v, Path) else v) for k, v in self.args.items()}}


@dataclass(frozen=True)
class GateSpec:
    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    workloads: tuple[str, ...] | None = None  # None: every workload

    def applies_to(self, workload_name: str) -> bool:
        return self.workloads is None or workload_name in self.workloads

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, **self.params,
                **({"workloads": list(self.workloads)} if self.workloads is not None else {})}


@dataclass(frozen=True)
class Policy:
    name: str
    workloads: tuple[WorkloadSpec, ...]
    gates: tuple[GateSpec, ...]
    decoders: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    sha256: str | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "sha256": self.sha256,
                "decoders": self.decoders, "workloads": [w.to_json() for w in self.workloads],
                "gates": [g.to_json() for g in self.gates]}


def default_workload_args(*, distance=None, rounds=None, basis="z", noise="uniform", p=None,
                          shots=10_000, seed=0, circuit=None, dets=None, obs=None,
                          data_format=None) -> dict[str, Any]:
    return {"distance": distance, "rounds": rounds, "basis": basis, "noise": noise, "p": p,
            "shots": shots, "seed": seed, "circuit": circuit, "dets": dets, "obs": obs,
            "data_format": data_format}


def from_flags(workload_args: dict[str, Any], *, margin: float = DEFAULT_MARGIN,
               confidence: float = DEFAULT_CONFIDENCE, latency_budget_us: float | None = None,
               latency_per: str = "shot", max_latency_ratio: float | None = None) -> Policy:
    """The policy that ``sov accept`` builds from its flags: one workload, the LER gate and,
    with a budget, the latency gate."""
    _check_margin(margin, "--margin")
    _check_confidence(confidence, "--confidence")
    gates = [GateSpec("ler_noninferiority", "ler_noninferiority",
                      {"margin": margin, "confidence": confidence})]
    if latency_budget_us is not None or max_latency_ratio is not None:
        if latency_per not in ("shot", "round"):
            raise UsageError(f"--latency-per must be shot or round, got {latency_per!r}")
        gates.append(GateSpec("latency", "latency",
                              {"per": latency_per, "budget_us": latency_budget_us if latency_budget_us is not None else math.inf,
                               "max_ratio_to_baseline": max_latency_ratio}))
    return Policy("command line", (WorkloadSpec("workload", dict(workload_args)),), tuple(gates))


def _check_margin(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise UsageError(f"{where}: margin must be a number >= 0 (0.10 = 10 % of the baseline's LER), got {v!r}")
    return float(v)


def _check_confidence(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.5 <= v < 1):
        raise UsageError(f"{where}: confidence must be a number in [0.5, 1), got {v!r}")
    return float(v)


def load(path: str | Path) -> Policy:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"policy file not found: {p}") from None
    except OSError as e:
        raise UsageError(f"cannot read policy {p}: {e.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode())
    except UnicodeDecodeError:
        raise UsageError(f"{p.name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{p.name}: not valid TOML: {e}") from None
    import hashlib

    return parse(doc, source=str(p), base=p.resolve().parent, sha256=hashlib.sha256(raw).hexdigest())


def parse(doc: dict, *, source: str = "policy", base: Path | None = None,
          sha256: str | None = None) -> Policy:
    """Validate a parsed TOML document into a :class:`Policy`."""
    src = Path(source).name

    def err(key: str, msg: str) -> UsageError:
        return UsageError(f"{src}: {key}: {msg}")

    def unknown(table: dict, known: set[str], where: str) -> None:
        extra = sorted(set(table) - known)
        if extra:
            raise err(f"{where}{'.' if where else ''}{extra[0]}", f"unknown key (known: {', '.join(sorted(known))})")

    unknown(doc, TOP_KEYS, "")
    head = doc.get("policy", {})
    if not isinstance(head, dict):
        raise err("policy", "must be a table [policy]")
    unknown(head, POLICY_KEYS, "policy")
    name = head.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise err("policy.name", "must be a string")
    default_conf = _typed(head, "confidence", (int, float), DEFAULT_CONFIDENCE, "policy", err)
    try:
        _check_confidence(default_conf, "x")
    except UsageError:
        raise err("policy.confidence", f"must be a number in [0.5, 1), got {default_conf!r}") from None

    decoders = doc.get("decoders", {})
    if not isinstance(decoders, dict):
        raise err("decoders", "must be a table [decoders]")
    unknown(decoders, DECODER_KEYS, "decoders")
    for k in ("candidate", "baseline", "contract", "baseline_contract", "provider"):
        if k in decoders and not isinstance(decoders[k], str):
            raise err(f"decoders.{k}", "must be a string")
    if "batch_size" in decoders and (not isinstance(decoders["batch_size"], int) or decoders["batch_size"] < 1):
        raise err("decoders.batch_size", "must be an integer >= 1")
    decoders = dict(decoders)
    for k in ("candidate", "baseline"):  # paths are relative to the policy file
        v = decoders.get(k)
        if v and base is not None and (v.endswith(".onnx") or "/" in v) and not Path(v).is_absolute():
            decoders[k] = str(base / v)

    wl = doc.get("workloads", [])
    if not isinstance(wl, list) or not all(isinstance(w, dict) for w in wl):
        raise err("workloads", "must be an array of tables [[workloads]]")
    gates_raw = doc.get("gates", [])
    if not isinstance(gates_raw, list) or not all(isinstance(g, dict) for g in gates_raw):
        raise err("gates", "must be an array of tables [[gates]]")
    if not gates_raw:
        raise err("gates", "a policy needs at least one [[gates]] table")
    needs_workloads = any(g.get("kind") != "calibration" for g in gates_raw)
    if needs_workloads and not wl:
        raise err("workloads", "decoder gates need at least one [[workloads]] table")

    workloads: list[WorkloadSpec] = []
    names: set[str] = set()
    for i, w in enumerate(wl, 1):
        where = f"workloads[{i}]"
        unknown(w, WORKLOAD_KEYS, where)
        wname = w.get("name", f"w{i}")
        if not isinstance(wname, str) or not wname:
            raise err(f"{where}.name", "must be a non-empty string")
        if wname in names:
            raise err(f"{where}.name", f"duplicate workload name {wname!r}")
        names.add(wname)
        args = default_workload_args()
        for key, types in (("distance", int), ("rounds", int), ("shots", int), ("seed", int),
                           ("basis", str), ("noise", str), ("p", (int, float)),
                           ("circuit", str), ("dets", str), ("obs", str), ("data_format", str)):
            if key in w:
                v = w[key]
                if isinstance(v, bool) or not isinstance(v, types):
                    raise err(f"{where}.{key}", f"must be {'a number' if key == 'p' else 'an integer' if types is int else 'a string'}, got {v!r}")
                if key in ("circuit", "dets", "obs"):
                    v = Path(v) if Path(v).is_absolute() or base is None else base / v
                args[key] = float(v) if key == "p" else v
        if args["shots"] < 1:
            raise err(f"{where}.shots", f"must be >= 1, got {args['shots']}")
        if args["circuit"] is None and args["distance"] is None:
            raise err(f"{where}", "give distance (with p) or circuit")
        if args["circuit"] is None and args["p"] is None:
            raise err(f"{where}.p", "missing: the physical error rate")
        workloads.append(WorkloadSpec(wname, args))

    gates: list[GateSpec] = []
    for i, g in enumerate(gates_raw, 1):
        where = f"gates[{i}]"
        kind = g.get("kind")
        if kind not in GATE_KINDS:
            raise err(f"{where}.kind", f"must be one of {', '.join(GATE_KINDS)}, got {kind!r}")
        unknown(g, GATE_KINDS[kind], where)
        gname = g.get("name", kind)
        if not isinstance(gname, str):
            raise err(f"{where}.name", "must be a string")
        sel = g.get("workloads")
        if sel is not None:
            if not isinstance(sel, list) or not all(isinstance(s, str) for s in sel) or not sel:
                raise err(f"{where}.workloads", "must be a non-empty array of workload names")
            missing = [s for s in sel if s not in names]
            if missing:
                raise err(f"{where}.workloads", f"no workload named {missing[0]!r}")
        params: dict[str, Any] = {}
        if kind == "ler_noninferiority":
            try:
                params["margin"] = _check_margin(g.get("margin", DEFAULT_MARGIN), "x")
            except UsageError:
                raise err(f"{where}.margin", f"must be a number >= 0 (0.10 = 10 % of the baseline's LER), got {g.get('margin')!r}") from None
            try:
                params["confidence"] = _check_confidence(g.get("confidence", default_conf), "x")
            except UsageError:
                raise err(f"{where}.confidence", f"must be a number in [0.5, 1), got {g.get('confidence')!r}") from None
        elif kind == "latency":
            per = g.get("per", "shot")
            if per not in ("shot", "round"):
                raise err(f"{where}.per", f"must be shot or round, got {per!r}")
            budget = g.get("budget_us")
            ratio = g.get("max_ratio_to_baseline")
            if budget is None and ratio is None:
                raise err(f"{where}.budget_us", "missing: give budget_us and/or max_ratio_to_baseline")
            for key, v in (("budget_us", budget), ("max_ratio_to_baseline", ratio)):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
                    raise err(f"{where}.{key}", f"must be a number > 0, got {v!r}")
            params = {"per": per, "budget_us": float(budget) if budget is not None else math.inf,
                      "max_ratio_to_baseline": float(ratio) if ratio is not None else None}
            if per == "round":
                for w in workloads:
                    if (sel is None or w.name in sel) and w.args.get("circuit") is not None and w.args.get("rounds") is None:
                        raise err(f"{where}.per", f"'round' needs rounds for workload {w.name!r} (give rounds there)")
        else:  # calibration
            exp = g.get("experiment")
            if not isinstance(exp, str) or not exp:
                raise err(f"{where}.experiment", "missing: the calibration experiment (e.g. rabi_amplitude)")
            params["experiment"] = exp
            for key, types in (("tolerance", (int, float)), ("repeats", int), ("seed", int),
                               ("confidence", (int, float))):
                if key in g:
                    v = g[key]
                    if isinstance(v, bool) or not isinstance(v, types) or v < 0:
                        raise err(f"{where}.{key}", f"must be a non-negative {'number' if types != int else 'integer'}, got {v!r}")
                    params[key] = v
        gates.append(GateSpec(kind, gname, params, tuple(sel) if sel is not None else None))
    return Policy(name, tuple(workloads), tuple(gates), decoders, source, sha256)


def _typed(table: dict, key: str, types, default, where: str, err):
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, types):
        raise err(f"{where}.{key}", f"must be a number, got {v!r}")
    return v
