"""``--decoder predictions:FILE`` and blind evaluation (``sov qec export-syndromes``), on
NVIDIA Ising-Decoding's own test bundle and on syndromes exported by sov and decoded by a
"vendor" running PyMatching on what it was sent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.cli import one_line

ROOT = Path(__file__).resolve().parents[1]
ISING = ROOT / "tests" / "data" / "ising"
CIRCUIT = ISING / "circuits" / "ising_d5_T5_X_simple.stim"
PREDICTIONS = ISING / "noop" / "data_X" / "pymatching_predictions.bin"
SECRET_SEED = 7_301_889_214_556_120_001  # >= 2**32: not guessable by trying every seed
MEMORY = ["--distance", "3", "--p", "0.01", "--shots", "3000", "--seed", str(SECRET_SEED)]


@pytest.fixture(scope="module")
def ising_shots(tmp_path_factory) -> list[str]:
    """Ising's samples_X.dets (observable appended as L0) as b8 detection events and
    observables: the workload flags of a recorded replay."""
    import stim

    folder = tmp_path_factory.mktemp("ising")
    data = stim.read_shot_data_file(path=str(ISING / "noop" / "data_X" / "samples_X.dets"), format="dets",
                                    num_detectors=120, num_observables=1)
    stim.write_shot_data_file(data=data[:, :120], path=str(folder / "D.b8"), format="b8", num_detectors=120)
    stim.write_shot_data_file(data=data[:, 120:], path=str(folder / "O.b8"), format="b8", num_observables=1)
    return ["--circuit", str(CIRCUIT), "--dets", str(folder / "D.b8"), "--obs", str(folder / "O.b8")]


def _json(r) -> dict:
    assert r.returncode == 0, (r.stdout[-800:], r.stderr[-2000:])
    return json.loads(r.stdout)


def _ising_bin(path: Path, values: np.ndarray, dtype=np.int32) -> Path:
    """An Ising-layout .bin: int32 rows, columns, then the values."""
    rows, cols = values.shape
    path.write_bytes(np.array([rows, cols], "<i4").tobytes() + values.astype(dtype).tobytes())
    return path


def _ising_values() -> np.ndarray:
    raw = np.fromfile(PREDICTIONS, dtype="<i4")
    return raw[2:].reshape(int(raw[0]), int(raw[1]))


# -- Ising's own predictions ----------------------------------------------------------------

def test_ising_pymatching_predictions_score_36_errors(cli, tmp_path, ising_shots):
    r = cli("qec", "run", "--decoder", f"predictions:{PREDICTIONS}", *ising_shots, "--workers", "1",
            "--db", tmp_path / "s.duckdb", "--json", "-")
    out = _json(r)
    assert (out["shots"], out["errors"]) == (10_000, 36)  # what Ising's own tooling counted
    assert out["model_sha256"] == hashlib.sha256(PREDICTIONS.read_bytes()).hexdigest()
    assert "commitment" not in out  # recorded shots, never exported: nothing to verify
    from verifier.store.decoders import decoder_spec
    from verifier.store.db import Store

    spec = decoder_spec(Store(tmp_path / "s.duckdb"), out["fingerprint"])
    assert spec == {"decoder": "predictions", "sha256": out["model_sha256"], "format": "ising-bin"}


def test_explicit_format_names_the_same_decoder(cli, tmp_path, ising_shots):
    odd = tmp_path / "preds.dat"
    odd.write_bytes(PREDICTIONS.read_bytes())
    line = one_line(cli("qec", "run", "--decoder", f"predictions:{odd}", *ising_shots, "--workers", "1",
                        "--db", tmp_path / "s.duckdb"), 2)
    assert "predictions:bin:FILE" in line
    a = _json(cli("qec", "run", "--decoder", f"predictions:bin:{odd}", *ising_shots, "--workers", "1",
                  "--db", tmp_path / "s.duckdb", "--json", "-"))
    b = _json(cli("qec", "run", "--decoder", f"predictions:{PREDICTIONS}", *ising_shots, "--workers", "1",
                  "--db", tmp_path / "s.duckdb", "--json", "-"))
    assert a["fingerprint"] == b["fingerprint"] and a["errors"] == b["errors"] == 36
    assert b["reused_shots"] == 10_000  # same file content, same shots: the store's blocks


def test_uint8_bin_and_01_and_b8_give_the_same_errors(cli, tmp_path, ising_shots):
    import stim

    values = _ising_values()
    files = [_ising_bin(tmp_path / "u8.bin", values, np.uint8), tmp_path / "p.01", tmp_path / "p.b8"]
    stim.write_shot_data_file(data=values.astype(bool), path=str(files[1]), format="01", num_observables=1)
    stim.write_shot_data_file(data=values.astype(bool), path=str(files[2]), format="b8", num_observables=1)
    for f in files:
        out = _json(cli("qec", "run", "--decoder", f"predictions:{f}", *ising_shots, "--workers", "1",
                        "--db", tmp_path / "s.duckdb", "--json", "-"))
        assert out["errors"] == 36, f


def test_refusals_before_any_shot(cli, tmp_path, ising_shots):
    values = _ising_values()
    short = _ising_bin(tmp_path / "short.bin", values[:-1])
    wide = _ising_bin(tmp_path / "wide.bin", np.concatenate([values, values], axis=1))
    two = values.copy()
    two[17, 0] = 2
    not01 = _ising_bin(tmp_path / "not01.bin", two)
    (tmp_path / "wide.01").write_text("01\n" * 10_000)
    (tmp_path / "two.01").write_text("0\n" * 500 + "2\n" + "0\n" * 9_499)
    (tmp_path / "pad.b8").write_bytes(b"\x00" * 9_999 + b"\x02")  # bit 1 set: a second observable?
    bad_header = tmp_path / "header.bin"
    bad_header.write_bytes(np.array([10_000, 1], "<i4").tobytes() + b"\0" * 100)
    db = tmp_path / "s.duckdb"
    expect = {short: "holds 9,999 rows of predictions but the workload has 10,000 shots",
              wide: "holds 2 predictions per shot but the workload has 1 observable",
              tmp_path / "wide.01": "holds 2 predictions per shot",
              not01: "record 17 holds 2 in column 0",
              tmp_path / "two.01": "holds a character other than 0 or 1",
              tmp_path / "pad.b8": "sets bits beyond its 1 bits",
              bad_header: "the header says 10000 x 1 values but 100 bytes follow it",
              tmp_path / "missing.bin": "predictions file not found"}
    for f, says in expect.items():
        line = one_line(cli("qec", "run", "--decoder", f"predictions:{f}", *ising_shots, "--workers", "1",
                            "--db", db), 2, prefix="sov:")
        assert says in line, (f.name, line)
    assert one_line(cli("qec", "run", "--decoder", f"predictions:{PREDICTIONS}", "--contract",
                        "qec.predecoder.flat", *ising_shots, "--db", db), 2).endswith("not to a predictions file")
    # nothing was run: no decoder of any of these files has a block in the store
    from verifier.store.db import Store

    assert not Path(db).exists() or Store(db).query("SELECT count(*) FROM blocks")[0][0] == 0


def test_sampled_shots_need_an_export(cli, tmp_path):
    preds = tmp_path / "p.01"
    preds.write_text("0\n" * 3000)
    line = one_line(cli("qec", "run", "--decoder", f"predictions:{preds}", *MEMORY, "--workers", "1",
                        "--db", tmp_path / "s.duckdb"), 2)
    assert "is sampled and has no export" in line
    # accept and compare refuse before any shot, whichever side the predictions are on
    line = one_line(cli("accept", "--candidate", "pymatching", "--baseline", f"predictions:{preds}", *MEMORY,
                        "--workers", "1", "--db", tmp_path / "s.duckdb"), 2)
    assert "is sampled and has no export" in line
    line = one_line(cli("compare", "--decoder", "pymatching", "--baseline", f"predictions:{preds}",
                        "--distances", "3", "--p", "0.01", "--shots", "3000", "--seed", str(SECRET_SEED),
                        "--workers", "1", "--db", tmp_path / "s.duckdb"), 2)
    assert "is sampled and has no export" in line
    from verifier.store.db import Store

    assert Store(tmp_path / "s.duckdb").query("SELECT count(*) FROM blocks")[0][0] == 0


def test_accept_predictions_candidate_against_pymatching(cli, tmp_path, ising_shots):
    from verifier.gates.gate import EXIT_BY_VERDICT

    r = cli("accept", "--candidate", f"predictions:{PREDICTIONS}", "--baseline", "pymatching", *ising_shots,
            "--workers", "1", "--db", tmp_path / "s.duckdb", "--json", "-")
    out = json.loads(r.stdout)
    assert r.returncode == EXIT_BY_VERDICT[out["verdict"]], r.stderr
    w = out["workloads"][0]
    # Ising's PyMatching on its check matrix and sov's on the circuit's DEM: the same failures
    assert w["paired"] == {"n00": 9964, "n10": 0, "n01": 0, "n11": 36}
    assert w["candidate"]["errors"] == w["baseline"]["errors"] == 36
    assert out["candidate"]["spec"]["decoder"] == "predictions"
    # a latency gate cannot time predictions: refused before any shot
    line = one_line(cli("accept", "--candidate", f"predictions:{PREDICTIONS}", "--baseline", "pymatching",
                        *ising_shots, "--latency-budget-us", "100", "--workers", "1", "--db",
                        tmp_path / "t.duckdb"), 2)
    assert "no latency" in line
    from verifier.store.db import Store

    held = tmp_path / "t.duckdb"
    assert not held.exists() or Store(held).query("SELECT count(*) FROM blocks")[0][0] == 0
    # and as the baseline
    r = cli("accept", "--candidate", "pymatching", "--baseline", f"predictions:{PREDICTIONS}", *ising_shots,
            "--workers", "1", "--db", tmp_path / "s.duckdb", "--json", "-")
    assert json.loads(r.stdout)["workloads"][0]["baseline"]["errors"] == 36


def test_predictions_cannot_decode_other_syndromes(tmp_path):
    """A compiled predictions file answers by position only; latency has nothing to time."""
    from adapters.predictions import PredictionsDecoder
    from verifier.errors import IntegrityError, UsageError
    from verifier.qec.decoder import is_precomputed
    from verifier.qec.workload import MemoryWorkload
    from verifier.workflows.latency import latency_distribution, measure_latency

    wl = MemoryWorkload(3, 3, "z", "uniform", 0.01, 16, SECRET_SEED)
    f = tmp_path / "p.01"
    f.write_text("1\n" * 16)
    dec = PredictionsDecoder.from_spec(f"predictions:{f}")
    assert is_precomputed(dec)
    dec.check(wl)
    compiled = dec.compile_for(wl)
    dets, _ = wl.sample_block(wl.blocks()[0])
    assert compiled.decode_block(dets[:4], 12).tolist() == [[1]] * 4
    with pytest.raises(IntegrityError):
        compiled.decode_block(dets[:5], 12)
    with pytest.raises(UsageError):
        compiled.decode_packed(dets)
    with pytest.raises(UsageError):
        measure_latency(dec, wl, shots=4, warmup=0)
    assert latency_distribution(dec, wl, shots=10) == {"shots": 0}
    f.write_text("0\n" * 16)  # changed after it was named
    with pytest.raises(IntegrityError):
        dec.compile_for(wl)


# -- blind evaluation ---------------------------------------------------------------------------

def _vendor(folder: Path, out: Path) -> np.ndarray:
    """What a vendor does with the folder it was sent: PyMatching on the shipped DEM, its
    predictions written as stim 01."""
    import pymatching
    import stim

    m = json.loads((folder / "syndromes.json").read_text())
    dem = stim.DetectorErrorModel.from_file(str(folder / m["detector_error_model"]))
    dets = stim.read_shot_data_file(path=str(folder / m["detection_events"]), format=m["format"],
                                    num_detectors=m["num_detectors"])
    pred = pymatching.Matching.from_detector_error_model(dem).decode_batch(dets)
    stim.write_shot_data_file(data=pred.astype(bool), path=str(out), format="01",
                              num_observables=m["num_observables"])
    return pred


def test_export_score_and_prove_the_truth(cli, tmp_path):
    db = tmp_path / "lab.duckdb"
    folder, truth = tmp_path / "to-vendor", tmp_path / "truth.b8"
    exp = _json(cli("qec", "export-syndromes", *MEMORY, "--out", folder, "--format", "01", "--truth", truth,
                    "--db", db, "--json", "-"))
    assert sorted(p.name for p in folder.iterdir()) == ["circuit.stim", "detection_events.01",
                                                        "detector_error_model.dem", "syndromes.json"]
    manifest = (folder / "syndromes.json").read_text()
    assert str(SECRET_SEED) not in manifest and exp["workload_id"] not in manifest  # nothing that gives the truth away
    assert (folder / "detection_events.01").read_text().count("\n") == 3000
    pred = _vendor(folder, tmp_path / "vendor.01")

    scored = _json(cli("qec", "run", "--decoder", f"predictions:{tmp_path / 'vendor.01'}", *MEMORY,
                       "--workers", "1", "--db", db, "--json", "-"))
    baseline = _json(cli("qec", "run", "--decoder", "pymatching", *MEMORY, "--workers", "1", "--db", db,
                         "--json", "-"))
    assert scored["workload_id"] == baseline["workload_id"] == exp["workload_id"]
    assert scored["errors"] == baseline["errors"] > 0
    from verifier.engine.blocks import unpack_predictions
    from verifier.store.db import Store

    store = Store(db)
    wl_stream = store.query("SELECT stream_id FROM workloads WHERE workload_id = ?", [exp["workload_id"]])[0][0]
    for fp in (scored["fingerprint"], baseline["fingerprint"]):  # shot for shot, the vendor's PyMatching
        blocks = sorted(store.block_predictions(fp, wl_stream).items())
        got = np.concatenate([unpack_predictions(p, shots, bits) for (_, shots), (p, bits) in blocks])
        assert np.array_equal(got, pred)

    c = scored["commitment"]
    assert c["verified"] is True and c["value"] == exp["commitment"]["value"]
    # the proof a vendor can check on its own once the salt and the truth are revealed
    assert hashlib.sha256(bytes.fromhex(c["salt"]) + truth.read_bytes()).hexdigest() == c["value"]
    assert c["dets_sha256"] == hashlib.sha256((folder / "detection_events.01").read_bytes()).hexdigest()

    # the lab's truth file, replayed as recorded data: verified by the exported events' hash
    recorded = ["--circuit", folder / "circuit.stim", "--dets", folder / "detection_events.01", "--obs", truth]
    again = _json(cli("qec", "run", "--decoder", f"predictions:{tmp_path / 'vendor.01'}", *recorded,
                      "--workers", "1", "--db", db, "--json", "-"))
    assert again["errors"] == scored["errors"] and again["commitment"]["value"] == c["value"]
    # a tampered truth does not match the commitment: exit 4, before any shot is scored
    bad = bytearray(truth.read_bytes())
    bad[100] ^= 1
    (tmp_path / "tampered.b8").write_bytes(bytes(bad))
    recorded[-1] = tmp_path / "tampered.b8"
    line = one_line(cli("qec", "run", "--decoder", f"predictions:{tmp_path / 'vendor.01'}", *recorded,
                        "--workers", "1", "--db", db), 4)
    assert "do not match the commitment" in line


def test_accept_and_compare_on_exported_shots(cli, tmp_path):
    from verifier.qec.grid import SweepSpec

    db = tmp_path / "lab.duckdb"
    point = SweepSpec((3,), (0.01,), 2000, seed=SECRET_SEED).workloads()[0]  # compare's grid point
    flags = ["--distance", "3", "--rounds", "3", "--p", "0.01", "--shots", "2000", "--seed", str(point.seed)]
    exp = _json(cli("qec", "export-syndromes", *flags, "--out", tmp_path / "out", "--db", db, "--json", "-"))
    assert exp["workload_id"] == point.id
    _vendor(tmp_path / "out", tmp_path / "v.01")
    spec = f"predictions:{tmp_path / 'v.01'}"

    r = cli("accept", "--candidate", spec, "--baseline", "pymatching", *flags, "--workers", "1", "--db", db,
            "--json", "-")
    out = json.loads(r.stdout)
    w = out["workloads"][0]
    assert w["paired"]["n10"] == w["paired"]["n01"] == 0 and w["paired"]["n11"] > 0
    assert w["candidate"]["commitment"]["verified"] is True

    out = _json(cli("compare", "--decoder", spec, "--baseline", "pymatching", "--distances", "3",
                    "--p", "0.01", "--shots", "2000", "--seed", str(SECRET_SEED), "--latency-shots", "20",
                    "--workers", "1", "--db", db, "--html", tmp_path / "r.html", "--markdown",
                    tmp_path / "r.md", "--json", "-"))
    assert "predictions:v.01" in (tmp_path / "r.md").read_text()
    paired = out["paired"]
    assert len(paired) == 1 and paired[0]["verdict"] == "identical" and paired[0]["both_fail"] > 0
    row = next(r for r in out["results"] if r["decoder"] == paired[0]["decoder"])
    assert row["commitment"]["verified"] is True and row["latency"] == {"shots": 0}  # nothing to time


def test_export_refusals(cli, tmp_path):
    db = tmp_path / "s.duckdb"
    guessable = ["--distance", "3", "--p", "0.01", "--shots", "100"]
    assert "give a secret --seed" in one_line(cli("qec", "export-syndromes", *guessable, "--out", tmp_path / "a",
                                                  "--db", db), 2)
    inside = one_line(cli("qec", "export-syndromes", *MEMORY, "--out", tmp_path / "b", "--truth",
                          tmp_path / "b" / "t.b8", "--db", db), 2)
    assert "must not travel with the syndromes" in inside
    assert not (tmp_path / "b").exists()
    _json(cli("qec", "export-syndromes", *MEMORY, "--out", tmp_path / "c", "--db", db, "--json", "-"))
    again = one_line(cli("qec", "export-syndromes", *MEMORY, "--out", tmp_path / "c", "--db", db), 2)
    assert "already holds" in again
    assert "--format must be one of b8, 01" in one_line(
        cli("qec", "export-syndromes", *MEMORY, "--out", tmp_path / "d", "--format", "dets", "--db", db), 2)
    from verifier.store.commitments import exports_for
    from verifier.store.db import Store

    assert len(exports_for(Store(db), "none")) == 0
    assert Store(db).query("SELECT count(*) FROM syndrome_exports")[0][0] == 1


def test_recorded_shots_exported_and_scored(cli, tmp_path, ising_shots):
    """A lab's recorded shots (Ising's bundle) sent out and scored by their own flags; the
    predictions file that comes back is Ising's own."""
    db = tmp_path / "lab.duckdb"
    exp = _json(cli("qec", "export-syndromes", *ising_shots, "--out", tmp_path / "out", "--db", db,
                    "--json", "-"))
    assert exp["shots"] == 10_000 and exp["format"] == "b8"
    dets = Path(ising_shots[ising_shots.index("--dets") + 1])
    assert (tmp_path / "out" / "detection_events.b8").read_bytes() == dets.read_bytes()
    out = _json(cli("qec", "run", "--decoder", f"predictions:{PREDICTIONS}", *ising_shots, "--workers", "1",
                    "--db", db, "--json", "-"))
    assert out["errors"] == 36 and out["commitment"]["verified"] is True
    assert out["commitment"]["value"] == exp["commitment"]["value"]


# -- datasets as they ship -------------------------------------------------------------------

@pytest.mark.parametrize("willow", [False, True])
def test_a_google_folder_scores_its_own_predictions(cli, tmp_path, willow):
    """A Google-layout folder (written with stim) replays with its shipped DEM; the
    predictions it ships give the folder's own errors, shot for shot PyMatching's."""
    from tests.test_datasets import write_google_folder

    exp = tmp_path / "exp"
    facts = write_google_folder(exp, willow=willow)
    shipped = (exp / "decoding_results" / "pymatching_with_si1000_prior" / "obs_flips_predicted.b8" if willow
               else exp / "obs_flips_predicted_by_pymatching.01")
    db = tmp_path / "s.duckdb"
    theirs = _json(cli("qec", "run", "--decoder", f"predictions:{shipped}", "--dataset", exp, "--workers", "1",
                       "--db", db, "--json", "-"))
    ours = _json(cli("qec", "run", "--decoder", "pymatching", "--dataset", exp, "--workers", "1", "--db", db,
                     "--json", "-"))
    assert theirs["errors"] == ours["errors"] == facts["errors"] > 0
    assert theirs["workload_id"] == ours["workload_id"]


def test_an_ising_bundle_folder_scores_its_own_predictions(cli, tmp_path):
    bundle = ISING / "noop" / "data_X"
    out = _json(cli("qec", "run", "--decoder", f"predictions:{PREDICTIONS}", "--dataset", bundle, "--workers", "1",
                    "--db", tmp_path / "s.duckdb", "--json", "-"))
    assert (out["shots"], out["errors"]) == (10_000, 36)


def test_the_fault_probe_skips_predictions(cli, tmp_path, ising_shots):
    """The single-fault probe decodes syndromes of its own: a predictions file has none to
    give, so its JSON says null where a model's holds counts."""
    out = _json(cli("qec", "run", "--decoder", f"predictions:{PREDICTIONS}", *ising_shots, "--workers", "1",
                    "--db", tmp_path / "s.duckdb", "--json", "-"))
    assert out["errors"] == 36 and "fault_probe" in out and out["fault_probe"] is None
