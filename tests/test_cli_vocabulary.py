"""One vocabulary of flags (docs/cli.md): the old spellings still work for one release,
hidden from --help; the same flag means the same thing, with the same default, everywhere.

Every test calls ``verifier.cli.app.main`` in this process: the library call behind a
command is replaced by a recorder, so an alias is checked by what reaches the library."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from verifier.cli import options as o
from verifier.cli.app import main
from verifier.errors import UsageError


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """Some commands here get as far as opening their --db: never in the repository."""
    monkeypatch.chdir(tmp_path)


class Recorded(Exception):
    pass


def recorder(monkeypatch, module: str, name: str) -> dict:
    """Replace ``module.name`` by a function that keeps its arguments and stops the command
    (exit 2 with the line 'recorded')."""
    import importlib

    seen: dict = {}

    def record(*args, **kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        raise UsageError("recorded")

    monkeypatch.setattr(importlib.import_module(module), name, record)
    return seen


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def commands():
    """Every command path (visible or hidden) and its click command."""
    import typer

    from verifier.cli.app import app

    found = []

    def walk(cmd, path, hidden):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, path + [name], hidden or sub.hidden)
        else:
            found.append((path, cmd, hidden))

    walk(typer.main.get_command(app), [], False)
    return found


VISIBLE = [path for path, _, hidden in commands() if not hidden]
OLD_SPELLINGS = [r"--batch(?![-\w])", r"--output\b", r"(?<![\w-])-o\b", r"--calib-model\b", r"--resamples\b",
                 r"\[path\]", r"\[old_name\]", r"\bold_name\b"]


# -- the old spellings work -----------------------------------------------------------------

def test_qec_latency_batch_is_batch_size(monkeypatch, capsys):
    seen = recorder(monkeypatch, "verifier.workflows.latency", "record_latency")
    code, _, err = run(capsys, "qec", "latency", "-d", "3", "--p", "0.01", "--shots", "10", "--warmup", "0",
                       "--batch", "4", "--db", "unused.duckdb")
    assert (code, err.strip()) == (2, "sov: error: recorded")
    assert seen["kwargs"]["batch"] == 4


def test_both_spellings_at_once_is_a_usage_error(capsys):
    code, _, err = run(capsys, "qec", "latency", "--batch", "2", "--batch-size", "3")
    assert code == 2 and err.count("\n") == 1
    assert "--batch is the old spelling of --batch-size" in err


@pytest.mark.parametrize("flag", ["--json", "--output", "-o"])
def test_models_bom_writes_its_json_under_every_spelling(flag, tmp_path, capsys):
    out = tmp_path / "bom.json"
    code, _, err = run(capsys, "models", "bom", "identity-predecoder", "--db", str(tmp_path / "none.duckdb"),
                       flag, str(out))
    assert code == 0, err
    assert json.loads(out.read_text())["bomFormat"] == "CycloneDX"


@pytest.mark.parametrize("flag", ["--model", "--calib-model"])
def test_compare_calibration_models_under_both_spellings(flag, monkeypatch, capsys):
    seen = recorder(monkeypatch, "verifier.workflows.compare", "compare_plan")
    code, _, _ = run(capsys, "compare", flag, "a.onnx", "--model", "b.onnx", "-e", "t1")
    assert code == 2
    assert sorted(seen["kwargs"]["calib_models"]) == ["a.onnx", "b.onnx"]
    assert seen["kwargs"]["experiment"] == "t1"


def test_calib_replay_resamples_is_bootstrap(monkeypatch, capsys, tmp_path):
    seen = recorder(monkeypatch, "verifier.calib.replay", "replay_folder")
    code, _, _ = run(capsys, "calib", "replay", str(tmp_path), "--resamples", "3", "--db", str(tmp_path / "s.duckdb"))
    assert code == 2 and seen["kwargs"]["n_boot"] == 3


@pytest.mark.parametrize("argv, path, experiment", [
    (["--decoder", "in-service.onnx"], "in-service.onnx", None),
    (["--model", "cal.onnx", "-e", "t1"], "cal.onnx", "t1"),
    (["in-service.onnx"], "in-service.onnx", None),  # the positional PATH of the previous release
    (["cal.onnx", "--experiment", "t1"], "cal.onnx", "t1"),
])
@pytest.mark.parametrize("group", ["drift", "watch"])
def test_drift_add_names_the_model_by_its_role(group, argv, path, experiment, monkeypatch, capsys, tmp_path):
    seen = recorder(monkeypatch, "verifier.workflows.drift", "register")
    workload = ["-d", "3", "--p", "0.01"] if experiment is None else []
    code, _, err = run(capsys, group, "add", *argv, "--name", "m", *workload, "--db", str(tmp_path / "s.duckdb"))
    assert code == 2 and "args" in seen, err
    assert str(seen["args"][1]) == path and seen["kwargs"]["experiment"] == experiment


@pytest.mark.parametrize("argv, needle", [
    (["--decoder", "a.onnx", "--model", "b.onnx", "-e", "t1"], "not both"),
    (["--decoder", "a.onnx", "-e", "t1"], "give it as --model"),
    (["--model", "b.onnx"], "needs --experiment"),
    (["--decoder", "a.onnx", "a.onnx"], "once"),
    ([], "--decoder"),
])
def test_drift_add_refuses_an_unclear_model(argv, needle, capsys, tmp_path):
    code, _, err = run(capsys, "drift", "add", *argv, "--name", "m", "--db", str(tmp_path / "s.duckdb"))
    assert code == 2 and err.count("\n") == 1 and needle in err, err


@pytest.mark.parametrize("argv", [["--name", "m1"], ["m1"]])
@pytest.mark.parametrize("group", ["drift", "watch"])
def test_drift_remove_takes_name_and_the_old_operand(group, argv, monkeypatch, capsys, tmp_path):
    seen = recorder(monkeypatch, "verifier.workflows.drift_registry", "remove")
    code, _, _ = run(capsys, group, "remove", *argv, "--db", str(tmp_path / "s.duckdb"))
    assert code == 2 and seen["args"][1] == "m1"


@pytest.mark.parametrize("path", [["drift", "calib"], ["calib", "drift"]])
def test_calib_drift_is_drift_calib(path, monkeypatch, capsys, tmp_path):
    seen = recorder(monkeypatch, "verifier.calib.accept", "drift_against_last")
    code, _, _ = run(capsys, *path, "--model", "rabi-amplitude-mlp", "-e", "rabi_amplitude",
                     "--db", str(tmp_path / "s.duckdb"))
    assert code == 2 and seen["args"][1:] == ("rabi-amplitude-mlp", "rabi_amplitude")


@pytest.mark.parametrize("command, module, name, extra", [
    (["accept"], "verifier.gates.policy", "resolve_policy", []),
    (["compare"], "verifier.workflows.compare", "compare_plan", []),
    (["drift", "add"], "verifier.gates.policy", "resolve_policy", ["--model", "x.onnx", "--name", "n"]),
    (["calib", "run"], "verifier.calib.run", "run_calibration", []),
])
def test_e_is_experiment(command, module, name, extra, monkeypatch, capsys):
    seen = recorder(monkeypatch, module, name)
    code, _, err = run(capsys, *command, *extra, "-e", "t1", "--db", "unused.duckdb")
    assert code == 2, err
    assert seen["kwargs"].get("experiment") == "t1" or seen["args"][1] == "t1"


# -- --help shows only the new spellings ----------------------------------------------------

@pytest.mark.parametrize("path", VISIBLE, ids=" ".join)
def test_help_shows_no_old_spelling(path, capsys):
    code, out, _ = run(capsys, *path, "--help")
    assert code == 0
    for pattern in OLD_SPELLINGS:
        assert not re.search(pattern, out), (path, pattern)


def test_hidden_groups_and_commands_stay_out_of_help(capsys):
    _, top, _ = run(capsys, "--help")
    assert "watch" not in top and "drift" in top
    _, calib, _ = run(capsys, "calib", "--help")
    assert not re.search(r"^\s+drift\b", calib, re.M)
    _, drift, _ = run(capsys, "drift", "--help")
    assert re.search(r"^\s+calib\b", drift, re.M)


# -- one flag, one meaning ------------------------------------------------------------------

def _options(cmd) -> dict:
    return {name: p for p in cmd.params for name in p.opts if name.startswith("-")}


def test_every_experiment_flag_has_the_short_form():
    for path, cmd, _ in commands():
        opts = _options(cmd)
        if "--experiment" in opts:
            assert "-e" in opts["--experiment"].opts, path


def test_batch_size_means_shots_per_inference_call_everywhere():
    for path, cmd, _ in commands():
        opts = _options(cmd)
        if "--batch-size" in opts:
            # qec latency times calls of one shot by default: a real-time decoder's setting
            assert opts["--batch-size"].default == (1 if path == ["qec", "latency"] else o.BATCH_SIZE), path


def test_shots_defaults_are_the_named_ones():
    expected = {("accept",): o.GATE_SHOTS, ("qec", "lambda"): o.GATE_SHOTS, ("qec", "latency"): o.LATENCY_SHOTS,
                ("calib", "run"): None, ("compare",): None}  # calib: per sweep point; compare: a policy may say
    for path, cmd, _ in commands():
        opts = _options(cmd)
        if "--shots" in opts:
            assert opts["--shots"].default == expected.get(tuple(path), o.MEASURE_SHOTS), path


def test_seed_defaults_to_the_one_seed():
    for path, cmd, _ in commands():
        opts = _options(cmd)
        if "--seed" in opts:
            # drift check: a fresh seed each time (recorded); compare: a policy file may set it
            want = None if path in (["drift", "check"], ["compare"]) else o.SEED
            assert opts["--seed"].default == want, path


# commands where a shared flag says something more (docs/cli.md says why)
OWN_MEANING = {"--db": {"demo", "evidence verify"}, "--json": {"compare", "report", "models bom"},
               "--threads": {"qec latency"}, "--provider": {"qec crosscheck"}}


@pytest.mark.parametrize("flag", ["--db", "--json", "--workers", "--quiet", "--provider", "--threads", "--contract"])
def test_shared_flags_say_the_same_thing(flag):
    helps = {}
    for path, cmd, _ in commands():
        opts = _options(cmd)
        if flag in opts and " ".join(path) not in OWN_MEANING.get(flag, ()):
            helps.setdefault(opts[flag].help, set()).add(" ".join(path))
    assert len(helps) == 1, helps


# -- errors and speed -----------------------------------------------------------------------

@pytest.mark.parametrize("path", [["qec", "run"], ["compare"], ["drift", "add"], ["models", "bom"]])
def test_a_wrong_flag_is_one_line_and_exit_2(path, capsys):
    code, _, err = run(capsys, *path, "--no-such-flag")
    assert code == 2 and err.count("\n") == 1 and err.startswith("sov: error: No such option: --no-such-flag")


def test_every_help_is_light():
    """Rendering every command's --help imports nothing heavy (the options are declared
    without numpy, stim, DuckDB, onnxruntime, rich...)."""
    code = ("import sys; from verifier.cli.app import main\n"
            f"for path in {VISIBLE!r}:\n"
            "    main(path + ['--help'])\n"
            "bad = [m for m in ('numpy', 'stim', 'duckdb', 'onnxruntime', 'qibocal', 'matplotlib', 'rich', "
            "'pymatching') if m in sys.modules]\n"
            "print('HEAVY', bad, file=sys.stderr)")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert "HEAVY []" in err, err[-2000:]
