"""Watched models and drift checks (see docs/acceptance.md, "Drift").

A *watched model* is a model in service: its file path, its sha256 at registration and
one or more reference workloads (each a *series*). ``check`` re-hashes the file, replays
every series with a fresh seed and compares with that model's in-control history in the
store:

* **file**: a changed sha256 (or a missing file) is drift, no statistics needed;
* **LER**: exact conditional test of equal rates between the new check (``x`` errors in
  ``n`` shots) and the pooled history (``E`` errors in ``N`` shots): under equal rates
  ``x | x + E ~ Binomial(x + E, n / (n + N))``; two-sided exact p-value (scipy
  ``binomtest``). The history's own uncertainty is therefore accounted for;
* **latency**: mean decode time per shot, on a log scale, against the history's checks
  (at least 3): a Student-t prediction interval, ``t = (log x - mean) / (s sqrt(1 + 1/k))``
  with ``k - 1`` degrees of freedom; flagged only when also beyond a relative tolerance
  (default 50 %), because machines are noisy and small shifts are not actionable.

All p-values of one invocation (every series of every model checked at once) are
corrected together with Holm's step-down procedure at family-wise level ``alpha``
(default 0.01). Checks that drifted are not used as history for later control limits.
"""

from __future__ import annotations

import json
import math
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from verifier.errors import SovError, UsageError

if TYPE_CHECKING:
    from verifier.evidence.keys import Key
    from verifier.gates.policy import WorkloadSpec
    from verifier.store.runs import Run
    from verifier.store.db import Store

DEFAULT_ALPHA = 0.01
DEFAULT_LATENCY_TOLERANCE = 0.5
MIN_LATENCY_HISTORY = 3

MakeDecoder = Callable[[str, dict], Any]  # (path, decoder options) -> Decoder


@dataclass(frozen=True)
class Watched:
    name: str
    path: str
    sha256: str
    contract: str | None
    spec: dict
    added_at: Any

    def to_json(self) -> dict:
        return {"name": self.name, "path": self.path, "sha256": self.sha256,
                "contract": self.contract, "spec": self.spec,
                "added_at": self.added_at.isoformat() if hasattr(self.added_at, "isoformat") else self.added_at}


def _jsonable_args(args: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in args.items()}


def get(store: "Store", name: str) -> Watched:
    rows = store.query("SELECT name, path, sha256, contract, spec, added_at FROM watched_models "
                       "WHERE name = ? AND removed_at IS NULL", [name])
    if not rows:
        raise UsageError(f"no watched model named {name!r} (see sov watch list)")
    r = rows[0]
    return Watched(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5])


def list_watched(store: "Store") -> list[Watched]:
    if not Path(store.path).exists():
        return []
    rows = store.query("SELECT name, path, sha256, contract, spec, added_at FROM watched_models "
                       "WHERE removed_at IS NULL ORDER BY name")
    return [Watched(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]


def add(store: "Store", path: str | Path, name: str, workloads: "list[WorkloadSpec]", *,
        decoder_options: dict | None = None, contract: str | None = None,
        experiment: str | None = None) -> Watched:
    """Register a model in service (its hash now, its reference workloads). A calibration
    model gives ``experiment`` instead of workloads: its series is the parameters it
    returns on sov's fixed reference data set (``verifier.calib.accept.drift_signature``)."""
    from verifier.store.db import now
    from verifier.hashing import sha256_file

    if not name or any(c.isspace() for c in name):
        raise UsageError(f"--name must be a non-empty word, got {name!r}")
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"model file not found: {p}")
    if not workloads and not experiment:
        raise UsageError("a watched model needs a reference workload (workload flags or --policy), "
                         "or --experiment for a calibration model")
    existing = store.query("SELECT 1 FROM watched_models WHERE name = ? AND removed_at IS NULL", [name]) \
        if Path(store.path).exists() else []
    if existing:
        raise UsageError(f"a watched model named {name!r} exists: sov watch remove {name} first")
    spec = {"workloads": [{"name": w.name, "args": _jsonable_args(w.args)} for w in workloads],
            "decoder": dict(decoder_options or {}, contract=contract)}
    if experiment:
        spec["calibration"] = {"experiment": experiment}
    w = Watched(name, str(p.resolve()), sha256_file(p), contract, spec, now())
    with store.connect() as con:
        con.execute("INSERT INTO watched_models VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [w.name, w.path, w.sha256, w.contract, json.dumps(spec), w.added_at])
    return w


def remove(store: "Store", name: str) -> Watched:
    from verifier.store.db import now

    w = get(store, name)
    with store.connect() as con:
        con.execute("UPDATE watched_models SET removed_at = ? WHERE name = ? AND removed_at IS NULL",
                    [now(), name])
    return w


# -- statistics ------------------------------------------------------------------------------

def ler_p_value(x: int, n: int, hist_errors: int, hist_shots: int) -> float:
    """Two-sided exact conditional test of equal binomial rates (new vs pooled history)."""
    if n <= 0 or hist_shots <= 0 or x + hist_errors == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(x, x + hist_errors, n / (n + hist_shots)).pvalue)


def latency_p_value(x: float, history: list[float]) -> float | None:
    """Two-sided Student-t prediction p-value of ``log x`` against ``log history``."""
    vals = [math.log(v) for v in history if v > 0]
    if len(vals) < MIN_LATENCY_HISTORY or x <= 0:
        return None
    from scipy.stats import t as student

    k = len(vals)
    mean = sum(vals) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (k - 1))
    sd = max(sd, 0.02)  # floor: timing repeatability is never better than ~2 %
    tstat = (math.log(x) - mean) / (sd * math.sqrt(1 + 1 / k))
    return float(2 * student.sf(abs(tstat), k - 1))


def holm(p_values: list[float], alpha: float) -> tuple[list[float], list[bool]]:
    """Holm step-down: adjusted p-values and rejections at family-wise level ``alpha``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted, [a <= alpha for a in adjusted]


# -- checks ----------------------------------------------------------------------------------

@dataclass
class SeriesCheck:
    series: str
    workload_id: str | None = None
    seed: int | None = None
    shots: int = 0
    errors: int = 0
    seconds: float = 0.0
    history_checks: int = 0
    history_shots: int = 0
    history_errors: int = 0
    history_latency_us: list[float] = field(default_factory=list)
    ler_p: float | None = None
    ler_p_adjusted: float | None = None
    latency_p: float | None = None
    latency_p_adjusted: float | None = None
    ler_drift: bool = False
    latency_drift: bool = False
    error: str | None = None
    signature: dict | None = None  # calibration models: what the model returned
    cal_shift: dict | None = None  # calibration models: compare_signatures(history, now)
    cal_drift: bool = False

    @property
    def ler(self) -> float | None:
        return self.errors / self.shots if self.shots else None

    @property
    def history_ler(self) -> float | None:
        return self.history_errors / self.history_shots if self.history_shots else None

    @property
    def latency_us(self) -> float | None:
        return self.seconds / self.shots * 1e6 if self.shots and self.seconds > 0 else None

    @property
    def history_latency_median_us(self) -> float | None:
        h = sorted(self.history_latency_us)
        return h[len(h) // 2] if h else None

    def to_json(self) -> dict:
        from verifier.stats.binomial import clopper_pearson

        d = {k: getattr(self, k) for k in ("series", "workload_id", "seed", "shots", "errors",
                                          "history_checks", "history_shots", "history_errors",
                                          "ler_p", "ler_p_adjusted", "latency_p",
                                          "latency_p_adjusted", "ler_drift", "latency_drift", "error",
                                          "signature", "cal_shift", "cal_drift")}
        d.update(ler=self.ler, ler_ci=list(clopper_pearson(self.errors, self.shots)) if self.shots else None,
                 history_ler=self.history_ler, latency_us=self.latency_us,
                 history_latency_median_us=self.history_latency_median_us)
        return d


@dataclass
class ModelCheck:
    watched: Watched
    sha256_now: str | None
    series: list[SeriesCheck] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def hash_changed(self) -> bool:
        return self.sha256_now != self.watched.sha256

    @property
    def drift(self) -> bool:
        return self.hash_changed or any(s.ler_drift or s.latency_drift or s.cal_drift or s.error
                                        for s in self.series)

    def to_json(self) -> dict:
        return {"name": self.watched.name, "path": self.watched.path, "status": "drift" if self.drift else "ok",
                "sha256_expected": self.watched.sha256, "sha256_now": self.sha256_now,
                "hash_changed": self.hash_changed, "findings": self.findings,
                "series": [s.to_json() for s in self.series]}


@dataclass
class DriftReport:
    models: list[ModelCheck]
    alpha: float
    latency_tolerance: float
    run_id: str | None = None
    evidence: list[dict] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(m.drift for m in self.models)

    @property
    def exit_code(self) -> int:
        return 1 if self.drift else 0

    def to_json(self) -> dict:
        return {"status": "drift" if self.drift else "ok", "exit_code": self.exit_code,
                "alpha": self.alpha, "correction": "holm", "latency_tolerance": self.latency_tolerance,
                "run_id": self.run_id, "models": [m.to_json() for m in self.models],
                "evidence_hashes": [e["hash"]["value"] for e in self.evidence]}


def _history(store: "Store", w: Watched, series: str) -> tuple[int, int, int, list[float]]:
    rows = store.query("SELECT shots, errors, seconds FROM drift_checks WHERE name = ? AND series = ? "
                       "AND in_control AND sha256 = ? AND checked_at >= ? AND status != 'error'",
                       [w.name, series, w.sha256, w.added_at])
    shots = sum(r[0] or 0 for r in rows)
    errors = sum(r[1] or 0 for r in rows)
    lat = [r[2] / r[0] * 1e6 for r in rows if r[0] and r[2] and r[2] > 0]
    return len(rows), shots, errors, lat


def run_series(store: "Store", w: Watched, *, run: "Run", make_decoder: MakeDecoder, workers: int,
               seed: int | None, only: str | None = None,
               make_calibration_model: Callable[..., Any] | None = None) -> list[SeriesCheck]:
    """Replay each reference workload of ``w`` with a fresh seed (or ``seed``)."""
    from verifier.workflows.accept import build_workload
    from verifier.workflows.qec import run_task

    out = []
    cal = w.spec.get("calibration")
    if cal and (only is None or only == cal["experiment"]):
        out.append(_calibration_series(store, w, cal["experiment"], make_calibration_model))
    for entry in w.spec["workloads"]:
        if only is not None and entry["name"] != only:
            continue
        s = SeriesCheck(entry["name"])
        args = dict(entry["args"])
        for k in ("circuit", "dets", "obs"):
            if args.get(k) is not None:
                args[k] = Path(args[k])
        s.seed = seed if seed is not None else secrets.randbits(62)
        args["seed"] = s.seed
        n, s.history_shots, s.history_errors, s.history_latency_us = _history(store, w, s.series)
        s.history_checks = n
        try:
            wl = build_workload(args)
            s.workload_id = wl.id
            dec = make_decoder(w.path, w.spec.get("decoder", {}))
            res = run_task(dec, wl, run=run, workers=workers)
        except SovError as e:
            s.error = f"{type(e).__name__}: {e}"
            out.append(s)
            continue
        s.shots, s.errors, s.seconds = res.stats.shots, res.stats.errors, res.stats.seconds
        out.append(s)
    return out


def _calibration_series(store: "Store", w: Watched, experiment: str,
                        make_calibration_model: Callable[..., Any] | None) -> SeriesCheck:
    """A calibration model's parameters on the fixed reference data set, compared with the
    last in-control check (deterministic data: any shift beyond 1e-4 relative is drift)."""
    s = SeriesCheck(experiment)
    try:
        from verifier.calib.accept import compare_signatures, drift_signature
    except ImportError as e:  # pragma: no cover - calibration support missing in this build
        s.error = f"calibration drift needs verifier.calib ({e})"
        return s
    rows = store.query("SELECT figures FROM drift_checks WHERE name = ? AND series = ? AND in_control "
                       "AND sha256 = ? AND checked_at >= ? AND status != 'error' ORDER BY checked_at DESC",
                       [w.name, experiment, w.sha256, w.added_at])
    old = next((json.loads(r[0]).get("signature") for r in rows if r[0]), None)
    s.history_checks = len(rows)
    try:
        s.signature = drift_signature(w.path, experiment, resolve=make_calibration_model)
    except SovError as e:
        s.error = f"{type(e).__name__}: {e}"
        return s
    s.workload_id = s.signature.get("reference_id")
    if old is not None:
        s.cal_shift = compare_signatures(old, s.signature)
        s.cal_drift = bool(s.cal_shift.get("drift"))
    return s


def establish(store: "Store", w: Watched, *, run: "Run", make_decoder: MakeDecoder, workers: int = 1,
              make_calibration_model: Callable[..., Any] | None = None) -> list[SeriesCheck]:
    """First reference replay at registration, with the workload's own seed (history point 1)."""
    from verifier.store.db import now

    checks = []
    if w.spec.get("calibration"):
        checks += run_series(store, w, run=run, make_decoder=make_decoder, workers=workers,
                             seed=None, only=w.spec["calibration"]["experiment"],
                             make_calibration_model=make_calibration_model)
    for entry in w.spec["workloads"]:
        seed = entry["args"].get("seed", 0)
        checks += run_series(store, w, run=run, make_decoder=make_decoder, workers=workers,
                             seed=seed, only=entry["name"])
    errors = [c for c in checks if c.error]
    if errors:
        raise UsageError(f"{w.name}: the reference workload {errors[0].series!r} cannot run: {errors[0].error}")
    with store.connect() as con:
        for c in checks:
            con.execute("INSERT INTO drift_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [w.name, run.run_id, c.series, w.sha256, True, c.seed, c.shots, c.errors,
                         c.seconds, "baseline", json.dumps(c.to_json()), now()])
    return checks


def check(store: "Store", names: list[str] | None, *, run: "Run", make_decoder: MakeDecoder,
          workers: int = 1, alpha: float = DEFAULT_ALPHA, seed: int | None = None,
          latency_tolerance: float = DEFAULT_LATENCY_TOLERANCE,
          keys: "list[Key] | None" = None,
          make_calibration_model: Callable[..., Any] | None = None) -> DriftReport:
    """Check the named watched models (all when ``names`` is None) and record the outcome."""
    from verifier.hashing import sha256_file

    if not (0 < alpha < 1):
        raise UsageError(f"--alpha must lie in (0, 1), got {alpha}")
    if latency_tolerance < 0:
        raise UsageError(f"--latency-tolerance must be >= 0, got {latency_tolerance}")
    watched = [get(store, n) for n in names] if names is not None else list_watched(store)
    if not watched:
        raise UsageError("no watched models: register one with sov watch add PATH --name NAME")
    models: list[ModelCheck] = []
    for w in watched:
        p = Path(w.path)
        now_hash = sha256_file(p) if p.is_file() else None
        mc = ModelCheck(w, now_hash)
        if now_hash is None:
            mc.findings.append(f"file missing: {w.path}")
        else:
            if mc.hash_changed:
                mc.findings.append(f"file changed: sha256 {w.sha256[:16]}... -> {now_hash[:16]}... ({w.path})")
            mc.series = run_series(store, w, run=run, make_decoder=make_decoder, workers=workers, seed=seed,
                                   make_calibration_model=make_calibration_model)
        models.append(mc)

    # every statistical test of this invocation, corrected together (Holm)
    tests: list[tuple[SeriesCheck, str, float]] = []
    for mc in models:
        for s in mc.series:
            if s.error or not s.shots:
                continue
            if s.history_shots:
                s.ler_p = ler_p_value(s.errors, s.shots, s.history_errors, s.history_shots)
                tests.append((s, "ler", s.ler_p))
            if s.latency_us is not None:
                s.latency_p = latency_p_value(s.latency_us, s.history_latency_us)
                if s.latency_p is not None:
                    tests.append((s, "latency", s.latency_p))
    adjusted, reject = holm([t[2] for t in tests], alpha) if tests else ([], [])
    for (s, what, _), adj, rej in zip(tests, adjusted, reject):
        if what == "ler":
            s.ler_p_adjusted, s.ler_drift = adj, rej
        else:
            s.latency_p_adjusted = adj
            med = s.history_latency_median_us or 0.0
            ratio = s.latency_us / med if med else math.inf
            s.latency_drift = rej and abs(math.log(ratio)) > math.log1p(latency_tolerance)
    for mc in models:
        for s in mc.series:
            if s.error:
                mc.findings.append(f"{s.series}: cannot run: {s.error}")
            if s.cal_drift:
                shifts = ", ".join(f"{k}: {v.get('max_rel_shift', v) if isinstance(v, dict) else v:.3g}"
                                   for k, v in (s.cal_shift or {}).get("shift", {}).items())
                mc.findings.append(f"{s.series}: calibration output shift on the reference data ({shifts})")
            if s.ler_drift:
                mc.findings.append(f"{s.series}: LER shift: {s.errors}/{s.shots} = {s.ler:.3e} vs history "
                                   f"{s.history_errors}/{s.history_shots} = {s.history_ler:.3e} "
                                   f"(p = {s.ler_p:.2g}, Holm-adjusted {s.ler_p_adjusted:.2g})")
            if s.latency_drift:
                mc.findings.append(f"{s.series}: latency shift: {s.latency_us:.3g} us/shot vs history median "
                                   f"{s.history_latency_median_us:.3g} (p = {s.latency_p:.2g}, "
                                   f"Holm-adjusted {s.latency_p_adjusted:.2g})")
    report = DriftReport(models, alpha, latency_tolerance, run_id=run.run_id)
    _record(store, report, run=run, keys=keys)
    return report


def _record(store: "Store", report: DriftReport, *, run: "Run", keys) -> None:
    from verifier.evidence import record as evidence
    from verifier.store.db import now

    for mc in report.models:
        w = mc.watched
        verdict_id = uuid.uuid4().hex
        body = {"kind": "drift", "run_id": run.run_id, "verdict_id": verdict_id,
                "subject": {"watched": w.name, "path": w.path, "sha256_expected": w.sha256,
                            "sha256_now": mc.sha256_now},
                "workloads": [{"name": s.series, "id": s.workload_id, "seed": s.seed} for s in mc.series],
                "figures": mc.to_json(), "gates": [],
                "alpha": report.alpha, "correction": "holm",
                "verdict": "drift" if mc.drift else "ok", "exit_code": 1 if mc.drift else 0}
        doc = evidence.append(store, body, keys=keys, run_id=run.run_id, verdict_id=verdict_id)
        report.evidence.append(doc)
        with store.connect() as con:
            for s in mc.series:
                status = "error" if s.error else ("drift" if (mc.drift) else
                                                  ("ok" if s.history_checks else "baseline"))
                in_control = not (mc.hash_changed or s.error or s.ler_drift or s.latency_drift or s.cal_drift)
                con.execute("INSERT INTO drift_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [w.name, run.run_id, s.series, mc.sha256_now, in_control, s.seed,
                             s.shots, s.errors, s.seconds, status,
                             json.dumps(evidence.clean(s.to_json())), now()])
            if not mc.series:
                con.execute("INSERT INTO drift_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [w.name, run.run_id, "-", mc.sha256_now, False, None, 0, 0, 0.0,
                             "drift", json.dumps({"findings": mc.findings}), now()])
            con.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [verdict_id, run.run_id, "drift", w.name, body["verdict"], body["exit_code"],
                         json.dumps([]), json.dumps(evidence.clean(mc.to_json())),
                         doc["hash"]["value"], now()])


# -- scheduling ------------------------------------------------------------------------------

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_every(text: str) -> tuple[int, str]:
    """``15m``, ``6h``, ``1d``, ``1w`` -> (count, unit)."""
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in _UNITS or not t[:-1].isdigit() or int(t[:-1]) < 1:
        raise UsageError(f"--every must look like 30m, 6h, 1d or 1w, got {text!r}")
    return int(t[:-1]), t[-1]


def schedule(name: str, every: str, fmt: str, *, sov_exe: str, db: str, workdir: str,
             log: str | None = None) -> str:
    """The systemd service + timer units, or the crontab line, that run the drift check."""
    n, unit = parse_every(every)
    cmd = f"{sov_exe} drift check --name {name} --db {db} --json {log or '-'}"
    if fmt == "cron":
        if unit == "m":
            if n >= 60 or 60 % n:
                raise UsageError("cron minutes must divide 60 (e.g. 5m, 15m, 30m); use h for longer")
            when = f"*/{n} * * * *" if n > 1 else "* * * * *"
        elif unit == "h":
            if n >= 24 or 24 % n:
                raise UsageError("cron hours must divide 24 (e.g. 1h, 6h, 12h); use d for longer")
            when = f"17 */{n} * * *" if n > 1 else "17 * * * *"
        elif unit == "d":
            when = f"17 3 */{n} * *" if n > 1 else "17 3 * * *"
        else:
            if n != 1:
                raise UsageError("cron can run weekly (1w), not every several weeks")
            when = "17 3 * * 1"
        return (f"# sov drift check for {name}, every {every}; exit 1 on drift (cron mails the output)\n"
                f"{when} cd {workdir} && {cmd} >> {workdir}/sov-drift-{name}.log 2>&1\n")
    if fmt != "systemd":
        raise UsageError(f"--format must be systemd or cron, got {fmt!r}")
    seconds = n * _UNITS[unit]
    return f"""# /etc/systemd/system/sov-drift-{name}.service  (or ~/.config/systemd/user/)
[Unit]
Description=sov drift check for watched model {name}

[Service]
Type=oneshot
WorkingDirectory={workdir}
ExecStart={cmd}
# exit 1 = drift found, 4 = integrity failure: the unit shows as failed, OnFailure= can alert
SuccessExitStatus=0

# /etc/systemd/system/sov-drift-{name}.timer
[Unit]
Description=Run the sov drift check for {name} every {every}

[Timer]
OnBootSec=5min
OnUnitActiveSec={seconds}s
AccuracySec=1min

[Install]
WantedBy=timers.target

# enable with: systemctl daemon-reload && systemctl enable --now sov-drift-{name}.timer
"""
