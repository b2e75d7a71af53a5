"""The calibration question set (``sov calib ask``) against local stub servers speaking the
chat-completions API. Each stub follows a fixed strategy that reads only what the endpoint
gets (the question text and the plot), so its per-type score is known exactly from the
item set."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from baselines.reference import ESTIMATORS
from tests.fixtures.chat_stub import serve
from verifier.calib.faults import SCENARIOS
from verifier.calib.question_items import build_items
from verifier.calib.questions import STATUS_CHOICES, STATUS_OF_LABEL, within
from verifier.stats.binomial import clopper_pearson

SMALL = {"n_points": (51,), "units": ("probability",)}  # one sweep per scenario and seed: fast


def first_choice(text: str) -> str:
    """The first code a choice question offers; 0.3 for every parameter asked for."""
    codes = re.findall(r'"(\w+)" \(', text)
    key = re.search(r'\{"(\w+)": (?:CODE|"yes")\}', text)
    if key and key.group(1) == "fit_reliable":
        return '{"fit_reliable": "yes"}'
    if key:
        return json.dumps({key.group(1): codes[0]})
    return json.dumps({k: 0.3 for k in re.findall(r'"(\w+)": <', text)})


def garbage(text: str) -> str:
    return "I would need to look at the raw data."


def fenced_then_invalid(n: int, text: str) -> str:
    """Even requests: the first choice inside a Markdown fence (parses); odd ones: the first
    choice in capitals (not an allowed code: unparsed)."""
    ans = first_choice(text)
    return f"```json\n{ans}\n```" if n % 2 == 0 else ans.upper()


@pytest.fixture
def stub():
    """start(strategy, fail_on=()) -> (spec, seen): a chat-completions server whose answer to
    each request follows ``strategy`` (the requests in ``fail_on`` get an HTTP 503)."""
    servers = []

    def start(strategy, fail_on=()):
        def answer(n, body):
            if n in fail_on:
                return 503
            text = body["messages"][1]["content"][0]["text"]
            return strategy(n, text) if strategy is fenced_then_invalid else strategy(text)

        srv, seen = serve(answer)
        servers.append(srv)
        return f"openai:http://127.0.0.1:{srv.server_address[1]}/v1#stub", seen

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _ask(spec, scenarios, **kw):
    from adapters.vlm_questions import EndpointAnswerer
    from verifier.calib.ask import ask_model

    return ask_model(EndpointAnswerer.from_spec(spec), ESTIMATORS, scenarios=scenarios, **kw)


def _first_code_expected(item) -> bool:
    p = item.prompt
    if p.choices:
        return item.expected == ("yes" if p.qtype == "fit_reliable" else p.choices[0])
    return all(within(0.3, t) for t in item.expected.values())


# -- the question set and its truth -----------------------------------------------------------

def test_every_fault_label_has_its_status_and_diagnosis():
    assert set(STATUS_OF_LABEL) == set(SCENARIOS) and set(STATUS_OF_LABEL.values()) <= set(STATUS_CHOICES)
    items, notes = build_items(["all"], ESTIMATORS, repeats=1, simulated=(), **SMALL)
    assert notes == []
    want = {"healthy": "worked", "no_signal": "no_signal", "under_driven": "more_drive", "too_short": "widen_sweep",
            "over_driven": "other_fault", "wrong_frequency": "other_fault", "beating": "other_fault",
            "drifting": "other_fault"}
    by = {(i.scenario, i.prompt.qtype, i.detail.get("drawn")): i for i in items}
    for label in SCENARIOS:
        assert by[(label, "status", None)].expected == want[label]
        assert by[(label, "diagnosis", None)].expected == label
        assert by[(label, "fit_reliable", "reference")].expected == ("yes" if label == "healthy" else "no")
        assert ((label, "parameter", None) in by) == (label == "healthy")
    assert by[("healthy", "fit_reliable", "wrong")].expected == "no"
    assert by[("healthy", "parameter", None)].expected == {"pi_pulse_amplitude": pytest.approx(0.3)}
    for i in items:  # only the plot and the question: no truth in a prompt
        assert i.item_id not in i.prompt.text
        if i.prompt.qtype == "parameter":
            assert not any(f"{t:.3g}" in i.prompt.text for t in i.expected.values())
        assert (i.prompt.fit is not None) == (i.prompt.qtype == "fit_reliable")


def test_a_question_says_what_the_y_axis_is():
    from verifier.calib.question_items import prompt_for

    x = np.linspace(0, 1, 11)
    au = prompt_for("status", "rabi_amplitude", x, x, "au", None).text
    prob = prompt_for("parameter", "rabi_amplitude", x, x, "probability", 1000).text
    assert "arbitrary units" in au and "probability" not in au
    assert "excited-state probability" in prob and '"pi_pulse_amplitude": <' in prob


def test_a_plot_with_a_fit_drawn_differs_from_the_plot_without():
    from matplotlib.image import imread

    from adapters.vlm_questions import render_prompt

    items, _ = build_items(["healthy"], ESTIMATORS, repeats=1, simulated=(), **SMALL)
    fitted = next(i.prompt for i in items if i.prompt.qtype == "fit_reliable")
    bare = dataclasses.replace(fitted, fit=None)

    def red(png):  # pixels of the fit's colour (tab:red)
        rgb = imread(io.BytesIO(png))[..., :3]
        return int(np.sum(np.all(np.abs(rgb - np.array([0.84, 0.15, 0.16])) < 0.12, axis=-1)))

    with_fit, without = render_prompt(fitted), render_prompt(bare)
    assert with_fit[:8] == b"\x89PNG\r\n\x1a\n" and with_fit != without
    assert red(with_fit) > 200 and red(without) == 0


def test_strict_parsing_and_exact_chance():
    from verifier.calib.question_scores import chance_of
    from verifier.calib.questions import parse

    items, _ = build_items(["healthy"], ESTIMATORS, repeats=1, simulated=(), **SMALL)
    status = next(i for i in items if i.prompt.qtype == "status")
    param = next(i for i in items if i.prompt.qtype == "parameter")
    assert parse(status.prompt, '{"status": "worked"}') == "worked"
    assert parse(status.prompt, ' ```json\n{"status": "no_signal", "why": "flat"}\n``` ') == "no_signal"
    for bad in ('The status is {"status": "worked"}', '{"status": "Worked"}', '["worked"]', "", None,
                '{"diagnosis": "healthy"}'):
        assert parse(status.prompt, bad) is None, bad
    assert parse(param.prompt, '{"pi_pulse_amplitude": 0.31}') == {"pi_pulse_amplitude": 0.31}
    for bad in ('{"pi_pulse_amplitude": "0.31"}', '{"pi_pulse_amplitude": NaN}', '{"pi_pulse_amplitude": true}'):
        assert parse(param.prompt, bad) is None, bad
    assert chance_of(status) == pytest.approx(1 / 5)
    # truth 0.3 +- 10 % on a sweep 0 .. 1: 0.06 of the axis
    assert chance_of(param) == pytest.approx(0.06)


# -- scores against stubs whose answers are known ----------------------------------------------

def test_first_choice_stub_scores_exactly_the_share_of_first_choice_answers(stub, tmp_path):
    from verifier.calib.question_scores import chance_of
    from verifier.store.calib_answers import answers_of_run
    from verifier.store.db import Store

    spec, seen = stub(first_choice)
    store = Store(tmp_path / "s.duckdb")
    sim = ("rabi_amplitude", "ramsey")
    card = _ask(spec, ["healthy", "no_signal", "too_short"], repeats=1, simulated=sim, store=store, run_id="r1",
                **SMALL)
    items, _ = build_items(["healthy", "no_signal", "too_short"], ESTIMATORS, repeats=1, simulated=sim, **SMALL)
    assert card["items"] == len(items) == len(seen)
    for qtype, row in card["types"].items():
        mine = [i for i in items if i.prompt.qtype == qtype]
        k = sum(_first_code_expected(i) for i in mine)
        assert (row["n"], row["correct"], row["unparsed"]) == (len(mine), k, 0), qtype
        assert row["ci95"] == list(clopper_pearson(k, len(mine)))
        assert row["chance"] == pytest.approx(np.mean([chance_of(i) for i in mine]))
        if qtype != "parameter":
            assert row["chance"] == pytest.approx(np.mean([1 / len(i.prompt.choices) for i in mine]))
    assert card["types"]["status"]["correct"] == sum(i.scenario == "healthy" for i in items
                                                     if i.prompt.qtype == "status")
    assert card["types"]["fit_reliable"]["correct"] < card["types"]["fit_reliable"]["n"]  # both answers occur
    assert card["scenarios"]["no_signal"]["status"] == {"n": 1, "correct": 0, "unparsed": 0, "reference_correct": 1}
    # the endpoint got the question text and the plot, nothing of the item
    prompts = {i.prompt.text for i in items}
    for body, item in zip(seen, items):
        assert set(body) == {"model", "temperature", "max_tokens", "messages"}
        text, image = body["messages"][1]["content"]
        assert set(text) == {"type", "text"} and text["text"] == item.prompt.text and text["text"] in prompts
        assert base64.b64decode(image["image_url"]["url"].split(",", 1)[1])[:4] == b"\x89PNG"
        flat = json.dumps(body["messages"][0]) + text["text"]
        assert item.item_id not in flat and f"{item.prompt.y[3]:.6g}" not in flat
    rows = answers_of_run(store, "r1")
    assert [r["item_id"] for r in rows] == [a["item_id"] for a in card["answers"]]
    assert [r["correct"] for r in rows] == [a["correct"] for a in card["answers"]]
    assert rows[0]["raw_answer"] == card["answers"][0]["raw_answer"] and rows[0]["expected"] == items[0].expected


def test_garbage_and_invalid_answers_are_unparsed_and_wrong(stub, tmp_path):
    spec, _ = stub(garbage)
    card = _ask(spec, ["healthy", "beating"], repeats=1, simulated=("t1",), **SMALL)
    for row in card["types"].values():
        assert row["correct"] == 0 and row["unparsed"] == row["n"] and row["ci95"][0] == 0.0
    assert card["types"]["status"]["reference"]["correct"] > 0  # sov's pipeline on the same items

    spec, seen = stub(fenced_then_invalid, fail_on={1})
    card = _ask(spec, ["healthy"], repeats=1, simulated=("ramsey",), **SMALL)
    items, _ = build_items(["healthy"], ESTIMATORS, repeats=1, simulated=("ramsey",), **SMALL)
    answers = card["answers"]
    assert [a["item_id"] for a in answers] == [i.item_id for i in items]
    assert answers[1]["error"] == "HTTP 503 from the endpoint" and answers[1]["raw_answer"] is None
    for qtype, row in card["types"].items():
        mine = [n for n, i in enumerate(items) if i.prompt.qtype == qtype]
        # odd requests are unparsed; even ones are the first code, fenced, and parse
        assert row["unparsed"] == sum(n % 2 == 1 for n in mine), qtype
        assert row["correct"] == sum(n % 2 == 0 and _first_code_expected(items[n]) for n in mine), qtype
    assert all((a["parsed"] is None) == (n % 2 == 1) for n, a in enumerate(answers))


def test_calib_ask_command(stub, cli, tmp_path):
    spec, _ = stub(first_choice)
    out = tmp_path / "ask.json"
    r = cli("calib", "ask", "--model", spec, "--scenario", "healthy", "--repeats", "1", "--points", "31", "--db", str(tmp_path / "s.duckdb"), "--json", str(out), env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    card = json.loads(out.read_text())
    assert set(card["types"]) == {"status", "diagnosis", "fit_reliable", "parameter"}
    assert set(card["scenarios"]) == {"healthy"} and card["selection"]["n_points"] == [31]
    row = card["types"]["status"]
    assert f"{row['correct']}/{row['n']}" in r.stdout and "…" not in r.stdout
    lo, hi = row["ci95"]  # at 80 columns a cell may wrap between words, never cut a number
    assert f"{100 * lo:.1f}–{100 * hi:.1f}" in r.stdout and "[sov-reference correct]" in r.stdout

    spec, _ = stub(garbage)
    r = cli("calib", "ask", "--model", spec, "--scenario", "no_signal", "--repeats", "1", "--points", "31",
            "--min-accuracy", "0.5",
            "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 1 and "gate --min-accuracy 0.5: fail" in r.stdout


def test_unreachable_endpoint_is_exit_2_in_one_line(cli, tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = cli("calib", "ask", "--model", f"openai:http://127.0.0.1:{port}/v1#m", "--scenario", "healthy",
            "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot reach the endpoint" in r.stderr
    r = cli("calib", "ask", "--model", "qibocal", "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "plot-reading model" in r.stderr


# -- recorded folders --------------------------------------------------------------------------

def test_recorded_folders_are_asked_status_diagnosis_and_parameters_where_the_truth_says(stub, tmp_path, cli):
    from baselines.qibocal_folders import QibocalRecords, export_scenarios
    from verifier.calib.question_folder import recorded_items

    emu = Path(__file__).parent / "data" / "qibocal-emulator" / "A_emu"
    items, notes = recorded_items(emu, QibocalRecords())  # truth.json beside the folder, no labels: healthy
    assert sorted(i.item_id.split("/", 2)[2] for i in items) == [
        f"{e}/q0/{t}" for e in ("rabi_amplitude", "rabi_length", "t1") for t in ("diagnosis", "parameter", "status")]
    assert {i.expected for i in items if i.prompt.qtype == "diagnosis"} == {"healthy"}
    assert {i.expected for i in items if i.prompt.qtype == "status"} == {"worked"}
    amp = next(i for i in items if i.item_id.endswith("rabi_amplitude/q0/parameter"))
    assert amp.expected == {"pi_pulse_amplitude": pytest.approx(0.3, abs=1e-3)}
    assert any("single_shot_classification" in n for n in notes)

    folder = Path(export_scenarios(tmp_path / "faults", ["healthy", "no_signal", "too_short"]))
    spec, seen = stub(first_choice)
    out = tmp_path / "ask.json"
    r = cli("calib", "ask", "--model", spec, "--replay", str(folder), "--db", str(tmp_path / "s.duckdb"),
            "--json", str(out))
    assert r.returncode == 0, r.stderr
    card = json.loads(out.read_text())
    got = {a["item_id"].split("/")[2]: a["expected"] for a in card["answers"] if a["type"] == "status"}
    assert got == {"healthy-0": "worked", "no_signal-0": "no_signal", "too_short-0": "widen_sweep"}
    diag = {a["item_id"].split("/")[2]: a["expected"] for a in card["answers"] if a["type"] == "diagnosis"}
    assert diag == {"healthy-0": "healthy", "no_signal-0": "no_signal", "too_short-0": "too_short"}
    assert card["types"]["status"]["correct"] == 1 and card["types"]["parameter"]["n"] == 1
    # the first choice of the diagnosis codes is "healthy": one of the three right
    assert card["types"]["diagnosis"]["correct"] == 1
    assert len(seen) == card["items"] == 7 and set(card["types"]) == {"status", "diagnosis", "parameter"}
