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


ExperimentOpt = o.experiment_opt("Calibration experiment for --model (rabi_amplitude, t1, ...).")


@o.hidden_aliases(model="--calib-model")
@o.runtime_options("provider", "threads", "batch_size")
def compare(
    decoder: Annotated[List[str], typer.Option("--decoder", help="Repeatable. " + o.DECODER_HELP + " Or a model family (one file per distance: 'DIR/NAME_d{d}_T{rounds}_{basis}.onnx', a directory, or A.onnx,B.onnx).")] = [],  # noqa: B006
    baseline: Annotated[str, typer.Option("--baseline", help="The reference every candidate is tested against (added if not listed).")] = "pymatching",
    distances: Annotated[Optional[str], typer.Option("--distances", "-d", metavar="3,5,7", help="Code distances, comma-separated.")] = None,
    code: Annotated[Optional[str], typer.Option("--code", metavar="surface|color|repetition", help="Code of the generated memories [default: surface].", show_default=False)] = None,
    p: o.PListOpt = None,
    noise: Annotated[Optional[str], typer.Option("--noise", help="Noise model: uniform or si1000 [default: uniform].", show_default=False)] = None,
    basis: Annotated[Optional[str], typer.Option("--basis", help="Memory basis: x or z [default: z].", show_default=False)] = None,
    shots: Annotated[Optional[int], typer.Option("--shots", min=1, help=f"Shots per workload [default: {o.MEASURE_SHOTS}].", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help=f"Sampling seed [default: {o.SEED}].", show_default=False)] = None,
    rounds: o.RoundsOpt = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE.toml", help="Read the sweep (and decoders) from a TOML file's [compare] table; flags win.")] = None,
    model: Annotated[List[str], typer.Option("--model", metavar="FILE.onnx", help="Repeatable: calibration models to compare, with --experiment.")] = [],  # noqa: B006
    experiment: ExperimentOpt = None,
    cycle_time: Annotated[Optional[float], typer.Option("--cycle-time", metavar="US", help="The QEC cycle the decoders must keep up with, in microseconds per round [default: 1].", show_default=False)] = None,
    targets: Annotated[Optional[str], typer.Option("--targets", metavar="1e-6,1e-9,...", help="Logical error rates per round to project qubits per logical qubit for [default: 1e-6,1e-9,1e-12].", show_default=False)] = None,
    latency_shots: Annotated[int, typer.Option("--latency-shots", min=0, help="Shots timed one at a time per task for latency quantiles (0 = skip).")] = o.COMPARE_LATENCY_SHOTS,
    runtime: Optional[dict] = None,  # --provider --threads --batch-size: see o.runtime_options
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
    from reports.terminal import compare_tables, latency_progress, shot_progress
    from verifier.workflows.compare import compare_plan, run_comparison

    o.check_outputs(html=html, markdown=markdown, json_out=json_out)
    from verifier.workflows.compare.procurement import settings

    settings(cycle_time, _targets(targets))  # a bad --cycle-time or --targets before anything runs
    plan = compare_plan(decoder, baseline, distances=distances, p=p, noise=noise, basis=basis, shots=shots, code=code,
                        seed=seed, rounds=rounds, policy=policy, calib_models=model, experiment=experiment)
    store = o.store_for(db)
    console = o.human_console(json_out)
    n_workers = o.workers_or_default(workers) if plan.sweep else 1
    if plan.sweep:
        o.start_workers("local", n_workers)
    result = run_comparison(
        plan, store=store, workers=n_workers, latency_shots=latency_shots, argv=sys.argv[1:],
        decoder_for=lambda s: wiring.decoder_or_family(s, **runtime, workers=n_workers),
        resolve_calib_model=wiring.calibration_model_from_spec, inspect_model=wiring.inspect_model,
        probe=wiring.fault_prober(),
        progress=lambda label, i, total: shot_progress(f"[{i}/{total}] {label}", quiet=quiet),
        latency_progress=lambda label, i, total: latency_progress(f"[{i}/{total}] {label} latency", quiet=quiet),
        cycle_time_us=cycle_time, targets=_targets(targets))
    for table in compare_tables(result.payload, reused_from=store.path):
        console.print(table)
    write_outputs(result.payload, html=html, markdown=markdown, json_out=json_out, console=console)
    return result.exit_code


def _targets(text: str | None):
    from verifier.qec.grid import parse_float_list

    return parse_float_list(text, flag="--targets") if text else None


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
