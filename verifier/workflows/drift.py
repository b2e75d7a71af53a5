"""``sov drift check``: is a watched model still what was accepted? (docs/acceptance.md,
"Drift"; the registry of watched models is ``verifier.workflows.drift_registry``.)

``check`` re-hashes each watched file, replays every reference series with a fresh seed
and compares with that model's in-control history in the store:

* **integrity**: a replay that fails an integrity check (NaN outputs, ...) is reported as
  such (exit 4, status ``integrity``), not as drift;
* **file**: a changed sha256 (or a missing file) is drift, no statistics needed;
* **LER**: exact conditional test of equal rates against the pooled history
  (``verifier.stats.drift.ler_p_value``), so the history's own uncertainty counts;
* **latency**: a Student-t prediction interval on a log scale against the history's checks
  (at least 3, ``verifier.stats.drift.latency_p_value``), flagged only when also beyond a
  relative tolerance (default 50 %), because machines are noisy and small shifts are not
  actionable;
* **calibration**: a calibration model's parameters on the fixed reference data set
  against the last in-control check (deterministic data: any shift beyond 1e-4 relative).

All p-values of one invocation (every series of every model checked at once) are
corrected together with Holm's step-down procedure at family-wise level ``alpha``. By
default ``alpha`` is the share of a yearly false-alarm budget (5 % a year) that one check
at the declared cadence (daily) may spend (``verifier.stats.drift.FalseAlarmBudget``); an
explicit ``alpha`` overrides it. Checks that drifted are not used as history for later
control limits.
"""

from __future__ import annotations

import json
import math
import secrets
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from verifier.errors import IntegrityError, ResourceLimit, SovError, UsageError
from verifier.jsonsafe import json_safe
from verifier.stats.drift import FalseAlarmBudget, holm, latency_p_value, ler_p_value
from verifier.qec.workload import FILE_FLAGS
from verifier.store import watch as rows
from verifier.store.verdicts import VerdictRow
from verifier.store.watch import DriftCheckRow, Watched
from verifier.workflows.drift_report import DriftReport, ModelCheck, SeriesCheck, findings_of

if TYPE_CHECKING:
    from verifier.evidence.keys import Key
    from verifier.gates.policy import WorkloadSpec
    from verifier.store.db import Store
    from verifier.store.runs import Run

DEFAULT_LATENCY_TOLERANCE = 0.5

MakeDecoder = Callable[[str, dict], Any]  # (path, decoder options) -> Decoder
# (calibration model path, experiment, recorded folder or None) -> drift signature
Signature = Callable[[str, str, "str | None"], dict]


def _history(store: "Store", w: Watched, series: str) -> tuple[int, int, int, list[float]]:
    counts = rows.in_control_counts(store, w, series)
    shots = sum(r[0] or 0 for r in counts)
    errors = sum(r[1] or 0 for r in counts)
    lat = [r[2] / r[0] * 1e6 for r in counts if r[0] and r[2] and r[2] > 0]
    return len(counts), shots, errors, lat


def _replay(store: "Store", w: Watched, entry: dict, *, run: "Run", make_decoder: MakeDecoder,
            workers: int, seed: int | None) -> SeriesCheck:
    from verifier.qec.flags import from_flags
    from verifier.workflows.qec import run_task

    s = SeriesCheck(entry["name"])
    args = dict(entry["args"])
    for k in FILE_FLAGS:
        if args.get(k) is not None:
            args[k] = Path(args[k])
    s.seed = seed if seed is not None else secrets.randbits(62)
    args["seed"] = s.seed
    n, s.history_shots, s.history_errors, s.history_latency_us = _history(store, w, s.series)
    s.history_checks = n
    try:
        wl = from_flags(**args)
        s.workload_id = wl.id
        dec = make_decoder(w.path, w.spec.get("decoder", {}))
        res = run_task(dec, wl, run=run, workers=workers)
    except SovError as e:
        s.error, s.failure = str(e), e
        return s
    s.shots, s.errors, s.seconds = res.stats.shots, res.stats.errors, res.stats.seconds
    return s


def run_series(store: "Store", w: Watched, *, run: "Run", make_decoder: MakeDecoder, workers: int,
               seed: int | None, only: str | None = None,
               signature: Signature | None = None) -> list[SeriesCheck]:
    """Replay each reference workload of ``w`` with a fresh seed (or ``seed``)."""
    out = []
    cal = w.spec.get("calibration")
    if cal and (only is None or only == cal["experiment"]):
        out.append(_calibration_series(store, w, cal["experiment"], signature, cal.get("folder")))
    for entry in w.spec["workloads"]:
        if only is None or entry["name"] == only:
            out.append(_replay(store, w, entry, run=run, make_decoder=make_decoder,
                               workers=workers, seed=seed))
    return out


def _calibration_series(store: "Store", w: Watched, experiment: str,
                        signature: Signature | None, folder: str | None = None) -> SeriesCheck:
    """A calibration model's parameters on the fixed reference data set (or the recorded
    ``folder``), compared with the last in-control check (deterministic data: any shift
    beyond 1e-4 relative is drift)."""
    s = SeriesCheck(experiment)
    if signature is None:
        s.error = "calibration drift needs verifier.calib (no signature function given)"
        return s
    from verifier.calib.accept import compare_signatures

    figures = rows.in_control_figures(store, w, experiment)
    old = next((json.loads(f).get("signature") for f in figures if f), None)
    s.history_checks = len(figures)
    try:
        s.signature = signature(w.path, experiment, folder)
    except SovError as e:
        s.error, s.failure = str(e), e
        return s
    s.workload_id = s.signature.get("reference_id")
    if old is not None and old.get("reference_id") != s.workload_id:
        # new data in the folder is not the model drifting: say so, judge nothing
        s.error = (f"the reference folder {folder} changed since it was registered (its content hash "
                   f"differs): register the model again to watch the new data")
        s.failure = UsageError(s.error)
        return s
    if old is not None:
        s.cal_shift = compare_signatures(old, s.signature)
        s.cal_drift = bool(s.cal_shift.get("drift"))
    return s


def _reference_series(store: "Store", w: Watched, *, run: "Run", make_decoder: MakeDecoder,
                      workers: int = 1, signature: Signature | None = None) -> list[SeriesCheck]:
    """Every reference series of ``w`` with the workload's own seed; the first that cannot
    run is raised with its own class (an integrity failure stays exit 4)."""
    checks = []
    if w.spec.get("calibration"):
        checks += run_series(store, w, run=run, make_decoder=make_decoder, workers=workers,
                             seed=None, only=w.spec["calibration"]["experiment"], signature=signature)
    for entry in w.spec["workloads"]:
        seed = entry["args"].get("seed", 0)
        checks += run_series(store, w, run=run, make_decoder=make_decoder, workers=workers,
                             seed=seed, only=entry["name"])
    bad = next((c for c in checks if c.error), None)
    if bad is not None:
        cls = (IntegrityError if bad.integrity else
               ResourceLimit if isinstance(bad.failure, ResourceLimit) else UsageError)
        what = "fails an integrity check" if bad.integrity else "cannot run"
        raise cls(f"{w.name}: the reference workload {bad.series!r} {what}: {bad.error}")
    return checks


def register(store: "Store", path: Path, name: str, workloads: "list[WorkloadSpec]", *,
             make_decoder: MakeDecoder, load_calibration: Callable[[str, str, str | None], Any],
             decoder_options: dict, contract: str | None = None, experiment: str | None = None,
             replay_now: bool = True, workers: int = 1, signature: Signature | None = None,
             folder: Path | None = None) -> tuple[Watched, list[SeriesCheck]]:
    """``sov drift add``: refuse a model that cannot load (exit 2/4), a workload that
    cannot be built, or a reference replay that fails (an integrity failure is exit 4, a
    time-out exit 2) before anything is registered; then register the model and record
    that replay as the start of its history."""
    from verifier.qec.flags import from_flags
    from verifier.store.runs import recorded_run
    from verifier.workflows.drift_registry import prepare

    if experiment is not None:
        m = load_calibration(str(path), experiment, contract)
        if hasattr(m, "close"):
            m.close()
    else:
        make_decoder(str(path), dict(decoder_options, contract=contract))
    for w in workloads:
        from_flags(**w.args)
    with recorded_run(store, "watch add") as rec:
        watched = prepare(store, path, name, workloads, decoder_options=decoder_options,
                          contract=contract, experiment=experiment, folder=folder)
        checks = _reference_series(store, watched, run=rec, make_decoder=make_decoder, workers=workers,
                                   signature=signature) if replay_now else []
        rows.insert_watched(store, watched)
        rows.record_checks(store, [DriftCheckRow(name, rec.run_id, c.series, watched.sha256, True, c.seed,
                                                 c.shots, c.errors, c.seconds, "baseline",
                                                 json.dumps(c.to_json())) for c in checks])
        rec.summary = {"name": name, "sha256": watched.sha256}
    return watched, checks


def _check_model(store: "Store", w: Watched, **replay: Any) -> ModelCheck:
    from verifier.hashing import sha256_file

    p = Path(w.path)
    now_hash = sha256_file(p) if p.is_file() else None
    mc = ModelCheck(w, now_hash)
    if now_hash is None:
        mc.findings.append(f"file missing: {w.path}")
        return mc
    if mc.hash_changed:
        mc.findings.append(f"file changed: sha256 {w.sha256[:16]}... -> {now_hash[:16]}... ({w.path})")
    mc.series = run_series(store, w, **replay)
    return mc


def _busy() -> str | None:
    """Why latency cannot be judged now: a load average above the cores makes wall-clock
    timings say more about the other processes than about the model (a 2.5x swing was
    observed on an unchanged model); the check then records the timing and says so."""
    from verifier.environment import load_now

    now = load_now()
    if now["high"]:
        return f"latency not judged: load average {now['load_average'][0]:g} on {now['cores']} cores"
    return None


def _test(models: list[ModelCheck], alpha: float, latency_tolerance: float) -> None:
    """Every statistical test of this invocation, corrected together (Holm)."""
    tests: list[tuple[SeriesCheck, str, float]] = []
    busy = _busy()
    for mc in models:
        for s in mc.series:
            if s.error or not s.shots:
                continue
            if s.history_shots:
                s.ler_p = ler_p_value(s.errors, s.shots, s.history_errors, s.history_shots)
                tests.append((s, "ler", s.ler_p))
            if s.latency_us is not None and busy:
                s.latency_note = busy
            elif s.latency_us is not None:
                s.latency_p = latency_p_value(s.latency_us, s.history_latency_us)
                if s.latency_p is not None:
                    tests.append((s, "latency", s.latency_p))
    adjusted, reject = holm([t[2] for t in tests], alpha) if tests else ([], [])
    for (s, what, _), adj, rej in zip(tests, adjusted, reject):
        if what == "ler":
            s.ler_p_adjusted, s.ler_drift = adj, rej
        else:
            s.latency_p_adjusted = adj
            s.latency_drift = rej and _beyond(s.latency_us, s.history_latency_median_us, latency_tolerance)


def _beyond(latency_us: float, median_us: float | None, tolerance: float) -> bool:
    """A latency further from the history's median than the tolerance (relative, on a log
    scale); with no median, any latency is."""
    return not median_us or abs(math.log(latency_us / median_us)) > math.log1p(tolerance)


def confirm_latency(models: list[ModelCheck], alpha: float, latency_tolerance: float,
                    remeasure: Callable[[ModelCheck, SeriesCheck], "float | None"]) -> None:
    """A latency alarm stands only when a second timing confirms it. One replay's decode
    time is short (milliseconds for a small workload) and a single interruption of the
    process can double it (seen: 2.3 vs 1.19 us/shot on an idle machine, an unchanged
    model); a real change persists. ``remeasure`` replays the series on fresh shots and
    returns its latency (us/shot): the alarm stands when that one alone is also beyond the
    tolerance, on the same side, at the per-check level ``alpha``."""
    for mc in models:
        for s in mc.series:
            if not s.latency_drift:
                continue
            second = remeasure(mc, s)
            med = s.history_latency_median_us or 0.0
            p2 = latency_p_value(second, s.history_latency_us) if second else None
            same_side = bool(second and med and (second > med) == (s.latency_us > med))
            beyond = bool(second) and _beyond(second, med, latency_tolerance)
            s.latency_confirm_us = second
            if p2 is None or p2 > alpha or not (same_side and beyond):
                s.latency_drift = False
                s.latency_note = (f"a timing of {s.latency_us:.3g} us/shot (history median {med:.3g}) was not "
                                  f"confirmed by a second replay ({second:.3g} us/shot): a transient, not judged "
                                  "as drift" if second else "a latency shift could not be re-measured: not judged")


def check(store: "Store", names: list[str] | None, *, run: "Run", make_decoder: MakeDecoder,
          workers: int = 1, alpha: float | None = None, budget: FalseAlarmBudget | None = None,
          seed: int | None = None, latency_tolerance: float = DEFAULT_LATENCY_TOLERANCE,
          keys: "list[Key] | None" = None, signature: Signature | None = None) -> DriftReport:
    """Check the named watched models (all when ``names`` is None) and record the outcome.
    The level: ``alpha`` if given, else the per-check share of ``budget`` (default: 5 % a
    year at daily checks)."""
    from verifier.workflows.drift_registry import get, list_watched

    if alpha is None:
        budget = budget or FalseAlarmBudget()
        if not (0 < budget.per_year < 1) or not (budget.every_seconds > 0):
            raise UsageError(f"--false-alarms-per-year must lie in (0, 1), got {budget.per_year}")
        alpha = budget.alpha
    else:
        budget = None
    if not (0 < alpha < 1):
        raise UsageError(f"--alpha must lie in (0, 1), got {alpha}")
    if latency_tolerance < 0:
        raise UsageError(f"--latency-tolerance must be >= 0, got {latency_tolerance}")
    watched = [get(store, n) for n in names] if names is not None else list_watched(store)
    if not watched:
        raise UsageError("no watched models: register one with sov drift add --decoder FILE --name NAME")
    models = [_check_model(store, w, run=run, make_decoder=make_decoder, workers=workers,
                           seed=seed, signature=signature) for w in watched]
    _test(models, alpha, latency_tolerance)

    def remeasure(mc: ModelCheck, s: SeriesCheck) -> float | None:
        entry = next((e for e in mc.watched.spec["workloads"] if e["name"] == s.series), None)
        if entry is None:
            return None
        again = _replay(store, mc.watched, entry, run=run, make_decoder=make_decoder, workers=workers, seed=None)
        return None if again.error else again.latency_us

    confirm_latency(models, alpha, latency_tolerance, remeasure)
    for mc in models:
        for s in mc.series:
            mc.findings += findings_of(s)
    report = DriftReport(models, alpha, latency_tolerance, run_id=run.run_id, budget=budget)
    _record(store, report, run=run, keys=keys)
    return report


def _series_row(w: Watched, mc: ModelCheck, s: SeriesCheck, run_id: str) -> DriftCheckRow:
    status = ("integrity" if s.integrity else "error" if s.error else
              "drift" if mc.drift else ("ok" if s.history_checks else "baseline"))
    in_control = not (mc.hash_changed or s.error or s.ler_drift or s.latency_drift or s.cal_drift)
    return DriftCheckRow(w.name, run_id, s.series, mc.sha256_now, in_control, s.seed, s.shots,
                         s.errors, s.seconds, status, json.dumps(json_safe(s.to_json())))


def _record(store: "Store", report: DriftReport, *, run: "Run", keys) -> None:
    from verifier.evidence import record as evidence

    for mc in report.models:
        w = mc.watched
        verdict_id = uuid.uuid4().hex
        body = {"kind": "drift", "run_id": run.run_id, "verdict_id": verdict_id,
                "subject": {"watched": w.name, "path": w.path, "sha256_expected": w.sha256,
                            "sha256_now": mc.sha256_now},
                "workloads": [{"name": s.series, "id": s.workload_id, "seed": s.seed} for s in mc.series],
                "figures": mc.to_json(), "gates": [],
                "alpha": report.alpha, "correction": "holm",
                "budget": report.budget.to_json() if report.budget else None,
                "verdict": mc.status, "exit_code": mc.exit_code}
        row = VerdictRow(verdict_id, run.run_id, "drift", w.name, body["verdict"], body["exit_code"],
                         json.dumps([]), json.dumps(json_safe(mc.to_json())), None)
        doc = evidence.append(store, body, keys=keys, run_id=run.run_id, verdict_id=verdict_id,
                              verdict_row=row)  # the row goes in the record's transaction, hashed into it
        report.evidence.append(doc)
        checks = [_series_row(w, mc, s, run.run_id) for s in mc.series] or [
            DriftCheckRow(w.name, run.run_id, "-", mc.sha256_now, False, None, 0, 0, 0.0, "drift",
                          json.dumps({"findings": mc.findings}))]
        rows.record_checks(store, checks)


def run_check(store: "Store", names: list[str] | None, *, all_: bool, make_decoder: MakeDecoder,
              workers: int = 1, alpha: float | None = None, budget: FalseAlarmBudget | None = None,
              seed: int | None = None,
              latency_tolerance: float = DEFAULT_LATENCY_TOLERANCE, key_file: "Path | None" = None,
              signature: Signature | None = None) -> DriftReport:
    """``sov drift check``: :func:`check` inside one recorded run, records signed with the
    keys of ``key_file``."""
    from verifier.store.runs import recorded_run

    if bool(names) == all_:
        raise UsageError("give --name NAME (repeatable) or --all")
    keys = None
    if key_file is not None:
        from verifier.evidence.keys import load_keys

        keys = load_keys(key_file, want="private")
    with recorded_run(store, "drift check") as rec:
        report = check(store, None if all_ else list(names or []), run=rec, make_decoder=make_decoder,
                       workers=workers, alpha=alpha, budget=budget, seed=seed, latency_tolerance=latency_tolerance,
                       keys=keys, signature=signature)
        rec.exit_code = report.exit_code
        rec.summary = {"status": report.status, "models": {m.watched.name: m.status for m in report.models}}
    return report
