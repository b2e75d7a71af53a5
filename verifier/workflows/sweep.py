"""``sov qec sweep | threshold | lambda``: a grid run through the engine, then (for the
latter two) the finite-size-scaling threshold fit or the Λ fit, each next to baselines read
from a sinter CSV, as result values the CLI prints and writes.

The grid, its validation and the sweep are the same for all three commands, so their
points (and the store's blocks) are shared: a threshold after a sweep of the same flags
runs nothing."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from verifier.engine.results import SweepResult, point_json
from verifier.errors import UsageError
from verifier.qec.decoder import Decoder
from verifier.qec.grid import SweepSpec, parse_float_list, parse_int_list

if TYPE_CHECKING:
    from verifier.store.db import Store


def grid(distances: str, p: str | None, *, shots: int, seed: int, rounds: int | None, basis: str,
         noise: str, rounds_factors: tuple[int, ...] | None = None, code: str = "surface") -> SweepSpec:
    """The grid of the flags, every point validated before anything is recorded."""
    if p is None:
        raise UsageError("give --p, the physical error rates (e.g. --p 0.004,0.006,0.008)")
    ds = parse_int_list(distances, flag="--distances")
    if any(d < 2 for d in ds):
        raise UsageError(f"--distances must be at least 2, got {distances}")
    return SweepSpec(ds, parse_float_list(p, flag="--p"), shots, seed, rounds, basis.lower(), noise.lower(),
                     rounds_factors, code.lower())


def _check_odd(spec: SweepSpec, what: str) -> None:
    """The surface code's fits compare distances of one parity: an even distance does not
    correct one more error than the odd one below it, so the finite-size curves of d = 2, 4
    (or of 3, 4, 5) do not cross where those of 3, 5, 7 do. The color code has odd distances
    only; the repetition code takes any (``verifier.qec.codes.fit_distances_refused``)."""
    from verifier.qec.codes import fit_distances_refused

    even = fit_distances_refused(spec.code, spec.distances)
    if even:
        raise UsageError(f"{what} takes odd code distances of the {spec.code} code, got "
                         f"{', '.join(map(str, even))} (e.g. --distances 3,5,7)")


def check_threshold_grid(spec: SweepSpec) -> None:
    _check_odd(spec, "a threshold")
    if len(spec.distances) < 2 or len(spec.distances) * len(spec.ps) < 6:
        raise UsageError("a threshold needs at least two distances and six points in all "
                         "(e.g. --distances 3,5,7 --p 0.005,0.007,0.009)")


def lambda_grid(spec: SweepSpec, convention: str, rounds_factors: str | None) -> SweepSpec:
    """The grid of ``sov qec lambda`` in ``convention``: google adds the round counts
    ``rounds_factors`` x d per distance (default ``verifier.stats.epsilon.ROUNDS_FACTORS``);
    single-round-count keeps the one round count (``--rounds``, else d)."""
    from dataclasses import replace

    from verifier.stats.epsilon import CONVENTIONS, GOOGLE, ROUNDS_FACTORS

    conv = convention.lower()
    if conv not in CONVENTIONS:
        raise UsageError(f"--convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if conv != GOOGLE:
        if rounds_factors is not None:
            raise UsageError("--rounds-factors goes with --convention google")
        return spec
    if spec.rounds is not None:
        raise UsageError("--rounds fixes one round count per distance; the google convention fits several "
                         "(--rounds-factors, default 1,3,9): give --convention single-round-count for one")
    factors = parse_int_list(rounds_factors, flag="--rounds-factors") if rounds_factors else ROUNDS_FACTORS
    if len(set(factors)) < 2:
        raise UsageError(f"--rounds-factors needs at least two distinct factors (e.g. 1,3,9), got {rounds_factors}")
    return replace(spec, rounds_factors=tuple(sorted(factors)))


def check_lambda_grid(spec: SweepSpec) -> None:
    if len(spec.ps) != 1:
        raise UsageError(f"sov qec lambda takes one physical error rate (--p 0.003), got {len(spec.ps)}")
    _check_odd(spec, "Λ")
    if len(spec.distances) < 2:
        raise UsageError("Λ needs at least two distances (e.g. --distances 3,5,7)")


def _run_figures(result: SweepResult, db: str) -> dict[str, Any]:
    """What every fit's JSON says about the sweep behind it."""
    out = {"decoder": result.decoder_name, "fingerprint": result.fingerprint,
           "sweep": result.spec.to_json() if result.spec else None, "run_id": result.run_id, "db": db,
           "wall_seconds": result.seconds, "ran_shots": result.ran_shots, "reused_shots": result.reused_shots}
    members = [{"distance": r.workload.distance, "rounds": r.workload.rounds, "basis": r.workload.basis,
                "p": getattr(r.workload, "p", None), **r.figures["member"]}
               for r in result.points if "member" in r.figures]
    if members:  # a model family: the file that ran each point
        out["members"] = members
    return out


@dataclass
class GridResult:
    """``sov qec sweep``: the points, nothing fitted."""

    sweep: SweepResult
    exit_code: int = 0

    def to_json(self, db: str) -> dict[str, Any]:
        return {**self.sweep.to_json(), "db": db}

    def summary(self) -> dict[str, Any]:
        r = self.sweep
        return {"decoder": r.decoder_name, "points": len(r.points), "ran_shots": r.ran_shots,
                "reused_shots": r.reused_shots}


@dataclass
class ThresholdResult:
    """The threshold fit of a sweep; per baseline label: its points, its fit's JSON (or why
    it failed) in ``baselines``, and in ``baseline_fits`` the fits that succeeded (for the plot)."""

    sweep: SweepResult
    fit: Any  # verifier.stats.threshold.ThresholdFit
    baseline_points: dict[str, list] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    baseline_fits: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.fit.status == "ok" else 3

    def to_json(self, db: str) -> dict[str, Any]:
        out = {**self.fit.to_json(), **_run_figures(self.sweep, db)}
        out["points"] = [point_json(r) for r in sorted(self.sweep.points,
                                                       key=lambda r: (r.workload.distance, r.workload.p))]
        if self.baselines:
            out["baselines"] = self.baselines
        return out

    def summary(self) -> dict[str, Any]:
        return {"decoder": self.sweep.decoder_name, "threshold": self.fit.threshold,
                "threshold_ci": list(self.fit.threshold_ci), "status": self.fit.status}


def threshold(result: SweepResult, *, bootstrap: int, fit_window: float | None,
              baselines: dict[str, list] | None = None) -> ThresholdResult:
    """Fit the threshold of ``result`` and of each baseline (label -> LerPoints) the same way."""
    from verifier.stats.threshold import fit_threshold, points_from_results

    seed = result.spec.seed if result.spec else 0
    fit_ = lambda pts: fit_threshold(pts, bootstrap=bootstrap, seed=seed, window=fit_window or None)  # noqa: E731
    out = ThresholdResult(result, fit_(points_from_results(result.points)), dict(baselines or {}))
    for label, pts in (baselines or {}).items():
        try:
            bf = fit_(pts)
        except ValueError as e:
            out.baselines[label] = {"status": "fit_failed", "message": str(e), "points": [q.to_json() for q in pts]}
            continue
        out.baselines[label] = bf.to_json()
        out.baseline_fits[label] = bf
    return out


@dataclass
class LambdaResult:
    """The Λ fit of a one-rate sweep; ``baselines`` label -> the baseline's fit."""

    sweep: SweepResult
    fit: Any  # verifier.stats.suppression.LambdaFit
    p: float
    baselines: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.fit.status == "ok" else 3

    def to_json(self, db: str) -> dict[str, Any]:
        spec = self.sweep.spec
        out = {**self.fit.to_json(), "p": self.p, **_run_figures(self.sweep, db),
               "rounds_factors": list(spec.rounds_factors) if spec and spec.rounds_factors else None}
        if self.baselines:
            out["baselines"] = {label: bf.to_json() for label, bf in self.baselines.items()}
        return out

    def summary(self) -> dict[str, Any]:
        return {"decoder": self.sweep.decoder_name, "lambda": self.fit.lam,
                "lambda_ci": list(self.fit.lam_ci), "convention": self.fit.convention, "status": self.fit.status}


def lambda_(result: SweepResult, *, bootstrap: int, baselines: dict[str, list] | None = None,
            convention: str | None = None) -> LambdaResult:
    """Fit Λ of ``result`` (one rate) in ``convention`` (None: google when the grid has
    several round counts per distance) and of each baseline (label -> EpsilonPoints) in
    the convention its round counts allow (a baseline's ``convention`` says which)."""
    from verifier.stats.suppression import fit_lambda, points_from_results

    seed = result.spec.seed if result.spec else 0
    fit = fit_lambda(points_from_results(result.points), bootstrap=bootstrap, seed=seed, convention=convention)
    base = {}
    for label, pts in (baselines or {}).items():
        try:
            base[label] = fit_lambda(pts, bootstrap=bootstrap, seed=seed)
        except ValueError as e:
            raise UsageError(f"baseline {label}: {e}") from None
    return LambdaResult(result, fit, result.spec.ps[0] if result.spec else float("nan"), base)



def run_grid(decoder: Decoder, spec: SweepSpec, analyse: Callable[[SweepResult], Any], *, store: "Store",
             command: str, workers: int, max_errors: int | None = None, executor=None,
             progress: Callable[[str], Any] | None = None,
             extras: Callable[[Any], dict[str, Any]] | None = None) -> tuple[Any, dict[str, Any]]:
    """Run (or reuse) the grid inside a recorded run, then ``analyse`` its result
    (:class:`GridResult`, :func:`threshold` or :func:`lambda_`). ``progress(label)`` is a
    context manager yielding a ``(stats, total)`` callback or None; ``extras(result)``
    writes the caller's files (plot, sinter CSV) inside the run and names them for the
    JSON. Returns the analysis and its JSON."""
    from verifier.engine.sweep import sweep
    from verifier.store.runs import recorded_run

    label = f"{decoder.name} sweep ({len(spec.distances) * len(spec.ps)} points)"
    with recorded_run(store, command) as rec:
        with progress(label) if progress else nullcontext(None) as cb:
            on_block = (lambda s, total, done, n: cb(s, total)) if cb else None
            points = sweep(decoder, spec, run=rec, workers=workers, max_errors=max_errors, progress=on_block,
                           executor=executor)
        result = analyse(points)
        payload = result.to_json(store.path)
        if extras is not None:
            payload.update(extras(result))
        rec.exit_code = result.exit_code
        rec.summary = result.summary()
    return result, payload
