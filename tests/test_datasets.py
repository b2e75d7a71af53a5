"""Shot data and dataset folders as vendors and labs write them: NVIDIA Ising-Decoding's
test bundles (the real files in tests/data/ising/), a Google-layout experiment folder
written here with stim, a plain stim folder, and every refusal."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pymatching
import pytest
import stim

from verifier.errors import UsageError
from verifier.qec.datasets import ising_bundle_dem, read_dataset
from verifier.qec.ising_bundle import read_csr, read_priors
from verifier.qec.shotdata import (bin_header, count_records, format_from_suffix, observables_in_dets,
                                   read_records, read_shots)

ISING = Path(__file__).resolve().parent / "data" / "ising"
BUNDLES = {"noop": ISING / "noop" / "data_X", "sparse": ISING / "sparse" / "data_X"}
SIMPLE = ISING / "circuits" / "ising_d5_T5_X_simple.stim"
ISING_PYMATCHING_ERRORS = {"noop": 36, "sparse": 7}  # what Ising's own PyMatching run wrote


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


def errors(pred: np.ndarray, obs: np.ndarray) -> int:
    return int(np.any(pred != obs, axis=1).sum())


# -- Ising's bundle -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BUNDLES))
def test_ising_bundle_is_recognized_with_the_files_it_used(name):
    ds = read_dataset(BUNDLES[name])
    assert ds.layout == "ising-bundle" and ds.circuit is None and ds.dem is None
    assert (ds.dets.name, ds.dets_format, ds.obs.name, ds.obs_format) == \
        ("detectors.bin", "ising-bin", "observables.bin", "ising-bin")
    assert ds.used[:5] == ("detectors.bin", "observables.bin", "H_csr.bin", "O_csr.bin", "priors.bin")
    assert "metadata.txt" in ds.used and "metadata_X.json" in ds.used
    shots = {"noop": 10_000, "sparse": 2_000}[name]
    assert ds.properties.items() >= {"distance": 5, "rounds": 5, "basis": "x", "p": 0.003, "shots": shots,
                                   "num_detectors": 120, "num_observables": 1}.items()
    assert set(ds.predictions) == {"pymatching"} and ds.predictions["pymatching"].name == "pymatching_predictions.bin"
    assert set(ds.other) == {"predecoder_outputs"}
    assert "Ising test bundle" in ds.describe() and "H_csr.bin" in ds.describe()


@pytest.mark.parametrize("name", list(BUNDLES))
def test_bin_files_and_samples_dets_hold_the_same_shots(name):
    root = BUNDLES[name]
    n = count_records(root / "detectors.bin", "ising-bin", 120)
    assert n == count_records(root / "samples_X.dets", "dets", 121) == count_records(root / "observables.bin", "ising-bin", 1)
    assert observables_in_dets(root / "samples_X.dets")
    dets = read_records(root / "detectors.bin", "ising-bin", 120, 0, n)
    obs = read_records(root / "observables.bin", "ising-bin", 1, 0, n)
    d2, o2 = read_shots(root / "samples_X.dets", "dets", 120, 1, 0, n)
    assert np.array_equal(dets, d2) and np.array_equal(obs, o2)
    # by block, as a workload reads them
    for start, count in ((0, 7), (n // 2, 300), (n - 5, 5)):
        d3, o3 = read_shots(root / "samples_X.dets", "dets", 120, 1, start, count)
        assert np.array_equal(d3, dets[start:start + count]) and np.array_equal(o3, obs[start:start + count])
        assert np.array_equal(read_records(root / "detectors.bin", "ising-bin", 120, start, count),
                              dets[start:start + count])
    # the raw values really are what was packed
    raw = np.fromfile(root / "detectors.bin", dtype="<i4", offset=8).reshape(n, 120)
    assert np.array_equal(np.unpackbits(dets, axis=1, count=120, bitorder="little"), raw)


def test_ising_binary_layouts():
    root = BUNDLES["noop"]
    h, o, p = read_csr(root / "H_csr.bin"), read_csr(root / "O_csr.bin"), read_priors(root / "priors.bin")
    assert (h.rows, h.cols, o.rows, o.cols, len(p)) == (120, 440, 1, 440, 440)
    per_column = np.bincount(h.indices, minlength=h.cols)
    assert set(per_column) == {1, 2}  # graph-like: boundary edges and edges
    assert np.all(np.diff(h.indptr)[108:] == 0)  # the last 12 detectors are in no mechanism
    assert bin_header(root / "predecoder_outputs.bin").itemsize == 1  # uint8, the others int32
    assert bin_header(root / "detectors.bin").itemsize == 4


@pytest.mark.parametrize("name", list(BUNDLES))
def test_pymatching_on_the_bundle_dem_against_isings_predictions(name):
    """PyMatching on the check-matrix DEM against Ising's pymatching_predictions.bin, and
    PyMatching on the circuit's DEM (decompose + approximate disjoint errors) against both."""
    root = BUNDLES[name]
    dem = ising_bundle_dem(root)
    assert (dem.num_detectors, dem.num_observables, dem.num_errors) == (120, 1, 440)
    n = count_records(root / "detectors.bin", "ising-bin", 120)
    dets = read_records(root / "detectors.bin", "ising-bin", 120, 0, n)
    obs = read_records(root / "observables.bin", "ising-bin", 1, 0, n)
    theirs = read_records(root / "pymatching_predictions.bin", "ising-bin", 1, 0, n)
    assert errors(theirs, obs) == ISING_PYMATCHING_ERRORS[name]

    def predict(model):
        return pymatching.Matching.from_detector_error_model(model).decode_batch(
            dets, bit_packed_shots=True, bit_packed_predictions=True)

    bundle = predict(dem)
    circuit = predict(stim.Circuit.from_file(str(SIMPLE)).detector_error_model(
        decompose_errors=True, approximate_disjoint_errors=True))
    # Ising made its predictions from the circuit's DEM: same shot for shot
    assert np.array_equal(circuit, theirs)
    # the check matrix sums the probabilities of the hyperedges an edge belongs to (up to 2x
    # what PyMatching merges from the circuit): one near-tie of 10,000 noop shots decides
    # otherwise (weights 28.196 and 28.291)
    differ = np.flatnonzero(np.any(bundle != theirs, axis=1))
    assert list(differ) == {"noop": [4553], "sparse": []}[name]
    assert errors(bundle, obs) == {"noop": 37, "sparse": 7}[name]


def _bundle_copy(tmp_path: Path, drop: tuple[str, ...] = ()) -> Path:
    """A bundle of symlinks to the real files (never copied into the repository)."""
    dst = tmp_path / "bundle"
    dst.mkdir()
    for f in BUNDLES["sparse"].iterdir():
        if f.name not in drop:
            (dst / f.name).symlink_to(f)
    return dst


@pytest.mark.parametrize("drop, words", [
    (("priors.bin",), ["Ising test bundle", "lacks priors.bin"]),
    (("H_csr.bin", "O_csr.bin"), ["Ising test bundle", "H_csr.bin, O_csr.bin"]),
    (("observables.bin", "samples_X.dets"), ["Ising test bundle", "lacks observables.bin"]),
])
def test_a_bundle_missing_a_file_is_refused_naming_it(tmp_path, drop, words):
    with pytest.raises(UsageError) as e:
        read_dataset(_bundle_copy(tmp_path, drop))
    assert all(w in one_line(e) for w in words)


def test_a_bundle_without_bin_shots_uses_samples_dets(tmp_path):
    ds = read_dataset(_bundle_copy(tmp_path, ("detectors.bin", "observables.bin")))
    assert (ds.dets.name, ds.dets_format, ds.obs, ds.obs_format) == ("samples_X.dets", "dets", None, None)
    assert ds.observables_appended and ds.properties["shots"] == 2_000


def test_bundle_metadata_disagreeing_with_the_files_is_refused(tmp_path):
    root = _bundle_copy(tmp_path, ("metadata.txt",))
    (root / "metadata.txt").write_text("num_samples=1999\nnum_detectors=120\n")
    with pytest.raises(UsageError) as e:
        read_dataset(root)
    assert "1999 shots" in one_line(e) and "2000" in one_line(e)


def _bin(path: Path, rows: int, cols: int, values: np.ndarray, dtype="<i4") -> Path:
    path.write_bytes(np.array([rows, cols], "<u4").tobytes() + np.asarray(values, dtype).tobytes())
    return path


def test_bin_refusals(tmp_path):
    good = _bin(tmp_path / "ok.bin", 3, 4, np.eye(3, 4))
    assert count_records(good, "ising-bin", 4) == 3 and format_from_suffix(good) == "ising-bin"
    assert np.array_equal(np.unpackbits(read_records(good, "ising-bin", 4, 1, 2), axis=1, count=4,
                                        bitorder="little"), np.eye(3, 4)[1:])
    cases = [
        (_bin(tmp_path / "short.bin", 3, 4, np.eye(3, 4)[:2]), 4, ["header says 3 x 4", "bytes follow"]),
        (_bin(tmp_path / "wide.bin", 3, 4, np.eye(3, 4)), 5, ["4 values per record", "expected 5"]),
        (_bin(tmp_path / "two.bin", 3, 4, 2 * np.eye(3, 4)), 4, ["record 0 holds 2", "0 or 1"]),
        (_bin(tmp_path / "neg.bin", 3, 4, -np.eye(3, 4)), 4, ["holds -1"]),
    ]
    (tmp_path / "tiny.bin").write_bytes(b"\x01\x00")
    cases.append((tmp_path / "tiny.bin", 4, ["shorter than the 8-byte header"]))
    for path, width, words in cases:
        with pytest.raises(UsageError) as e:
            count_records(path, "ising-bin", width)
            read_records(path, "ising-bin", width, 0, 3)
        assert all(w in one_line(e) for w in words), (path.name, one_line(e))


def test_csr_and_priors_refusals(tmp_path):
    h = BUNDLES["sparse"] / "H_csr.bin"
    (tmp_path / "H_csr.bin").write_bytes(h.read_bytes()[:-4])
    with pytest.raises(UsageError) as e:
        read_csr(tmp_path / "H_csr.bin")
    assert "820 entries" in one_line(e)
    (tmp_path / "priors.bin").write_bytes(np.array([2], "<u4").tobytes() + np.array([0.1, 1.5], "<f8").tobytes())
    with pytest.raises(UsageError) as e:
        read_priors(tmp_path / "priors.bin")
    assert "not a probability" in one_line(e)
    root = _bundle_copy(tmp_path, ("priors.bin",))
    (root / "priors.bin").write_bytes(np.array([3], "<u4").tobytes() + np.full(3, 0.01, "<f8").tobytes())
    with pytest.raises(UsageError) as e:
        ising_bundle_dem(root)
    assert "priors.bin 3" in one_line(e) and "440" in one_line(e)


# -- stim dets with observables, b8 with observables appended --------------------------------


def test_dets_and_b8_with_appended_observables(tmp_path):
    circ = stim.Circuit.generated("repetition_code:memory", distance=3, rounds=2,
                                  before_round_data_depolarization=0.2)
    dets, obs = circ.compile_detector_sampler(seed=3).sample(40, separate_observables=True)
    both = np.concatenate([dets, obs], axis=1)
    nd, no = circ.num_detectors, circ.num_observables
    for fmt in ("dets", "b8", "01"):
        path = tmp_path / f"shots.{fmt}"
        stim.write_shot_data_file(data=both, path=str(path), format=fmt, num_detectors=nd,
                                  num_observables=no)
        assert count_records(path, fmt, nd + no) == 40
        d, o = read_shots(path, fmt, nd, no, 5, 30)
        assert np.array_equal(np.unpackbits(d, axis=1, count=nd, bitorder="little").astype(bool), dets[5:35])
        assert np.array_equal(np.unpackbits(o, axis=1, count=no, bitorder="little").astype(bool), obs[5:35])
    assert observables_in_dets(tmp_path / "shots.dets")
    stim.write_shot_data_file(data=dets, path=str(tmp_path / "d.dets"), format="dets", num_detectors=nd)
    assert not observables_in_dets(tmp_path / "d.dets")
    with pytest.raises(UsageError) as e:  # a detector past the circuit's count
        read_shots(tmp_path / "shots.dets", "dets", nd // 2, no, 0, 40)
    assert "not valid 'dets' data" in one_line(e)
    with pytest.raises(UsageError) as e:
        read_shots(tmp_path / "shots.dets", "dets", nd, no, 30, 20)
    assert "ends before record 50" in one_line(e)
    with pytest.raises(UsageError):
        read_shots(tmp_path / "shots.dets", "ising-bin", nd, no, 0, 1)


# -- Google's experiment folder -----------------------------------------------------------


def write_google_folder(root: Path, *, shots: int = 600, willow: bool = False, seed: int = 5) -> dict:
    """An experiment folder in Google's layout (Sycamore's, or Willow's with ``willow``):
    the noiseless circuit, the noisy one, its DEM, sampled shots and PyMatching's predictions."""
    root.mkdir(parents=True)
    noisy = stim.Circuit.generated("surface_code:rotated_memory_x", distance=3, rounds=3,
                                   after_clifford_depolarization=0.01, before_measure_flip_probability=0.01,
                                   after_reset_flip_probability=0.01)
    dem = noisy.detector_error_model(decompose_errors=True)
    dets, obs = noisy.compile_detector_sampler(seed=seed).sample(shots, separate_observables=True)
    pred = pymatching.Matching.from_detector_error_model(dem).decode_batch(dets)
    nd, no = noisy.num_detectors, noisy.num_observables
    (root / "circuit_ideal.stim").write_text(str(noisy.without_noise()))
    stim.write_shot_data_file(data=dets, path=str(root / "detection_events.b8"), format="b8", num_detectors=nd)
    ofmt = "b8" if willow else "01"
    stim.write_shot_data_file(data=obs, path=str(root / f"obs_flips_actual.{ofmt}"), format=ofmt,
                              num_observables=no)
    if willow:
        (root / "circuit_noisy_si1000.stim").write_text(str(noisy))
        (root / "metadata.json").write_text(f'{{"basis": "X", "rounds": 3, "shots": {shots}, "distance": 3}}')
        path = root / "decoding_results" / "pymatching_with_si1000_prior"
        path.mkdir(parents=True)
        dem.to_file(str(path / "error_model.dem"))
        stim.write_shot_data_file(data=pred.astype(bool), path=str(path / "obs_flips_predicted.b8"),
                                  format="b8", num_observables=no)
    else:
        (root / "circuit_noisy.stim").write_text(str(noisy))
        (root / "properties.yml").write_text(
            f"type: surface_code_memory_experiment\nbasis: X\nrounds: 3\ndistance: 3\nshots: {shots}\n"
            f"circuit_detectors: {nd}\ncircuit_observables: {no}\n")
        dem.to_file(str(root / "circuit_detector_error_model.dem"))
        stim.write_shot_data_file(data=pred.astype(bool), path=str(root / "obs_flips_predicted_by_pymatching.01"),
                                  format="01", num_observables=no)
    return {"nd": nd, "no": no, "shots": shots, "errors": errors(pred, obs)}


def test_google_folder_replays_its_own_predictions(tmp_path):
    facts = write_google_folder(tmp_path / "exp")
    ds = read_dataset(tmp_path / "exp")
    assert ds.layout == "google" and ds.circuit.name == "circuit_ideal.stim"
    assert ds.dem.name == "circuit_detector_error_model.dem" and ds.notes == ()
    assert ds.used == ("properties.yml", "circuit_ideal.stim", "circuit_detector_error_model.dem",
                       "detection_events.b8", "obs_flips_actual.01")
    assert (ds.dets_format, ds.obs_format) == ("b8", "01")
    assert ds.properties == {"distance": 3, "rounds": 3, "basis": "x", "shots": facts["shots"],
                             "num_detectors": facts["nd"], "num_observables": 1}
    assert set(ds.predictions) == {"pymatching"} and [p.name for p in ds.noisy_circuits] == ["circuit_noisy.stim"]
    circuit = stim.Circuit.from_file(str(ds.circuit))
    assert circuit.detector_error_model().num_errors == 0  # noiseless: only the shipped DEM decodes
    n = count_records(ds.dets, ds.dets_format, circuit.num_detectors)
    dets = read_records(ds.dets, ds.dets_format, circuit.num_detectors, 0, n)
    obs = read_records(ds.obs, ds.obs_format, 1, 0, n)
    shipped = read_records(ds.predictions["pymatching"], "01", 1, 0, n)
    mine = pymatching.Matching.from_detector_error_model(stim.DetectorErrorModel.from_file(str(ds.dem))) \
        .decode_batch(dets, bit_packed_shots=True, bit_packed_predictions=True)
    assert np.array_equal(mine, shipped) and errors(shipped, obs) == facts["errors"] > 0


def test_google_willow_layout_with_decoding_results(tmp_path):
    write_google_folder(tmp_path / "d3_at_q4_5" / "X" / "r03", willow=True)
    exp = tmp_path / "d3_at_q4_5" / "X" / "r03"
    ds = read_dataset(exp)
    assert ds.layout == "google" and ds.dem == exp / "decoding_results/pymatching_with_si1000_prior/error_model.dem"
    assert ds.obs_format == "b8" and set(ds.predictions) == {"pymatching_with_si1000_prior"}
    assert ds.properties["shots"] == 600 and ds.properties["basis"] == "x"
    assert "decoding_results/pymatching_with_si1000_prior/error_model.dem" in ds.used
    # a second pathway: ambiguous unless picked by its label
    other = exp / "decoding_results" / "harmony_with_rl_prior"
    other.mkdir()
    shutil.copy(ds.dem, other / "error_model.dem")
    with pytest.raises(UsageError) as e:
        read_dataset(exp)
    line = one_line(e)
    assert "2 detector error models" in line and "harmony_with_rl_prior" in line and "--dem NAME" in line
    picked = read_dataset(exp, dem="harmony_with_rl_prior")
    assert picked.dem == other / "error_model.dem" and "picked with --dem" in picked.notes[0]
    # the folder above the experiments holds several of them
    write_google_folder(tmp_path / "d3_at_q4_5" / "Z" / "r03", willow=True)
    with pytest.raises(UsageError) as e:
        read_dataset(tmp_path)
    assert "holds 2 Google experiment folder(s)" in one_line(e) and "d3_at_q4_5/X/r03" in one_line(e)


def test_google_dem_choice(tmp_path):
    exp = tmp_path / "exp"
    write_google_folder(exp)
    for name in ("pij_from_even_for_odd.dem", "pij_from_odd_for_even.dem"):
        shutil.copy(exp / "circuit_detector_error_model.dem", exp / name)
    ds = read_dataset(exp)  # Sycamore's own predictions were made with this one
    assert ds.dem.name == "circuit_detector_error_model.dem" and set(ds.dem_choices) == {
        "circuit_detector_error_model", "pij_from_even_for_odd", "pij_from_odd_for_even"}
    assert "of 3" in ds.notes[0] and "pij_from_even_for_odd" in ds.describe()
    assert read_dataset(exp, dem="pij_from_odd_for_even.dem").dem.name == "pij_from_odd_for_even.dem"
    own = tmp_path / "mine.dem"
    shutil.copy(exp / "circuit_detector_error_model.dem", own)
    assert read_dataset(exp, dem=own).dem == own
    (exp / "circuit_detector_error_model.dem").unlink()
    with pytest.raises(UsageError) as e:
        read_dataset(exp)
    assert "pij_from_even_for_odd, pij_from_odd_for_even" in one_line(e)
    with pytest.raises(UsageError) as e:
        read_dataset(exp, dem="nope")
    assert "--dem nope" in one_line(e) and "pij_from_even_for_odd" in one_line(e)


def test_google_folder_without_a_dem_uses_its_noisy_circuit(tmp_path):
    exp = tmp_path / "exp"
    write_google_folder(exp)
    (exp / "circuit_detector_error_model.dem").unlink()
    ds = read_dataset(exp)
    assert ds.dem is None and ds.circuit.name == "circuit_noisy.stim" and "no DEM shipped" in ds.notes[0]
    (exp / "circuit_noisy.stim").unlink()
    with pytest.raises(UsageError) as e:
        read_dataset(exp)
    assert "Google experiment folder" in one_line(e) and "detector error model" in one_line(e)


@pytest.mark.parametrize("remove, words", [
    ("obs_flips_actual.01", ["Google experiment folder", "lacks obs_flips_actual.01"]),
    ("detection_events.b8", ["Google experiment folder", "lacks detection_events.b8"]),
])
def test_google_folder_missing_shots_is_refused(tmp_path, remove, words):
    write_google_folder(tmp_path / "exp")
    (tmp_path / "exp" / remove).unlink()
    with pytest.raises(UsageError) as e:
        read_dataset(tmp_path / "exp")
    assert all(w in one_line(e) for w in words)


def test_google_properties_disagreeing_with_the_files_are_refused(tmp_path):
    facts = write_google_folder(tmp_path / "exp")
    props = tmp_path / "exp" / "properties.yml"
    props.write_text(props.read_text().replace(f"shots: {facts['shots']}", "shots: 601"))
    with pytest.raises(UsageError) as e:
        read_dataset(tmp_path / "exp")
    assert "holds 600 shots" in one_line(e) and "601" in one_line(e)
    props.write_text("shots: [1, 2\n")
    with pytest.raises(UsageError) as e:
        read_dataset(tmp_path / "exp")
    assert "properties.yml: cannot be read" in one_line(e)


# -- a plain stim folder and folders nobody can read ----------------------------------------


def test_stim_folder(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    shutil.copy(SIMPLE, root / "circuit.stim")
    (root / "samples.dets").symlink_to(BUNDLES["sparse"] / "samples_X.dets")
    ds = read_dataset(root)
    assert (ds.layout, ds.circuit.name, ds.dem, ds.dets.name, ds.dets_format, ds.obs) == \
        ("stim-folder", "circuit.stim", None, "samples.dets", "dets", None)
    assert ds.used == ("circuit.stim", "samples.dets")
    (root / "samples.dets").unlink()
    circ = stim.Circuit.from_file(str(SIMPLE))
    dets, obs = circ.compile_detector_sampler(seed=1).sample(10, separate_observables=True)
    stim.write_shot_data_file(data=dets, path=str(root / "events.b8"), format="b8", num_detectors=120)
    with pytest.raises(UsageError) as e:
        read_dataset(root)
    assert "stim folder" in one_line(e) and "lacks an observables file" in one_line(e)
    stim.write_shot_data_file(data=obs, path=str(root / "obs.01"), format="01", num_observables=1)
    circ.detector_error_model(decompose_errors=True).to_file(str(root / "model.dem"))
    ds = read_dataset(root)
    assert (ds.dem.name, ds.dets.name, ds.obs.name, ds.obs_format) == ("model.dem", "events.b8", "obs.01", "01")
    shutil.copy(root / "model.dem", root / "other.dem")
    with pytest.raises(UsageError) as e:
        read_dataset(root)
    assert "2 detector error models (model.dem, other.dem)" in one_line(e)
    assert read_dataset(root, dem="other.dem").dem.name == "other.dem"
    shutil.copy(SIMPLE, root / "second.stim")
    with pytest.raises(UsageError) as e:
        read_dataset(root)
    assert "2 circuits" in one_line(e)


def test_unknown_folders_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    for path, words in ((tmp_path / "empty", ["not a dataset layout", "Ising bundle", "Google", "stim folder"]),
                        (tmp_path / "junk", ["not a dataset layout"]),
                        (tmp_path / "missing", ["dataset folder not found"]),
                        (tmp_path / "junk" / "notes.txt", ["is a file", "--dataset takes a folder"])):
        with pytest.raises(UsageError) as e:
            read_dataset(path)
        assert all(w in one_line(e) for w in words), one_line(e)
    with pytest.raises(UsageError) as e:
        read_dataset(BUNDLES["sparse"], dem="x.dem")
    assert "does not apply" in one_line(e)


def test_dets_index_is_the_same_when_scanned_in_small_chunks(monkeypatch):
    from verifier.qec import shotdata

    path = BUNDLES["sparse"] / "samples_X.dets"
    whole = read_shots(path, "dets", 120, 1, 100, 50)
    monkeypatch.setattr(shotdata, "_CHUNK", 7)  # lines straddle every chunk boundary
    shotdata._line_starts_cached.cache_clear()
    try:
        assert count_records(path, "dets", 121) == 2_000 and observables_in_dets(path)
        assert all(np.array_equal(a, b) for a, b in zip(read_shots(path, "dets", 120, 1, 100, 50), whole))
    finally:
        shotdata._line_starts_cached.cache_clear()
