"""``sov compare``: several decoders on the same grid of workloads, one report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer

from verifier.cli import options as o
from verifier.cli import wiring
from verifier.errors import UsageError

HtmlOpt = Annotated[Optional[Path], typer.Option("--html", metavar="FILE", help="Write the self-contained HTML report.")]
MarkdownOpt = Annotated[Optional[Path], typer.Option("--markdown", metavar="FILE", help="Write the Markdown summary.")]
ReportJsonOpt = Annotated[Optional[str], typer.Option("--json", metavar="FILE",
                                                      help="Write every figure as JSON to FILE ('-' = stdout).")]


def compare(
    decoder: Annotated[List[str], typer.Option("--decoder", help="Repeatable: pymatching, pymatching-correlated, a built-in model, or FILE.onnx.")] = [],  # noqa: B006
    baseline: Annotated[str, typer.Option("--baseline", help="The reference every candidate is tested against (added if not listed).")] = "pymatching",
    distances: Annotated[Optional[str], typer.Option("--distances", metavar="D,D,...", help="Code distances, e.g. 3,5,7.")] = None,
    p: Annotated[Optional[str], typer.Option("--p", metavar="P,P,...", help="Physical error rates, e.g. 0.002,0.004.")] = None,
    noise: Annotated[Optional[str], typer.Option("--noise", help="Noise model: uniform or si1000 [default: uniform].", show_default=False)] = None,
    basis: Annotated[Optional[str], typer.Option("--basis", help="Memory basis: x or z [default: z].", show_default=False)] = None,
    shots: Annotated[Optional[int], typer.Option("--shots", min=1, help="Shots per workload [default: 10000].", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Sampling seed [default: 0].", show_default=False)] = None,
    rounds: Annotated[Optional[int], typer.Option("--rounds", min=1, help="QEC rounds [default: distance].", show_default=False)] = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml", help="Read the sweep (and decoders) from a TOML file's [compare] table; flags win.")] = None,
    calib_model: Annotated[List[str], typer.Option("--calib-model", metavar="FILE.onnx", help="Repeatable: calibration models to compare (needs the calibration module).")] = [],  # noqa: B006
    experiment: Annotated[Optional[str], typer.Option("--experiment", help="Calibration experiment for --calib-model (rabi_amplitude, t1, ...).")] = None,
    latency_shots: Annotated[int, typer.Option("--latency-shots", min=0, help="Shots timed one at a time per task for latency quantiles (0 = skip).")] = 2000,
    provider: o.ProviderOpt = "cpu",
    threads: o.ThreadsOpt = None,
    batch_size: o.BatchOpt = 8192,
    workers: o.WorkersOpt = None,
    db: o.DbOpt = None,
    html: HtmlOpt = None,
    markdown: MarkdownOpt = None,
    json_out: ReportJsonOpt = None,
    quiet: o.QuietOpt = False,
) -> int:
    """Compare decoders on the same workloads and write a procurement report.

    Runs every decoder on every workload of the sweep (distances x p, rounds = distance)
    that the store does not hold yet, tests each candidate against the baseline on the
    same shots, measures latency, and writes --html / --markdown / --json. The report is
    stored with the run: `sov report RUN_ID` renders it again without running anything."""
    from reports.terminal import shot_progress
    from verifier.workflows.compare import Candidate, Sweep, calibration_only_payload, parse_list, run_compare
    from verifier.store.runs import recorded_run

    cfg = _policy_config(policy) if policy else {}
    specs = list(decoder) or [str(s) for s in cfg.get("decoders", [])]
    base_spec = baseline if baseline != "pymatching" or "baseline" not in cfg else str(cfg["baseline"])
    dist_text = distances if distances is not None else _join(cfg.get("distances"))
    p_text = p if p is not None else _join(cfg.get("p", cfg.get("ps")))
    for f in (html, markdown):
        if f is not None and not f.parent.resolve().is_dir():
            raise UsageError(f"cannot write {f}: folder {f.parent} does not exist")
    if experiment and not calib_model:
        raise UsageError("--experiment goes with --calib-model FILE.onnx")
    qec = bool(specs or dist_text or p_text)
    if not qec and not calib_model:
        raise UsageError("give --decoder ... with --distances and --p (or --policy FILE.toml), "
                         "and/or --calib-model FILE.onnx")
    store = o.store_for(db)
    console = o.human_console(json_out)
    if not qec:  # calibration models only
        with recorded_run(store, "compare") as rec:
            payload = calibration_only_payload(rec, _calibration(calib_model, experiment), argv=sys.argv[1:])
            rec.summary = {"report": payload}
        _print_terminal(console, payload)
        write_outputs(payload, html=html, markdown=markdown, json_out=json_out, console=console)
        return 0
    if not dist_text or not p_text:
        raise UsageError("give --distances and --p (e.g. --distances 3,5 --p 0.002,0.004), or --policy FILE.toml")
    sweep = Sweep(parse_list(dist_text, int, "--distances"), parse_list(p_text, float, "--p"),
                  noise=(noise or cfg.get("noise") or "uniform").lower(), basis=(basis or cfg.get("basis") or "z").lower(),
                  shots=int(shots or cfg.get("shots") or 10_000),
                  seed=int(seed if seed is not None else cfg.get("seed", 0)),
                  rounds=rounds or cfg.get("rounds"))
    workloads = sweep.workloads()  # validates every value before anything runs
    if base_spec not in specs:
        specs = [base_spec] + specs
    if len(specs) < 2:
        raise UsageError("give at least one --decoder to compare with the baseline")

    n_workers = o.workers_or_default(workers)
    o.start_workers("local", n_workers)
    cands = [Candidate(s, wiring.decoder_from_spec(s, provider=provider, threads=threads, batch_size=batch_size,
                                              workers=n_workers), baseline=(s == base_spec)) for s in specs]
    calibration = _calibration(calib_model, experiment) if calib_model else None

    def progress(label: str, i: int, total: int):
        return shot_progress(f"[{i}/{total}] {label}", quiet=quiet)

    with recorded_run(store, "compare") as rec:
        payload = run_compare(cands, sweep, run=rec, workers=n_workers, latency_shots=latency_shots,
                              argv=sys.argv[1:], progress=progress, calibration=calibration)
        rec.summary = {"report": payload, "decoders": len(cands), "workloads": len(workloads)}
        code = rec.exit_code
    _print_terminal(console, payload)
    reused = sum(r["reused_shots"] for r in payload["results"])
    if reused:
        console.print(f"{reused:,} shots reused from the store {store.path}")
    write_outputs(payload, html=html, markdown=markdown, json_out=json_out, console=console)
    return code


def _print_terminal(console, payload: dict[str, Any]) -> None:
    from reports.compare_fmt import calibration_table, terminal_table

    if payload.get("decoders"):
        console.print(terminal_table(payload))
    if payload.get("calibration"):
        console.print(calibration_table(payload["calibration"]))


def write_outputs(payload: dict[str, Any], *, html: Path | None, markdown: Path | None, json_out: str | None,
                  console) -> None:
    from reports.html import render_html
    from reports.markdown import render_markdown
    from reports.report_json import report_json

    for target, render, what in ((html, render_html, "HTML"), (markdown, render_markdown, "Markdown")):
        if target is None:
            continue
        try:
            Path(target).write_text(render(payload), encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write {what} report {target}: {e.strerror}") from None
        console.print(f"{what} report: {target}")
    o.write_json(json_out, report_json(payload))
    if not (html or markdown or json_out):
        console.print(f"Render it: sov report {payload['run_id']} --html report.html")


def _join(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def _policy_config(path: Path) -> dict[str, Any]:
    """The ``[compare]`` table of a policy file (keys: decoders, baseline, distances, p, noise,
    basis, shots, seed, rounds). A policy module (verifier.gates.policy), when installed, may add
    its own loader; this reads the table directly so the sweep never depends on it."""
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
    known = {"decoders", "baseline", "distances", "p", "ps", "noise", "basis", "shots", "seed", "rounds"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise UsageError(f"policy file {path}: unknown key(s) in [compare]: {', '.join(unknown)}")
    return cfg


def _calibration(models: list[str], experiment: str | None) -> dict[str, Any]:
    """The calibration section: the models next to Qibocal and sov's reference estimator on
    the same simulated qubits (``verifier.calib``)."""
    try:
        import verifier.calib  # noqa: F401
    except ImportError:
        raise UsageError("comparing calibration models needs the calibration module (verifier.calib), "
                         "which this installation lacks") from None
    from verifier.cli.wiring import calibration_model_from_spec
    from verifier.workflows.compare import calibration_section

    return calibration_section(models, experiment, resolve=calibration_model_from_spec)
