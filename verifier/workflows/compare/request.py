"""What ``sov compare`` was asked: the decoders, the baseline and the grid from the flags
and a policy file's ``[compare]`` table (flags win), checked before anything runs; and
the one call that runs it inside a recorded run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from verifier.errors import UsageError
from verifier.qec.decoder import Decoder
from verifier.qec.grid import SweepSpec, parse_float_list, parse_int_list

if TYPE_CHECKING:
    from verifier.store.db import Store

# the workload keys are the grid flags of ``sov compare`` (--distances --p --code --noise
# --basis --shots --seed --rounds), each under the flag's name; a flag given wins
POLICY_KEYS = {"decoders", "baseline", "distances", "p", "ps", "code", "noise", "basis", "shots", "seed",
               "rounds"}


@dataclass(frozen=True)
class ComparePlan:
    specs: list[str]  # baseline first when it was not listed
    baseline: str
    sweep: SweepSpec | None  # None: calibration models only
    calib_models: list[str] = field(default_factory=list)
    experiment: str | None = None


def policy_config(path: Path) -> dict[str, Any]:
    """The ``[compare]`` table of a policy file (keys: decoders, baseline, distances, p, code,
    noise, basis, shots, seed, rounds), read directly so the grid never depends on the gate
    policy."""
    import tomllib

    if not path.is_file():
        raise UsageError(f"policy file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"policy file {path} is not valid TOML: {e}") from None
    cfg = data.get("compare") or data.get("sweep") or {}
    if not isinstance(cfg, dict) or not cfg:
        raise UsageError(f"policy file {path} has no [compare] table (distances, p, noise, shots, ...)")
    unknown = sorted(set(cfg) - POLICY_KEYS)
    if unknown:
        raise UsageError(f"policy file {path}: unknown key(s) in [compare]: {', '.join(unknown)}")
    return cfg


def _join(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def _int(v: Any, key: str) -> int:
    """An integer from a flag or the ``[compare]`` table (an integral float such as 1e5 too)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise UsageError(f"--{key} ([compare] {key}) must be an integer, got {v!r}")
    return v


def _text(v: Any, key: str) -> str:
    """A name (code, noise, basis) from a flag or the ``[compare]`` table."""
    if not isinstance(v, str):
        raise UsageError(f"--{key} ([compare] {key}) must be a name, got {v!r}")
    return v.lower()


def _grid(cfg: dict[str, Any], dist_text: str, p_text: str, *, noise, basis, shots, seed, rounds,
          code=None) -> SweepSpec:
    """The grid, sorted (distance, then p) as every comparison report lists it."""
    rounds = rounds if rounds is not None else cfg.get("rounds")
    sweep = SweepSpec(tuple(sorted(parse_int_list(dist_text, flag="--distances"))),
                      tuple(sorted(parse_float_list(p_text, flag="--p"))),
                      shots=_int(shots or cfg.get("shots") or 10_000, "shots"),
                      seed=_int(seed if seed is not None else cfg.get("seed", 0), "seed"),
                      rounds=None if rounds is None else _int(rounds, "rounds"),
                      basis=_text(basis or cfg.get("basis") or "z", "basis"),
                      noise=_text(noise or cfg.get("noise") or "uniform", "noise"),
                      code=_text(code or cfg.get("code") or "surface", "code"))
    sweep.workloads()  # validates every value before anything runs
    return sweep


def compare_plan(decoders: Sequence[str], baseline: str = "pymatching", *, distances: str | None = None,
                 p: str | None = None, noise: str | None = None, basis: str | None = None,
                 shots: int | None = None, seed: int | None = None, rounds: int | None = None,
                 policy: Path | None = None, calib_models: Sequence[str] = (),
                 experiment: str | None = None, code: str | None = None) -> ComparePlan:
    cfg = policy_config(policy) if policy else {}
    specs = list(decoders) or [str(s) for s in cfg.get("decoders", [])]
    base_spec = baseline if baseline != "pymatching" or "baseline" not in cfg else str(cfg["baseline"])
    dist_text = distances if distances is not None else _join(cfg.get("distances"))
    p_text = p if p is not None else _join(cfg.get("p", cfg.get("ps")))
    if experiment and not calib_models:
        raise UsageError("--experiment goes with --model FILE.onnx")
    if not (specs or dist_text or p_text):
        if not calib_models:
            raise UsageError("give --decoder ... with --distances and --p (or --policy FILE.toml), "
                             "and/or --model FILE.onnx (with --experiment)")
        return ComparePlan([], base_spec, None, list(calib_models), experiment)
    if not dist_text or not p_text:
        raise UsageError("give --distances and --p (e.g. --distances 3,5 --p 0.002,0.004), or --policy FILE.toml")
    sweep = _grid(cfg, dist_text, p_text, noise=noise, basis=basis, shots=shots, seed=seed, rounds=rounds,
                  code=code)
    if base_spec not in specs:
        specs = [base_spec] + specs
    if len(specs) < 2:
        raise UsageError("give at least one --decoder to compare with the baseline")
    return ComparePlan(specs, base_spec, sweep, list(calib_models), experiment)


@dataclass(frozen=True)
class CompareResult:
    payload: dict[str, Any]
    exit_code: int


def run_comparison(plan: ComparePlan, *, store: "Store", decoder_for: Callable[[str], Decoder],
                   resolve_calib_model: Callable | None = None, inspect_model: Callable | None = None,
                   workers: int = 1, latency_shots: int = 2000, progress: Callable | None = None,
                   argv: Sequence[str] | None = None, cycle_time_us: float | None = None,
                   targets: Sequence[float] | None = None, probe: Callable | None = None,
                   latency_progress: Callable | None = None) -> CompareResult:
    """Resolve the decoders (``decoder_for(spec)``), compute the calibration section, and
    run the comparison inside a recorded run whose summary keeps the payload (``probe``:
    the single-fault probe, ``verifier.workflows.qec.ProbeFn``)."""
    from verifier.store.runs import recorded_run
    from verifier.workflows.compare.calibration import calibration_only_payload, calibration_section
    from verifier.workflows.compare.procurement import settings
    from verifier.workflows.compare.run import Candidate, run_compare

    def calibration() -> dict[str, Any]:
        return calibration_section(plan.calib_models, plan.experiment, resolve=resolve_calib_model)

    if plan.sweep is None:
        with recorded_run(store, "compare") as rec:
            payload = calibration_only_payload(rec, calibration(), argv=argv)
            rec.summary = {"report": payload}
        return CompareResult(payload, 0)
    cands = [Candidate(s, decoder_for(s), baseline=(s == plan.baseline)) for s in plan.specs]
    cal = calibration() if plan.calib_models else None
    with recorded_run(store, "compare") as rec:
        payload = run_compare(cands, plan.sweep, run=rec, workers=workers, latency_shots=latency_shots,
                              argv=argv, progress=progress, calibration=cal, inspect_model=inspect_model,
                              procurement=settings(cycle_time_us, targets), probe=probe,
                              latency_progress=latency_progress)
        rec.summary = {"report": payload, "decoders": len(cands), "workloads": len(plan.sweep.workloads())}
        code = rec.exit_code
    return CompareResult(payload, code)
