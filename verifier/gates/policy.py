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

from verifier.calib.tolerance import Tolerance
from verifier.errors import UsageError
from verifier.gates.gate import DEFAULT_MARGIN
from verifier.qec import limits
from verifier.qec.workload import FILE_FLAGS
from verifier.stats.binomial import CONFIDENCE

WORKLOAD_KEYS = {"name", "distance", "rounds", "basis", "noise", "p", "shots", "seed", "circuit",
                 "dets", "obs", "data_format", "dem", "dataset"}
GATE_KINDS: dict[str, set[str]] = {
    "ler_noninferiority": {"kind", "name", "margin", "confidence", "workloads"},
    "latency": {"kind", "name", "per", "budget_us", "max_ratio_to_baseline", "workloads"},
    "calibration": {"kind", "name", "experiment", "tolerance", "repeats", "seed", "confidence"},
}
DECODER_KEYS = {"candidate", "baseline", "contract", "baseline_contract", "provider", "batch_size"}
TOP_KEYS = {"policy", "decoders", "workloads", "gates", "evidence", "provenance"}  # [evidence]: sov evidence verify
PROVENANCE_KEYS = {"require_signature", "signature", "public_keys", "certificate_chains", "identities"}
POLICY_KEYS = {"name", "description", "confidence"}


@dataclass(frozen=True)
class WorkloadSpec:
    """One reference workload: the keyword arguments of ``verifier.qec.flags.from_flags``."""

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
class ProvenanceSpec:
    """The ``[provenance]`` table: which signature the candidate model must carry, checked
    before any replay (docs/policy.md)."""

    require_signature: bool = False
    signature: Path | None = None             # default: <candidate file>.sig
    public_keys: tuple[Path, ...] = ()
    certificate_chains: tuple[Path, ...] = ()
    identities: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"require_signature": self.require_signature,
                "signature": str(self.signature) if self.signature else None,
                "public_keys": [str(p) for p in self.public_keys],
                "certificate_chains": [str(p) for p in self.certificate_chains],
                "identities": list(self.identities)}


@dataclass(frozen=True)
class Policy:
    name: str
    workloads: tuple[WorkloadSpec, ...]
    gates: tuple[GateSpec, ...]
    decoders: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    sha256: str | None = None
    provenance: ProvenanceSpec | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "sha256": self.sha256,
                "decoders": self.decoders, "workloads": [w.to_json() for w in self.workloads],
                "gates": [g.to_json() for g in self.gates],
                **({"provenance": self.provenance.to_json()} if self.provenance else {})}


def default_workload_args(*, distance=None, rounds=None, basis="z", noise="uniform", p=None,
                          shots=10_000, seed=0, circuit=None, dets=None, obs=None,
                          data_format=None, dem=None, dataset=None, code="surface") -> dict[str, Any]:
    # ``code`` only when not the surface code: the policies (and their hashes) of before --code
    return {"distance": distance, "rounds": rounds, "basis": basis, "noise": noise, "p": p,
            "shots": shots, "seed": seed, "circuit": circuit, "dets": dets, "obs": obs,
            "data_format": data_format, "dem": dem, "dataset": dataset,
            **({} if code == "surface" else {"code": code})}


def from_flags(workload_args: dict[str, Any], *, margin: float = DEFAULT_MARGIN,
               confidence: float = CONFIDENCE, latency_budget_us: float | None = None,
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


WORKLOAD_FLAGS = ("distance", "circuit", "dets", "obs", "p", "dem", "dataset")  # any of them names a workload
_EXPERIMENT_CONFLICT = {
    "accept": "--experiment (calibration acceptance) takes no QEC workload flags or --policy: "
              "put a calibration gate in the policy instead",
    "watch": "--experiment (a calibration model) takes no QEC workload flags or --policy",
}
_WORKLOAD_MISSING = {"accept": "a workload", "watch": "a reference workload"}


def resolve_policy(policy_file: str | Path | None, workload: dict[str, Any], *,
                   experiment: str | None = None, calibration: dict[str, Any] | None = None,
                   contract: str | None = None, purpose: str = "accept", **gates: Any) -> Policy:
    """The policy a command runs: the ``--policy`` file, or a calibration gate for
    ``--experiment`` (``calibration``: its tolerance, repeats, seed, confidence), or the
    one workload of the workload flags with the gates of :func:`from_flags` (``gates``).
    ``purpose`` (accept or watch) words the errors for that command."""
    flags_workload = any(workload.get(k) is not None for k in WORKLOAD_FLAGS)
    if experiment is not None and (policy_file is not None or flags_workload):
        raise UsageError(_EXPERIMENT_CONFLICT[purpose])
    if policy_file is not None:
        if flags_workload:
            raise UsageError("give the workload either by flags or by --policy, not both")
        return load(policy_file)
    if experiment is not None:
        cal = calibration or {}
        params = {"experiment": experiment,
                  **{k: cal[k] for k in ("tolerance", "repeats") if cal.get(k) is not None},
                  **{k: cal[k] for k in ("seed", "confidence") if k in cal}}
        return Policy("command line", (), (GateSpec("calibration", "calibration", params),),
                      decoders={"contract": contract} if contract else {})
    if not flags_workload:
        raise UsageError(f"give {_WORKLOAD_MISSING[purpose]} (--distance/--p, --circuit, ...) or --policy FILE.toml")
    return from_flags(default_workload_args(**workload), **gates)


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


class _Checker:
    """Error lines that name the policy file and the key."""

    def __init__(self, source: str) -> None:
        self.src = Path(source).name

    def err(self, key: str, msg: str) -> UsageError:
        return UsageError(f"{self.src}: {key}: {msg}")

    def unknown(self, table: dict, known: set[str], where: str) -> None:
        extra = sorted(set(table) - known)
        if extra:
            raise self.err(f"{where}{'.' if where else ''}{extra[0]}", f"unknown key (known: {', '.join(sorted(known))})")


def parse(doc: dict, *, source: str = "policy", base: Path | None = None,
          sha256: str | None = None) -> Policy:
    """Validate a parsed TOML document into a :class:`Policy`."""
    c = _Checker(source)
    c.unknown(doc, TOP_KEYS, "")
    if "evidence" in doc:  # read by `sov evidence verify --policy`; checked here so accept refuses a bad one
        from verifier.evidence.trust import policy_require

        policy_require(doc["evidence"], c.src)
    name, default_conf = _parse_head(c, doc.get("policy", {}), source)
    decoders = _parse_decoders(c, doc.get("decoders", {}), base)
    wl = doc.get("workloads", [])
    if not isinstance(wl, list) or not all(isinstance(w, dict) for w in wl):
        raise c.err("workloads", "must be an array of tables [[workloads]]")
    gates_raw = doc.get("gates", [])
    if not isinstance(gates_raw, list) or not all(isinstance(g, dict) for g in gates_raw):
        raise c.err("gates", "must be an array of tables [[gates]]")
    if not gates_raw:
        raise c.err("gates", "a policy needs at least one [[gates]] table")
    needs_workloads = any(g.get("kind") != "calibration" for g in gates_raw)
    if needs_workloads and not wl:
        raise c.err("workloads", "decoder gates need at least one [[workloads]] table")
    workloads: list[WorkloadSpec] = []
    for i, w in enumerate(wl, 1):
        workloads.append(_parse_workload(c, w, i, {x.name for x in workloads}, base))
    gates = [_parse_gate(c, g, i, workloads, default_conf) for i, g in enumerate(gates_raw, 1)]
    provenance = _parse_provenance(c, doc["provenance"], base) if "provenance" in doc else None
    return Policy(name, tuple(workloads), tuple(gates), decoders, source, sha256, provenance)


def _parse_provenance(c: _Checker, t: Any, base: Path | None) -> ProvenanceSpec:
    if not isinstance(t, dict):
        raise c.err("provenance", "must be a table [provenance]")
    c.unknown(t, PROVENANCE_KEYS, "provenance")
    required = t.get("require_signature", False)
    if not isinstance(required, bool):
        raise c.err("provenance.require_signature", f"must be true or false, got {required!r}")

    def path(v: str) -> Path:
        return Path(v) if Path(v).is_absolute() or base is None else base / v

    def strings(key: str) -> tuple[str, ...]:
        v = t.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise c.err(f"provenance.{key}", "must be an array of non-empty strings")
        return tuple(v)

    sig = t.get("signature")
    if sig is not None and (not isinstance(sig, str) or not sig):
        raise c.err("provenance.signature", "must be a path (string)")
    keys = tuple(path(k) for k in strings("public_keys"))
    chains = tuple(path(k) for k in strings("certificate_chains"))
    if not keys and not chains:
        raise c.err("provenance", "give the trusted signers: public_keys and/or certificate_chains")
    return ProvenanceSpec(required, path(sig) if sig else None, keys, chains, strings("identities"))


def _parse_head(c: _Checker, head: Any, source: str) -> tuple[str, float]:
    if not isinstance(head, dict):
        raise c.err("policy", "must be a table [policy]")
    c.unknown(head, POLICY_KEYS, "policy")
    name = head.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise c.err("policy.name", "must be a string")
    default_conf = _typed(head, "confidence", (int, float), CONFIDENCE, "policy", c.err)
    try:
        _check_confidence(default_conf, "x")
    except UsageError:
        raise c.err("policy.confidence", f"must be a number in [0.5, 1), got {default_conf!r}") from None
    return name, default_conf


def _parse_decoders(c: _Checker, decoders: Any, base: Path | None) -> dict[str, Any]:
    if not isinstance(decoders, dict):
        raise c.err("decoders", "must be a table [decoders]")
    c.unknown(decoders, DECODER_KEYS, "decoders")
    for k in ("candidate", "baseline", "contract", "baseline_contract", "provider"):
        if k in decoders and not isinstance(decoders[k], str):
            raise c.err(f"decoders.{k}", "must be a string")
    if "batch_size" in decoders and (not isinstance(decoders["batch_size"], int) or decoders["batch_size"] < 1):
        raise c.err("decoders.batch_size", "must be an integer >= 1")
    decoders = dict(decoders)
    for k in ("candidate", "baseline"):  # paths are relative to the policy file
        v = decoders.get(k)
        if v and base is not None and (v.endswith(".onnx") or "/" in v) and not Path(v).is_absolute():
            decoders[k] = str(base / v)
    return decoders


_WORKLOAD_TYPES = (("distance", int), ("rounds", int), ("shots", int), ("seed", int),
                   ("basis", str), ("noise", str), ("p", (int, float)),
                   ("circuit", str), ("dets", str), ("obs", str), ("data_format", str), ("dem", str), ("dataset", str))


def _parse_workload(c: _Checker, w: dict, i: int, names: set[str], base: Path | None) -> WorkloadSpec:
    where = f"workloads[{i}]"
    c.unknown(w, WORKLOAD_KEYS, where)
    wname = w.get("name", f"w{i}")
    if not isinstance(wname, str) or not wname:
        raise c.err(f"{where}.name", "must be a non-empty string")
    if wname in names:
        raise c.err(f"{where}.name", f"duplicate workload name {wname!r}")
    args = default_workload_args()
    for key, types in _WORKLOAD_TYPES:
        if key in w:
            v = w[key]
            if isinstance(v, bool) or not isinstance(v, types):
                raise c.err(f"{where}.{key}", f"must be {'a number' if key == 'p' else 'an integer' if types is int else 'a string'}, got {v!r}")
            if key in FILE_FLAGS:
                v = Path(v) if Path(v).is_absolute() or base is None else base / v
            args[key] = float(v) if key == "p" else v
    if args["shots"] < 1:
        raise c.err(f"{where}.shots", f"must be >= 1, got {args['shots']}")
    _check_bounds(c, where, args)
    named = args["circuit"] or args["dataset"] or (args["dets"] and args["dem"])
    if not named and args["distance"] is None:
        raise c.err(f"{where}", "give distance (with p), circuit or dataset")
    if not named and args["p"] is None:
        raise c.err(f"{where}.p", "missing: the physical error rate")
    return WorkloadSpec(wname, args)


def _check_bounds(c: _Checker, where: str, args: dict[str, Any]) -> None:
    """The maxima of ``verifier.qec.limits``, named by the policy's key."""
    for key, check in (("shots", limits.check_shots), ("distance", limits.check_distance),
                       ("rounds", limits.check_rounds)):
        if args.get(key) is not None:
            try:
                check(args[key], key)
            except UsageError as e:
                raise c.err(f"{where}.{key}", str(e).removeprefix(f"{key} ")) from None


def _parse_gate(c: _Checker, g: dict, i: int, workloads: list[WorkloadSpec],
                default_conf: float) -> GateSpec:
    where = f"gates[{i}]"
    kind = g.get("kind")
    if kind not in GATE_KINDS:
        raise c.err(f"{where}.kind", f"must be one of {', '.join(GATE_KINDS)}, got {kind!r}")
    c.unknown(g, GATE_KINDS[kind], where)
    gname = g.get("name", kind)
    if not isinstance(gname, str):
        raise c.err(f"{where}.name", "must be a string")
    sel = g.get("workloads")
    if sel is not None:
        if not isinstance(sel, list) or not all(isinstance(s, str) for s in sel) or not sel:
            raise c.err(f"{where}.workloads", "must be a non-empty array of workload names")
        missing = [s for s in sel if s not in {w.name for w in workloads}]
        if missing:
            raise c.err(f"{where}.workloads", f"no workload named {missing[0]!r}")
    if kind == "ler_noninferiority":
        params = _ler_params(c, g, where, default_conf)
    elif kind == "latency":
        params = _latency_params(c, g, where, [w for w in workloads if sel is None or w.name in sel])
    else:
        params = _calibration_params(c, g, where)
    return GateSpec(kind, gname, params, tuple(sel) if sel is not None else None)


def _ler_params(c: _Checker, g: dict, where: str, default_conf: float) -> dict[str, Any]:
    params: dict[str, Any] = {}
    try:
        params["margin"] = _check_margin(g.get("margin", DEFAULT_MARGIN), "x")
    except UsageError:
        raise c.err(f"{where}.margin", f"must be a number >= 0 (0.10 = 10 % of the baseline's LER), got {g.get('margin')!r}") from None
    try:
        params["confidence"] = _check_confidence(g.get("confidence", default_conf), "x")
    except UsageError:
        raise c.err(f"{where}.confidence", f"must be a number in [0.5, 1), got {g.get('confidence')!r}") from None
    return params


def _latency_params(c: _Checker, g: dict, where: str, selected: list[WorkloadSpec]) -> dict[str, Any]:
    per = g.get("per", "shot")
    if per not in ("shot", "round"):
        raise c.err(f"{where}.per", f"must be shot or round, got {per!r}")
    budget = g.get("budget_us")
    ratio = g.get("max_ratio_to_baseline")
    if budget is None and ratio is None:
        raise c.err(f"{where}.budget_us", "missing: give budget_us and/or max_ratio_to_baseline")
    for key, v in (("budget_us", budget), ("max_ratio_to_baseline", ratio)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise c.err(f"{where}.{key}", f"must be a number > 0, got {v!r}")
    if per == "round":
        for w in selected:
            if w.args.get("circuit") is not None and w.args.get("rounds") is None:
                raise c.err(f"{where}.per", f"'round' needs rounds for workload {w.name!r} (give rounds there)")
    return {"per": per, "budget_us": float(budget) if budget is not None else math.inf,
            "max_ratio_to_baseline": float(ratio) if ratio is not None else None}


def _calibration_params(c: _Checker, g: dict, where: str) -> dict[str, Any]:
    exp = g.get("experiment")
    if not isinstance(exp, str) or not exp:
        raise c.err(f"{where}.experiment", "missing: the calibration experiment (e.g. rabi_amplitude)")
    params: dict[str, Any] = {"experiment": exp}
    if "tolerance" in g:
        try:
            params["tolerance"] = Tolerance.parse(g["tolerance"] if not isinstance(g["tolerance"], bool) else "?").text
        except UsageError as e:
            raise c.err(f"{where}.tolerance", str(e).removeprefix("--tolerance").lstrip(": ")) from None
    for key, types in (("repeats", int), ("seed", int), ("confidence", (int, float))):
        if key in g:
            v = g[key]
            if isinstance(v, bool) or not isinstance(v, types) or v < 0:
                raise c.err(f"{where}.{key}", f"must be a non-negative {'number' if types != int else 'integer'}, got {v!r}")
            params[key] = v
    if params.get("repeats", 0) > limits.MAX_CAL_REPEATS:
        raise c.err(f"{where}.repeats", f"{params['repeats']} is over the maximum of {limits.MAX_CAL_REPEATS} "
                    "simulated qubits (docs/cli.md, Maxima)")
    return params


def _typed(table: dict, key: str, types, default, where: str, err):
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, types):
        raise err(f"{where}.{key}", f"must be a number, got {v!r}")
    return v
