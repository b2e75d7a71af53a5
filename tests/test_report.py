"""The comparison report: self-contained HTML (offline, printable, renders in Chromium),
Markdown and JSON, and `sov report` re-rendering from the store without running anything."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.fixtures.compare_models import write_pair


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A small comparison run in-process through the library, recorded in a store."""
    from adapters.onnx_model import inspect_model
    from adapters.resolve import decoder_from_spec
    from verifier.qec.grid import SweepSpec
    from verifier.workflows.compare import Candidate, run_compare
    from verifier.store.runs import recorded_run
    from verifier.store.db import Store

    tmp = tmp_path_factory.mktemp("rep")
    a, b = write_pair(tmp)
    store = Store(tmp / "s.duckdb")
    cands = [Candidate(s, decoder_from_spec(s), baseline=(s == "pymatching")) for s in ("pymatching", a, b)]
    with recorded_run(store, "compare") as rec:
        payload = run_compare(cands, SweepSpec((3, 5), (0.002, 0.004, 0.006), shots=2000, seed=7), run=rec,
                              latency_shots=100, inspect_model=inspect_model)
        rec.summary = {"report": payload}
    return tmp, store, payload


NETWORK = [
    re.compile(r"""\b(?:src|href|xlink:href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"<script", re.I),
    re.compile(r"<link\b", re.I),
    re.compile(r"<iframe|<object|<embed|<img\b", re.I),
    re.compile(r"@font-face", re.I),
]


def assert_offline(html: str) -> None:
    for rx in NETWORK:
        m = rx.search(html)
        assert m is None, f"report loads from outside: {html[max(0, m.start() - 60):m.end() + 60]!r}"
    # the only URL allowed anywhere is the SVG namespace, which is never fetched
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls


def assert_balanced(html: str) -> None:
    """Every opened element is closed in order (void and self-closed SVG elements aside)."""
    from html.parser import HTMLParser

    void = {"meta", "br", "input", "img", "link", "hr", "circle", "line", "rect", "path", "polygon", "wbr"}

    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []
            self.bad: list[tuple] = []

        def handle_starttag(self, tag, attrs):
            if tag not in void:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if tag in void:
                return
            if self.stack and self.stack[-1] == tag:
                self.stack.pop()
            else:
                self.bad.append((tag, self.stack[-3:], self.getpos()))

    c = Checker()
    c.feed(html)
    assert not c.bad and not c.stack, (c.bad[:3], c.stack)


def test_html_is_self_contained_and_complete(recorded):
    from reports.html import render_html

    _, _, payload = recorded
    html = render_html(payload)
    assert_offline(html)
    assert_balanced(html)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "@media print" in html and "<style>" in html
    charts = re.findall(r'<svg [^>]*class="chart"', html)
    assert len(charts) >= 2 + 3 + 1  # LER vs p per distance, LER vs d per p, latency
    for d in payload["decoders"]:
        if d["model_sha256"]:
            assert d["model_sha256"] in html and d["model_sha256"][:12] in html
    for w in payload["workloads"]:
        assert w["id"][:16] in html and w["command"] in html
    for section in ("Summary", "Plots", "Logical error rate by workload", "Paired comparison", "Models",
                    "Workloads", "Verdicts", "Environment", "Method", "Threshold and error suppression"):
        assert f">{section}" in html
    assert render_html(payload) == html  # deterministic: same payload, same bytes


def test_offline_check_catches_network_loads():
    for bad in ('<script src="https://x.org/a.js"></script>', '<img src="http://x/y.png">',
                "<style>@import url(https://f.org/css);</style>", '<a href="//cdn.x/y">',
                "<style>body{background:url('https://x/y.png')}</style>"):
        with pytest.raises(AssertionError):
            assert_offline(bad)


def test_threshold_and_lambda_columns(recorded):
    _, _, payload = recorded
    for row in payload["summary"]:
        assert row["lambda_by_p"] and {x["p"] for x in row["lambda_by_p"]} == {0.002, 0.004, 0.006}
        assert row["threshold_fit"] is not None  # 2 distances x 3 rates: the fit was attempted
        # below threshold every sane decoder suppresses errors from d=3 to d=5 at the lowest p
        if row["label"] == "pymatching":
            assert row["lambda"] is not None and row["lambda"] > 1.0


def test_markdown_summary_table(recorded):
    from reports.markdown import render_markdown

    _, _, payload = recorded
    md = render_markdown(payload)
    lines = md.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("| # | Decoder"))
    rows = lines[i + 2:i + 2 + len(payload["summary"])]
    assert [r.split("|")[1].strip() for r in rows] == ["ref."] + [str(k) for k in range(1, len(payload["summary"]))]
    for row, s in zip(rows, payload["summary"]):
        assert f"**{s['label']}**" in row
    assert "sov compare --decoder pymatching" in md and "<" not in md.replace("<br>", "")


def test_svg_ticks_and_labels():
    from reports.svg import fmt_num, log_ticks

    assert fmt_num(0.002) == "0.002" and fmt_num(1e-6) == "10⁻⁶" and fmt_num(2.5e-7) == "2.5·10⁻⁷"
    major, minor = log_ticks(1e-4, 1e-1)
    assert major == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1]) and minor
    major, _ = log_ticks(0.0021, 0.0098)
    assert len(major) >= 2 and all(0.0021 <= t <= 0.0098 for t in major)


def test_report_rerenders_from_the_store_without_running(recorded, cli, tmp_path):
    from reports.html import render_html

    tmp, store, payload = recorded
    runs = store.query("SELECT count(*) FROM runs")[0][0]
    blocks = store.query("SELECT count(*) FROM blocks")[0][0]
    r = cli("report", "--latest", "--db", store.path, "--html", str(tmp_path / "x.html"),
                "--markdown", str(tmp_path / "x.md"), "--json", str(tmp_path / "x.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "x.json").read_text())["run_id"] == payload["run_id"]
    assert (tmp_path / "x.html").read_text() == render_html(json.loads(json.dumps(payload)))
    r2 = cli("report", payload["run_id"], "--db", store.path, "--json", "-")
    assert r2.returncode == 0 and json.loads(r2.stdout)["summary"][0]["label"] == payload["summary"][0]["label"]
    assert store.query("SELECT count(*) FROM runs")[0][0] == runs  # nothing ran, nothing recorded
    assert store.query("SELECT count(*) FROM blocks")[0][0] == blocks
    bad = cli("report", "no-such-run", "--db", store.path)
    assert bad.returncode == 2 and "no-such-run" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    empty = cli("report", "--latest", "--db", str(tmp_path / "none.duckdb"))
    assert empty.returncode == 2 and "Traceback" not in empty.stderr


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine")
def test_report_renders_in_headless_chromium(recorded, tmp_path):
    from reports.html import render_html

    _, _, payload = recorded
    page = tmp_path / "r.html"
    page.write_text(render_html(payload), encoding="utf-8")
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1280,2400", page.as_uri()],
                       capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 50_000
    PIL = pytest.importorskip("PIL.Image")
    im = PIL.open(shot).convert("RGB")
    assert im.size == (1280, 2400)
    small = im.resize((160, 300))
    colours = set(small.get_flattened_data() if hasattr(small, "get_flattened_data") else small.getdata())
    assert len(colours) > 200  # text, tables and coloured plots, not a blank or error page
    # the decoders' plot colours are on the page (the palette's first two candidates)
    def near(c, ref):
        return sum(abs(x - y) for x, y in zip(c, ref)) < 60
    px = list(im.get_flattened_data() if hasattr(im, "get_flattened_data") else im.getdata())
    assert any(near(c, (0x00, 0x72, 0xB2)) for c in px[::7]) and any(near(c, (0xD5, 0x5E, 0x00)) for c in px[::7])
