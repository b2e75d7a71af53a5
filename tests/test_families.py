"""Model families: one ONNX file per (distance, rounds, basis) behind one ``--decoder`` in
``sov qec sweep | threshold | lambda`` and ``sov compare``.

The members are real identity pre-decoders (``[0 | dets]``, then PyMatching) whose input
width is fixed to the detector count of stim's rotated memory circuit at one distance, as
a vendor's per-distance export is: each must give exactly PyMatching's errors, and a
single one of them must be refused at the other distance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.reference_models import identity_predecoder_flat, save

SHOTS = "2000"
PATTERN = "predecoder_memory_d{d}_T{rounds}_{basis}.onnx"  # Ising's names: basis X or Z, upper case


def _num_detectors(d: int, basis: str) -> int:
    import stim

    return stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=d, rounds=d).num_detectors


def fixed_identity(d: int, basis: str = "x", metadata: dict[str, str] | None = None):
    """The identity pre-decoder with its widths fixed to rotated memory ``basis`` at d, rounds = d."""
    import onnx

    n = _num_detectors(d, basis)
    model = identity_predecoder_flat(1, metadata=metadata)
    for value, width in ((model.graph.input[0], n), (model.graph.output[0], n + 1)):
        value.type.tensor_type.shape.dim[1].dim_value = width
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """d = 3 and 5, rounds = d, bases X and Z, named as Ising names its exports."""
    folder = tmp_path_factory.mktemp("family")
    for d in (3, 5):
        for b in ("x", "z"):
            save(fixed_identity(d, b), folder / f"predecoder_memory_d{d}_T{d}_{b.upper()}.onnx")
    return folder


def _json(r) -> dict:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _grid(*extra: str, db: Path, shots: str = SHOTS) -> list[str]:
    return ["--shots", shots, "--seed", "5", "--workers", "1", "--db", str(db), "--json", "-", *extra]


def _errors(points) -> dict:
    return {(q["distance"], q["p"]): (q["shots"], q["errors"]) for q in points}


@pytest.mark.parametrize("basis", ["x", "z"])
def test_sweep_of_a_pattern_gives_pymatchings_errors_per_point(cli, tmp_path, models, basis):
    db = tmp_path / "s.duckdb"
    grid = ["--distances", "3,5", "--p", "0.006,0.01", "--basis", basis]
    fam = _json(cli("qec", "sweep", "--decoder", str(models / PATTERN), *grid, *_grid(db=db)))
    ref = _json(cli("qec", "sweep", "--decoder", "pymatching", *grid, *_grid(db=db)))
    assert _errors(fam["points"]) == _errors(ref["points"])
    assert fam["decoder"] == PATTERN  # named as a single file is: by its file name
    assert sum(e for _, e in _errors(fam["points"]).values()) > 0  # a test that can fail
    assert ref["reused_shots"] == 0  # the members' blocks are their own, not PyMatching's
    for q in fam["points"]:  # each point names the file that ran it, and that file's identity
        member = q["member"]
        want = models / f"predecoder_memory_d{q['distance']}_T{q['distance']}_{basis.upper()}.onnx"
        assert Path(member["file"]) == want.resolve()
        assert member["decoder"] == want.name and len(member["model_sha256"]) == 64
        assert q["task_id"] != next(p["task_id"] for p in ref["points"]
                                    if (p["distance"], p["p"]) == (q["distance"], q["p"]))
    assert len({q["member"]["fingerprint"] for q in fam["points"]}) == 2  # one per distance


def test_points_are_stored_as_their_member_and_shared_with_single_file_runs(cli, tmp_path, models):
    db = tmp_path / "s.duckdb"
    d3 = str(models / "predecoder_memory_d3_T3_X.onnx")
    alone = _json(cli("qec", "sweep", "--decoder", d3, "--distances", "3", "--p", "0.008", "--basis", "x",
                      *_grid(db=db)))
    fam = _json(cli("qec", "sweep", "--decoder", str(models / PATTERN), "--distances", "3,5", "--p", "0.008",
                    "--basis", "x", *_grid(db=db)))
    by_d = {q["distance"]: q for q in fam["points"]}
    assert by_d[3]["reused_shots"] == int(SHOTS) and by_d[5]["reused_shots"] == 0
    assert by_d[3]["task_id"] == alone["points"][0]["task_id"]
    assert by_d[3]["member"]["fingerprint"] == alone["fingerprint"]
    from verifier.store.db import Store

    rows = Store(db).query("SELECT r.fingerprint, d.model_sha256 FROM results r JOIN decoders d "
                           "ON d.fingerprint = r.fingerprint WHERE r.run_id = ?", [fam["run_id"]])
    assert sorted(rows) == sorted((q["member"]["fingerprint"], q["member"]["model_sha256"]) for q in fam["points"])


def test_one_fixed_width_model_for_every_distance_is_refused(cli, tmp_path, models):
    r = cli("qec", "sweep", "--decoder", str(models / "predecoder_memory_d3_T3_X.onnx"), "--distances", "3,5",
            "--p", "0.008", "--basis", "x", *_grid(db=tmp_path / "s.duckdb"))
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "expected [batch, 120]" in line and "d=5" in line and "{d}" in line


def test_a_point_without_member_is_refused_before_any_shot(cli, tmp_path, models):
    db = tmp_path / "s.duckdb"
    r = cli("qec", "sweep", "--decoder", str(models / PATTERN), "--distances", "3,5,7", "--p", "0.008",
            "--basis", "x", *_grid(db=db))
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "no member for (d=7, rounds=7, basis X)" in line and f"pattern {models / PATTERN}" in line
    assert "predecoder_memory_d5_T5_X.onnx" in line  # the files it searched
    from verifier.store.db import Store

    assert not db.exists() or Store(db).query("SELECT count(*) FROM blocks")[0][0] == 0
    # rounds are part of the key: the members are for rounds = d
    r = cli("qec", "sweep", "--decoder", str(models / PATTERN), "--distances", "3", "--rounds", "2",
            "--p", "0.008", "--basis", "x", *_grid(db=db))
    assert r.returncode == 2 and "no member for (d=3, rounds=2, basis X)" in r.stderr


def test_members_are_checked_like_any_model(cli, tmp_path, models):
    """A pattern without {rounds}: the member is found by distance and basis, then its
    width is checked against the workload, as a single file's would be."""
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(models / "predecoder_memory_d3_T3_X.onnx", folder / "m_d3_X.onnx")
    r = cli("qec", "sweep", "--decoder", str(folder / "m_d{d}_{basis}.onnx"), "--distances", "3", "--rounds", "2",
            "--p", "0.008", "--basis", "x", *_grid(db=tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "m_d3_X.onnx: input 'dets' shape: expected [batch, 16]" in r.stderr
    r = cli("qec", "sweep", "--decoder", str(folder / "m_d{d}_{basis}.onnx"), "--distances", "3", "--p", "0.008",
            "--basis", "z", *_grid(db=tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "no member for (d=3, rounds=3, basis Z)" in r.stderr


def _metadata_family(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for d in (3, 5):
        md = {"sov.distance": str(d), "sov.rounds": str(d), "sov.basis": "X"}
        paths.append(Path(save(fixed_identity(d, "x", md), folder / f"vendor_model_{d * 7}.onnx")))
    return paths


def test_members_chosen_by_metadata_in_a_directory_or_a_list(cli, tmp_path):
    paths = _metadata_family(tmp_path / "vendor")
    db = tmp_path / "s.duckdb"
    grid = ["--distances", "3,5", "--p", "0.008", "--basis", "x"]
    ref = _errors(_json(cli("qec", "sweep", *grid, *_grid(db=db)))["points"])
    for spec in (str(tmp_path / "vendor"), ",".join(map(str, reversed(paths))), str(tmp_path / "vendor" / "*.onnx")):
        out = _json(cli("qec", "sweep", "--decoder", spec, *grid, *_grid(db=db)))
        assert _errors(out["points"]) == ref
        assert {q["distance"]: Path(q["member"]["file"]).name for q in out["points"]} == \
            {3: "vendor_model_21.onnx", 5: "vendor_model_35.onnx"}
    # the metadata is checked against the workload too: basis Z has no member
    r = cli("qec", "sweep", "--decoder", str(tmp_path / "vendor"), "--distances", "3", "--p", "0.008",
            "--basis", "z", *_grid(db=db))
    assert r.returncode == 2 and "no member for (d=3, rounds=3, basis Z)" in r.stderr
    assert f"directory {tmp_path / 'vendor'}" in r.stderr


def test_two_members_for_one_point_and_bad_families_are_refused(cli, tmp_path, models):
    folder = tmp_path / "twice"
    folder.mkdir()
    md = {"sov.distance": "3", "sov.rounds": "3", "sov.basis": "x"}
    save(fixed_identity(3, "x", md), folder / "a.onnx")
    save(fixed_identity(3, "x", {**md, "sov.description": "another export"}), folder / "b.onnx")
    db = tmp_path / "s.duckdb"
    grid = ["--distances", "3", "--p", "0.008", "--basis", "x", *_grid(db=db)]
    r = cli("qec", "sweep", "--decoder", str(folder), *grid)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "2 members for (d=3, rounds=3, basis X)" in r.stderr and "a.onnx" in r.stderr and "b.onnx" in r.stderr
    # a name and metadata that disagree
    bad = tmp_path / "bad"
    bad.mkdir()
    save(fixed_identity(3, "x", {"sov.distance": "3"}), bad / "m_d5.onnx")
    r = cli("qec", "sweep", "--decoder", str(bad / "m_d{d}.onnx"), *grid)
    assert r.returncode == 2 and "its name says distance 5 but its metadata sov.distance says 3" in r.stderr
    for spec, needle in ((str(models / "m_d{n}.onnx"), "unknown placeholder {n}"),
                         (str(tmp_path / "none_d{d}.onnx"), "no model file matches the pattern"),
                         (f"{models / 'predecoder_memory_d3_T3_X.onnx'},{tmp_path / 'gone.onnx'}", "not found")):
        r = cli("qec", "sweep", "--decoder", spec, *grid)
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_threshold_and_lambda_of_a_family_equal_pymatchings(cli, tmp_path, models):
    db = tmp_path / "s.duckdb"
    fam = str(models / PATTERN)
    grid = ["--distances", "3,5", "--p", "0.004,0.006,0.009", "--basis", "x", "--bootstrap", "20"]
    t_fam = cli("qec", "threshold", "--decoder", fam, *grid, *_grid(db=db))
    t_ref = cli("qec", "threshold", *grid, *_grid(db=db))
    assert t_fam.returncode == t_ref.returncode in (0, 3), t_fam.stderr
    a, b = json.loads(t_fam.stdout), json.loads(t_ref.stdout)
    assert _errors(a["points"]) == _errors(b["points"])
    assert a["threshold"] == b["threshold"] and a["status"] == b["status"]
    assert all(q["member"]["file"].endswith(f"_d{q['distance']}_T{q['distance']}_X.onnx") for q in a["points"])

    # members built for rounds = d: Λ in the one-round-count convention (Google's needs 3d, 9d)
    grid = ["--distances", "3,5", "--p", "0.008", "--basis", "x", "--bootstrap", "50",
            "--convention", "single-round-count"]
    l_fam = _json(cli("qec", "lambda", "--decoder", fam, *grid, *_grid(db=db, shots="4000")))
    l_ref = _json(cli("qec", "lambda", *grid, *_grid(db=db, shots="4000")))
    assert l_fam["lambda"] == l_ref["lambda"] and l_fam["epsilon"] == l_ref["epsilon"]
    assert {m["distance"]: Path(m["file"]).name for m in l_fam["members"]} == \
        {3: "predecoder_memory_d3_T3_X.onnx", 5: "predecoder_memory_d5_T5_X.onnx"}


def test_compare_takes_a_family_as_one_candidate(cli, tmp_path, models):
    db = tmp_path / "c.duckdb"
    paths = _metadata_family(tmp_path / "vendor")
    r = cli("compare", "--decoder", str(models / PATTERN), "--decoder", str(tmp_path / "vendor"),
            "--distances", "3,5", "--p", "0.008", "--basis", "x", "--shots", SHOTS, "--latency-shots", "0",
            "--workers", "1", "--db", str(db), "--json", "-", "--markdown", str(tmp_path / "r.md"),
            "--html", str(tmp_path / "r.html"))
    out = _json(r)
    md = (tmp_path / "r.md").read_text()
    assert "model family of 4 files" in md and "`predecoder_memory_d5_T5_Z.onnx` sha256" in md
    assert "model family (one file per distance" in (tmp_path / "r.html").read_text()
    decoders = {d["spec"]: d for d in out["decoders"]}
    assert len(decoders) == 3 and decoders["pymatching"]["baseline"]
    fam = decoders[str(models / PATTERN)]
    assert fam["label"] == PATTERN and decoders[str(tmp_path / "vendor")]["label"] == "vendor/"
    assert sorted(Path(m["file"]).name for m in fam["members"]) == sorted(
        f"predecoder_memory_d{d}_T{d}_{b}.onnx" for d in (3, 5) for b in "XZ")
    paired = [p for p in out["paired"] if p["decoder"] in (fam["key"], decoders[str(tmp_path / "vendor")]["key"])]
    assert len(paired) == 4 and all(p["available"] and p["verdict"] == "identical" for p in paired), paired
    base = {(q["distance"]): q["errors"] for q in out["results"] if q["decoder"] == decoders["pymatching"]["key"]}
    for q in out["results"]:
        if q["decoder"] != decoders["pymatching"]["key"]:
            assert q["errors"] == base[q["distance"]]
            assert Path(q["member"]["file"]).name in {p.name for p in paths} | {
                f"predecoder_memory_d{q['distance']}_T{q['distance']}_X.onnx"}


def test_commands_of_one_workload_refuse_a_family(cli, tmp_path, models):
    r = cli("qec", "run", "--decoder", str(models / PATTERN), "--distance", "3", "--p", "0.01", "--shots", "100",
            "--workers", "1", "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "names a model family" in r.stderr and len(r.stderr.strip().splitlines()) == 1


ISING = Path(__file__).parent / "data" / "ising" / "noop"


def test_isings_own_export_is_a_member_by_its_name(cli, tmp_path):
    """Ising-Decoding's file name, basis upper case, fits the pattern of its own naming."""
    pattern = str(ISING / PATTERN)
    base = ["--decoder", pattern, "--contract", "qec.predecoder.flat", "--p", "0.003", *_grid(db=tmp_path / "s.duckdb")]
    r = cli("qec", "sweep", "--distances", "3,5", "--basis", "x", *base)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no member for (d=3, rounds=3, basis X)" in r.stderr
    assert str(ISING / "predecoder_memory_d5_T5_X.onnx") in r.stderr
    r = cli("qec", "sweep", "--distances", "5", "--basis", "z", *base)
    assert r.returncode == 2 and "no member for (d=5, rounds=5, basis Z)" in r.stderr


def test_a_model_fit_for_no_point_gets_no_family_hint(cli, tmp_path):
    path = save(fixed_identity(7, "x"), tmp_path / "d7.onnx")
    r = cli("qec", "sweep", "--decoder", path, "--distances", "3,5", "--p", "0.008", "--basis", "x",
            *_grid(db=tmp_path / "s.duckdb"))
    assert r.returncode == 2 and "expected [batch, 24]" in r.stderr and "needs a family" not in r.stderr


def test_a_family_on_the_worker_pool_gives_the_same_points(run_sov, cli, tmp_path, models):
    """Jobs carry each point's member to the workers (two processes), blocks several per job."""
    grid = ["--decoder", str(models / PATTERN), "--distances", "3,5", "--p", "0.006,0.01", "--basis", "x",
            "--shots", "20000", "--seed", "5", "--json", "-"]
    pool = run_sov("qec", "sweep", *grid, "--workers", "2", "--db", str(tmp_path / "a.duckdb"))
    inline = cli("qec", "sweep", *grid, "--workers", "1", "--db", str(tmp_path / "b.duckdb"))
    a, b = _json(pool), _json(inline)
    assert _errors(a["points"]) == _errors(b["points"]) and a["ran_shots"] == 80000
    assert [q["member"] for q in a["points"]] == [q["member"] for q in b["points"]]


def test_the_terminal_table_names_each_points_model(cli, tmp_path, models):
    r = cli("qec", "sweep", "--decoder", str(models / PATTERN), "--distances", "3,5", "--p", "0.008",
            "--basis", "x", "--shots", "500", "--workers", "1", "--db", str(tmp_path / "s.duckdb"),
            env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "predecoder_memory_d" in line and "0.008" in line]
    assert [("d3_T3_X" in row, "d5_T5_X" in row) for row in rows] == [(True, False), (False, True)], r.stdout
